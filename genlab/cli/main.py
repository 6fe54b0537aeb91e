"""Run the CLI: user errors print one clear message (no traceback) and exit 2.

Besides GenLab's own errors, a home folder that cannot be created or written, or a full disk, are user
errors too: they get a sentence saying what to change, not an OSError traceback.
"""

from __future__ import annotations

import errno
import sys

from genlab.cli import build_parser
from genlab.core.errors import GenLabError
from genlab.store.records import RunNotFound


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (GenLabError, RunNotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno == errno.ENOSPC:
            print(
                "error: the disk is full: free some space (delete old runs or checkpoints) and try again",
                file=sys.stderr,
            )
            return 2
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            name = getattr(err, "filename", None)
            where = f" ({name})" if name else ""
            print(
                f"error: permission denied{where}: GenLab cannot write there. Set GENLAB_HOME to a folder you can "
                "write to, e.g. GENLAB_HOME=~/genlab_home",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        return 130
