"""The run store under concurrency and crashes: parallel writers lose nothing, a killed writer corrupts nothing."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore


def _writer(home: str, run_id: str, n: int) -> None:
    store = RunStore(home)
    for step in range(n):
        store.log_metrics(run_id, step, {"train/loss": float(step), "train/aux": 1.0}, epoch=0)
        store.heartbeat(run_id, step=step)


def test_parallel_writers_lose_no_metric(any_store: RunStore) -> None:
    store = any_store
    config = FAMILIES["vae"].tiny_config()
    runs = [store.create_run(config) for _ in range(4)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(store.home), r.id, 150)) for r in runs]
    for p in procs:
        p.start()
    # Read while they write: readers must never block or fail.
    while any(p.is_alive() for p in procs):
        store.list_runs()
        store.last_metrics([r.id for r in runs])
    for p in procs:
        p.join()
        assert p.exitcode == 0
    for r in runs:
        series = store.metric_series(r.id, "train/loss")
        assert [s for s, _ in series] == list(range(150))
        assert store.get(r.id).step == 149


def test_killed_writer_leaves_a_consistent_store(store: RunStore) -> None:
    run = store.create_run(FAMILIES["vae"].tiny_config())
    script = textwrap.dedent(f"""
        from genlab.store.runs import RunStore
        s = RunStore({str(store.home)!r})
        step = 0
        while True:
            s.log_metrics({run.id!r}, step, {{"k": float(step)}})
            step += 1
            if step == 50:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(store.db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    steps = [s for s, _ in store.metric_series(run.id, "k")]
    assert steps == list(range(len(steps))) and len(steps) >= 50  # a prefix: nothing lost before the kill


def test_filters_and_search(any_store: RunStore) -> None:
    store = any_store
    cfg = FAMILIES["vae"].tiny_config()
    a = store.create_run(cfg.model_copy(update={"name": "alpha", "tags": ["keep"]}))
    b = store.create_run(cfg.model_copy(update={"name": "beta"}))
    store.set_status(b.id, "failed", error="boom")
    assert [r.id for r in store.list_runs(search="alpha")] == [a.id]
    assert [r.id for r in store.list_runs(status="failed")] == [b.id]
    assert [r.id for r in store.list_runs(tag="keep")] == [a.id]
    assert store.get(b.id).error == "boom" and store.get(b.id).ended_at is not None


def test_delete_removes_rows_and_folder(any_store: RunStore) -> None:
    store = any_store
    run = store.create_run(FAMILIES["vae"].tiny_config())
    store.log_metrics(run.id, 1, {"x": 1.0})
    store.set_status(run.id, "completed")
    store.delete(run.id)
    assert not store.exists(run.id) and not run.folder.exists() and store.metrics(run.id) == []


def test_truncate_after_drops_later_steps_only(any_store: RunStore) -> None:
    store = any_store
    run = store.create_run(FAMILIES["vae"].tiny_config())
    for step in range(10):
        store.log_metrics(run.id, step, {"x": float(step)})
    store.truncate_after(run.id, 5)
    assert [s for s, _ in store.metric_series(run.id, "x")] == list(range(6))
