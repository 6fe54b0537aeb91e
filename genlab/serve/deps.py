"""What every route shares: the server's state, the key check with the rate limit, the model lookup."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from genlab.serve.model_pool import ServedModel, load_served
from genlab.serve.rate_limit import RateLimiter
from genlab.serve.schemas import Problem
from genlab.store.api_keys import verify_key
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
    """The caller's key id (or 'local' when the server runs without keys), after the rate limit."""
    st = state_of(request)
    who = "local"
    if st.require_keys:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        if not secret:
            raise HTTPException(
                401,
                "An API key is required: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = verify_key(st.store, secret)
        if key is None:
            raise HTTPException(401, "This API key is not valid or was revoked", headers={"WWW-Authenticate": "Bearer"})
        who = key.id
    wait = st.limiter.allow(who)
    if wait > 0:
        raise HTTPException(
            429,
            f"Rate limit of {st.limiter.per_minute} requests a minute reached; retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return who


def served(run_id: str, request: Request) -> ServedModel:
    st = state_of(request)
    if run_id not in st.run_ids:
        raise HTTPException(404, f"Run {run_id!r} is not served here; served runs: {', '.join(st.run_ids)}")
    if run_id in st.failed:
        raise HTTPException(503, f"Run {run_id} could not be loaded: {st.failed[run_id]}")
    model = st.models.get(run_id)
    if model is None:
        raise HTTPException(503, "The models are still loading; poll /ready", headers={"Retry-After": "2"})
    return model


def needs(model: ServedModel, capability: str, what: str) -> None:
    if not model.can(capability):
        raise HTTPException(400, f"Run {model.run.id} is a {model.run.family} run, which cannot {what}")
