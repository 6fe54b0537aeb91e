"""Run the CLI: user errors print one clear message (no traceback) and exit 2."""

from __future__ import annotations

import sys

from genlab.cli import build_parser
from genlab.errors import GenLabError
from genlab.runs import RunNotFound


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (GenLabError, RunNotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
