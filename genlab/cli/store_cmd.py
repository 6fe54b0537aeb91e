"""`genlab store`: where the run store lives, and moving it to a team's PostgreSQL (ids kept)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genlab.store.copy import copy_store
from genlab.store.engine import DB_URL_ENV, safe_url
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="the run store: where it is, and copying it to a team database")
    s = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    q = s.add_parser("where", help="print which database and artifact root this machine uses")
    q.set_defaults(handler=_where)
    q = s.add_parser(
        "migrate",
        help="copy this store (runs, metrics, artifacts, links, audit, feedback; every id kept) into another "
        "database, e.g. a team's PostgreSQL",
        description="Copies every row of the current store (GENLAB_HOME's SQLite file, or --from) into an empty "
        "database given by --to. Afterwards point every machine at it with GENLAB_DB_URL.",
    )
    q.add_argument("--to", required=True, help="the target, e.g. postgresql+psycopg://user:password@host/genlab")
    q.add_argument("--from", dest="source", default=None, help=f"the source URL (default: {DB_URL_ENV} or SQLite)")
    q.add_argument(
        "--files-to",
        default=None,
        help="also copy each run's folder (checkpoints, samples) into this shared artifact root",
    )
    q.set_defaults(handler=_migrate)


def _where(args: argparse.Namespace) -> int:
    store = RunStore()
    print(f"database      {store.describe()}")
    print(f"artifact root {store.runs_dir}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    source = RunStore(db_url=args.source)
    target = RunStore(db_url=args.to, artifact_root=args.files_to)
    print(f"copying {source.describe()} -> {target.describe()}", flush=True)
    report = copy_store(
        source,
        target,
        files_to=Path(args.files_to) if args.files_to else None,
        progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True),
    )
    print(f"copied {report.describe()}")
    print(f"next: export {DB_URL_ENV}='{safe_url(args.to)}' on every machine (with the real password)")
    if args.files_to:
        print(
            f"      export GENLAB_ARTIFACT_ROOT={Path(args.files_to).resolve()} (mounted at the same path everywhere)"
        )
    source.close()
    target.close()
    return 0
