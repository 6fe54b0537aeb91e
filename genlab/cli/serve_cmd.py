"""`serve`: put finished runs behind a REST API; `serve keys add|list|revoke` manages its API keys."""

from __future__ import annotations

import argparse
import json

from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve finished runs over HTTP (REST API with OpenAPI docs)",
        description="Serve one or more completed runs, each under /runs/RUN_ID/ (docs at /docs). Without API keys "
        "the server binds to 127.0.0.1 only. Manage keys with: serve keys add|list|revoke.",
    )
    p.add_argument("--run", action="append", dest="runs", metavar="RUN_ID", help="a run to serve (repeat for more)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--rate-limit", type=int, default=120, help="requests a minute per API key (0: no limit)")
    p.add_argument(
        "--batch",
        type=int,
        default=16,
        help="requests one text model decodes together (dynamic batching; 0: one at a time). Default 16",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (default: 1 when every served run is a text model, where a second thread "
        "only spins; else torch's default)",
    )
    p.set_defaults(handler=_serve)
    keys = p.add_subparsers(dest="serve_command", metavar="keys")
    k = keys.add_parser("keys", help="create, list or revoke API keys").add_subparsers(
        dest="keys_command", required=True
    )
    add = k.add_parser("add", help="create a key (shown once)")
    add.add_argument("name", help="what the key is for, e.g. 'mobile app'")
    add.set_defaults(handler=_add)
    ls = k.add_parser("list", help="list keys (never the keys themselves)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(handler=_list)
    rv = k.add_parser("revoke", help="revoke a key by its id")
    rv.add_argument("key_id", help="the id shown by: serve keys list")
    rv.set_defaults(handler=_revoke)


def _serve(args: argparse.Namespace) -> int:
    from genlab.core.errors import GenLabError
    from genlab.serve import run_server

    if not args.runs:
        raise GenLabError("Name the runs to serve: python -m genlab serve --run RUN_ID [--run RUN_ID2 ...]")
    if not 1 <= args.port <= 65535:
        raise GenLabError(f"--port must be 1..65535, got {args.port}")
    if not 0 <= args.batch <= 256:
        raise GenLabError(f"--batch must be 0..256, got {args.batch}")
    if not 0 <= args.threads <= 1024:
        raise GenLabError(f"--threads must be 0..1024 (0: automatic), got {args.threads}")
    run_server(
        args.runs,
        host=args.host,
        port=args.port,
        rate_per_minute=args.rate_limit,
        max_batch=args.batch,
        threads=args.threads or None,
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    from genlab.store.api_keys import create_key

    key, secret = create_key(RunStore(), args.name)
    print(f"Created key {key.id} ({key.name}). It is shown only now; store it safely:\n{secret}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from genlab.store.api_keys import list_keys

    keys = list_keys(RunStore())
    if args.json:
        print(json.dumps([k.to_dict() for k in keys], indent=2))
    elif not keys:
        print("No API keys. Create one with: python -m genlab serve keys add NAME")
    for k in keys if not args.json else []:
        print(f"{k.id}  {'active ' if k.active else 'revoked'}  {k.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from genlab.store.api_keys import revoke_key

    key = revoke_key(RunStore(), args.key_id)
    print(f"Revoked key {key.id} ({key.name})")
    return 0
