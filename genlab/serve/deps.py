"""What every route shares: the server's state, the caller (checked by guard.AuthFirst), the model lookup.

A served run with a retraining schedule answers with its champion (genlab/runner/retrain_schedule.py): the
lookup glances at the schedule file's stamp (at most once a second per run) and, when a promotion changed
it, loads the new champion in the background and swaps it in without a restart; requests in flight finish
on the model they started with."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from genlab.core.registry import get_family
from genlab.runner.retrain_schedule import champion, schedule_stamp
from genlab.safety.gate import Gate, policy_of
from genlab.serve.guard import MISSING, caller
from genlab.serve.model_pool import ServedModel, load_served
from genlab.serve.rate_limit import RateLimiter
from genlab.serve.schemas import Problem
from genlab.store.runs import RunStore
from genlab.use.batching import DEFAULT_MAX_BATCH

log = logging.getLogger("genlab.serve")
DEFAULT_RATE_PER_MINUTE = 120
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (400, 401, 404, 413, 429, 503)}
FOLLOW_EVERY_S = 1.0  # how often a request may look for a promotion of the run it calls


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
    stamps: dict[str, int | None] = field(default_factory=dict)  # each run's schedule stamp when last followed
    looked: dict[str, float] = field(default_factory=dict)
    switching: set[str] = field(default_factory=set)
    follow_lock: threading.Lock = field(default_factory=threading.Lock)

    def load_all(self) -> None:
        for run_id in self.run_ids:
            try:
                self.stamps[run_id] = schedule_stamp(self.store, run_id)
                target = champion(self.store, run_id)
                self.models[run_id] = load_served(self.store, target, self.max_batch, name=run_id)
                served = self.models[run_id]
                if get_family(served.run.family).kind == "text":  # its screen built now, not at the 1st request
                    Gate(policy_of(served.module)).screener  # noqa: B018
            except Exception as err:  # a broken checkpoint must not take the other models down
                self.failed[run_id] = f"{type(err).__name__}: {err}"
                log.error("could not load run %s: %s", run_id, self.failed[run_id])
        self.ready.set()

    def follow(self, run_id: str) -> None:
        """Start switching `run_id` to its champion when its schedule changed since the last look."""
        now = time.monotonic()
        with self.follow_lock:
            if run_id in self.switching or now - self.looked.get(run_id, -FOLLOW_EVERY_S) < FOLLOW_EVERY_S:
                return
            self.looked[run_id] = now
            stamp = schedule_stamp(self.store, run_id)
            if stamp == self.stamps.get(run_id):
                return
            self.switching.add(run_id)
        threading.Thread(target=self._switch, args=(run_id, stamp), name="genlab-champion", daemon=True).start()

    def _switch(self, run_id: str, stamp: int | None) -> None:
        try:
            old = self.models.get(run_id)
            target = champion(self.store, run_id)
            if old is not None and target != old.run.id:
                self.models[run_id] = load_served(self.store, target, self.max_batch, name=run_id)
                log.info("run %s now answers with its champion %s (was %s)", run_id, target, old.run.id)
                if old.decoder is not None:
                    old.decoder.retire()
        except Exception as err:  # noqa: BLE001 - a champion that cannot load: keep serving the one we have
            log.error("could not switch run %s to its champion: %s: %s", run_id, type(err).__name__, err)
        finally:
            with self.follow_lock:
                self.stamps[run_id] = stamp  # tried once per change: a broken champion is not reloaded each second
                self.switching.discard(run_id)


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
    st.follow(run_id)
    return model


def needs(model: ServedModel, capability: str, what: str) -> None:
    if not model.can(capability):
        raise HTTPException(400, f"Run {model.run.id} is a {model.run.family} run, which cannot {what}")
