"""Test helpers: poll a condition with a deadline (synchronisation on observable state, never a fixed sleep),
and a finished tiny run of a family to use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from genlab.runner.train import fit_module

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 120.0, interval: float = 0.1, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def train_tiny(store: Any, family: Any, config: Any = None) -> tuple[str, Any]:
    """Fit `family`'s tiny config (or `config`) in this process into `store`; (run id, trained module)."""
    run = store.create_run(config or family.tiny_config(), status="running", monitor=family.monitor)
    status, module = fit_module(store, run.id)
    store.set_status(run.id, status)
    return run.id, module
