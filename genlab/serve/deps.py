"""What every route shares: the server's state, the caller (checked by guard.AuthFirst), the model lookup."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from genlab.serve.guard import MISSING, caller
from genlab.serve.model_pool import ServedModel, load_served
from genlab.serve.rate_limit import RateLimiter
from genlab.serve.schemas import Problem
from genlab.store.runs import RunStore
from genlab.use.batching import DEFAULT_MAX_BATCH

log = logging.getLogger("genlab.serve")
DEFAULT_RATE_PER_MINUTE = 120
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (400, 401, 404, 413, 429, 503)}


@dataclass
class ServerState:
    store: RunStore
    run_ids: list[str]
    require_keys: bool
    limiter: RateLimiter
    models: dict[str, ServedModel] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    max_batch: int = DEFAULT_MAX_BATCH

    def load_all(self) -> None:
        for run_id in self.run_ids:
            try:
                self.models[run_id] = load_served(self.store, run_id, self.max_batch)
            except Exception as err:  # a broken checkpoint must not take the other models down
                self.failed[run_id] = f"{type(err).__name__}: {err}"
                log.error("could not load run %s: %s", run_id, self.failed[run_id])
        self.ready.set()


def state_of(request: Request) -> ServerState:
    return request.app.state.server


def authorize(request: Request) -> str:
    """The caller's key id ('local' without keys). The check itself happens before any route, in
    genlab/serve/guard.py (AuthFirst); this only reads what it decided, for routes that want the id."""
    who = caller(request)
    if state_of(request).require_keys and who in ("anonymous", "local"):
        raise HTTPException(401, MISSING, headers={"WWW-Authenticate": "Bearer"})
    return who


def served(run_id: str, request: Request) -> ServedModel:
    st = state_of(request)
    if run_id not in st.run_ids:
        raise HTTPException(404, f"Run {run_id!r} is not served here; served runs: {', '.join(st.run_ids)}")
    if run_id in st.failed:
        reason = st.failed[run_id].splitlines()[0] if st.failed[run_id] else "unknown error"
        raise HTTPException(503, f"Run {run_id} could not be loaded: {reason}")
    model = st.models.get(run_id)
    if model is None:
        raise HTTPException(503, "The models are still loading; poll /ready", headers={"Retry-After": "2"})
    return model


def needs(model: ServedModel, capability: str, what: str) -> None:
    if not model.can(capability):
        raise HTTPException(400, f"Run {model.run.id} is a {model.run.family} run, which cannot {what}")
