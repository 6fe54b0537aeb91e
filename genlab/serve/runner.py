"""Start uvicorn for a set of runs. Without an API key the server would be open to anyone who reaches
it, so it then binds to loopback only and says so."""

from __future__ import annotations

import logging
import sys

import torch
import uvicorn

from genlab.core.exposure import LOOPBACK, SERVE_FIX, is_loopback, open_door_message
from genlab.core.registry import get_family
from genlab.serve.app import create_app
from genlab.serve.deps import DEFAULT_RATE_PER_MINUTE
from genlab.store.api_keys import has_active_keys
from genlab.store.runs import RunStore
from genlab.use.batching import DEFAULT_MAX_BATCH


def bind_host(host: str, keys: bool) -> tuple[str, str | None]:
    """(the host to bind, a notice for the user or None)."""
    if keys or is_loopback(host):
        return host, None
    return LOOPBACK, (
        f"No API key exists, so the server binds to {LOOPBACK} only (asked for {host}). "
        + open_door_message("The REST server", host, SERVE_FIX)
    )


def serving_threads(store: RunStore, run_ids: list[str]) -> int | None:
    """torch's CPU threads for a server of these runs: 1 when they are all text models, else torch's default.

    Decoding one token is too small to split across cores (a tiny GPT's step is overhead, SmolLM2's is
    memory-bound): a second thread sped neither up and only spun, taking the core that the server's own
    Python work and the clients need (docs/BENCHMARKS.md, "Batched decoding ... idle machine"). Image
    models (a diffusion sample, a GAN batch) are compute-bound and keep every core.
    """
    if torch.cuda.is_available():
        return None
    families = {store.get(r).family for r in run_ids}
    return 1 if families and all(get_family(f).kind == "text" for f in families) else None


class NoQueryStrings(logging.Filter):
    """Drops the query string from uvicorn's access lines (a key sent in the URL is refused, and must
    not be written down either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


def quiet_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryStrings) for f in logger.filters):
        logger.addFilter(NoQueryStrings())


def run_server(
    run_ids: list[str],
    *,
    host: str = LOOPBACK,
    port: int = 8000,
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
    store: RunStore | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    threads: int | None = None,
) -> None:
    store = store or RunStore()
    threads = threads or serving_threads(store, run_ids)
    if threads:
        torch.set_num_threads(threads)
    keys = has_active_keys(store)
    app = create_app(run_ids, store, require_keys=keys, rate_per_minute=rate_per_minute, max_batch=max_batch)
    host, notice = bind_host(host, keys)
    if notice:
        print(notice, file=sys.stderr, flush=True)
    auth = "API key required" if keys else "no API key required (loopback only)"
    print(f"Serving {', '.join(run_ids)} at http://{host}:{port} ({auth}); docs at /docs", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=True)  # sets up logging
    quiet_access_log()
    uvicorn.Server(config).run()
