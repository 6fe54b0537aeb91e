"""Fixtures for the Streamlit pages: AppTest on ui/app.py against the real engine and run store.

`recorded_run` writes a run through the real RunStore API (config, metrics, PNG sample grids, status), the
way a worker's callbacks do, so page tests stay fast; `trained_run` really trains a tiny VAE (slow).
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
TIMEOUT = 90  # seconds per script run: the machine is shared and small


@pytest.fixture
def app(home: Path):
    """A factory: open a page of the app (as a fresh browser session) with optional query params."""
    from streamlit.testing.v1 import AppTest

    def open_page(page: str, **query: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params.update(query)
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def record_run(
    store,
    *,
    name: str,
    lr: float = 2e-3,
    status: str = "completed",
    steps: int = 20,
    sample_steps: tuple[int, ...] = (10, 20),
    tags: tuple[str, ...] = (),
    seed: int = 0,
) -> Any:
    """A run as a worker leaves it: config.yaml, metrics every step, sample grids, final status."""
    from genlab.core.registry import FAMILIES

    family = FAMILIES["vae"]
    config = family.tiny_config().model_copy(update={"name": name, "tags": list(tags)})
    config.optim = config.optim.model_copy(update={"lr": lr})
    run = store.create_run(config, monitor=family.monitor)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        loss = 500.0 * math.exp(-step * lr * 20) + rng.normal(0, 5)
        store.log_metrics(run.id, step, {"train/loss": loss, "train/kl": 3.0 + 0.01 * step}, epoch=0)
        if step % 5 == 0:
            store.log_metrics(run.id, step, {"val/loss": loss + 10, "val/recon": loss}, epoch=0)
    for step in sample_steps:
        grid = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        path = run.folder / "samples" / f"prior-step{step}.png"
        Image.fromarray(grid).save(path)
        store.add_artifact(run.id, "samples", path, name="prior", step=step)
    log = run.folder / "logs" / "worker.log"
    log.write_text("".join(f"step {i} loss {500 - i}\n" for i in range(steps)), encoding="utf-8")
    store.add_artifact(run.id, "log", log, name="worker")
    now = time.time()
    fields: dict[str, Any] = {"status": status, "step": steps, "total_steps": steps, "started_at": now - 60, "epoch": 1}
    if status not in ("running", "queued"):
        fields["ended_at"] = now
        fields["best_value"] = float(store.metric_series(run.id, "val/loss")[-1][1])
    else:
        fields.update(step=steps // 2, eta_s=30.0, heartbeat=now)
    store.update(run.id, **fields)
    return store.get(run.id)


@pytest.fixture
def recorded(store):
    return lambda **kw: record_run(store, **kw)


def train_in_process(store, config) -> Any:
    """Really train a run through the worker entry point, in this process (no worker start-up cost)."""
    from genlab.core.registry import get_family
    from genlab.runner import jobs

    run = store.create_run(config, monitor=get_family(config.family).monitor)
    store.claim_next(1)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        jobs.run_worker(run.id, store)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return store.get(run.id)


@pytest.fixture
def trained_run(store):
    """A tiny VAE trained for real (about 10-40 s on a shared 2-core CPU)."""
    from genlab.core.registry import FAMILIES

    run = train_in_process(store, FAMILIES["vae"].tiny_config().model_copy(update={"name": "tiny-vae"}))
    assert run.status == "completed", run.error
    return run


def open_tab(at, name: str):
    """Open one tab of the Run page (its tabs run lazily: only the open one draws), as a click would."""
    at.session_state["run.tabs"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
