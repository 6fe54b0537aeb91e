"""A W&B key belongs to a person: it reaches only the workers of that person's runs, through their
environment, and is never written to the run store, a config, a log or the server's environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.runner import jobs
from genlab.store.runs import RunStore
from tests.helpers import wait_for
from tests.test_jobs import long_config

ROOT = Path(__file__).resolve().parents[1]
KEY_A = "a1" * 20
KEY_C = "c3" * 20
SERVER_KEY = "s5" * 20

pytestmark = pytest.mark.timeout(420)


def _worker_env(store: RunStore, run_id: str) -> dict[str, str]:
    """The environment of the run's live worker process, as the kernel reports it."""
    pid = wait_for(lambda: store.get(run_id).pid, timeout=120, what=f"a worker for {run_id}")
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


@pytest.fixture(autouse=True)
def _stop_workers(store: RunStore):
    """Whatever happens in a test, no worker it started outlives it."""
    yield
    for run in store.list_runs(status=("queued", "running")):
        if run.status == "queued":
            store.set_status(run.id, "cancelled")
        elif run.pid:
            try:
                os.kill(run.pid, signal.SIGTERM)  # the worker saves a checkpoint and stops
            except ProcessLookupError:
                pass
    for run in store.list_runs(status="running"):
        jobs.wait(run.id, store, timeout=120)


def _nothing_on_disk_holds(home: Path, *keys: str) -> None:
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink() and "cache" not in path.relative_to(home).parts[:1]:
            data = path.read_bytes()
            for key in keys:
                assert key.encode() not in data, f"{key[:4]}… found in {path}"


def test_a_key_reaches_only_its_own_runs_worker_even_when_another_users_worker_starts_the_next_run(
    store: RunStore, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    monkeypatch.setenv("WANDB_API_KEY", SERVER_KEY)  # the server's own key must not leak into any worker
    a = jobs.start(long_config(steps=5000, every=4000), store, secrets={"WANDB_API_KEY": KEY_A})
    env_a = _worker_env(store, a.id)
    assert env_a.get("WANDB_API_KEY") == KEY_A

    b = jobs.start(long_config(steps=5000, every=4000), store)  # another user, no key: queued behind A
    c = jobs.start(long_config(steps=5000, every=4000), store, secrets={"WANDB_API_KEY": KEY_C})
    assert store.get(b.id).status == "queued" and store.get(c.id).status == "queued"
    _nothing_on_disk_holds(home, KEY_A, KEY_C, SERVER_KEY)

    # A's worker (holding KEY_A in its environment) starts B when A ends: B must not inherit KEY_A.
    jobs.cancel(a.id, store)
    wait_for(lambda: store.get(b.id).status == "running", timeout=300, what="A's worker to start B")
    env_b = _worker_env(store, b.id)
    assert "WANDB_API_KEY" not in env_b

    # C's key lives in this process only: any other process that schedules (a worker ending, another
    # app or CLI) must leave C for this process, even with free slots.
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from genlab.runner import jobs; from genlab.store.runs import RunStore; print(jobs.schedule(RunStore()))",
        ],
        env={**os.environ, "GENLAB_MAX_JOBS": "3", "GENLAB_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 0, other.stderr
    assert c.id not in other.stdout and store.get(c.id).status == "queued"
    monkeypatch.setenv("GENLAB_MAX_JOBS", "3")
    assert c.id in jobs.schedule(store)
    env_c = _worker_env(store, c.id)
    assert env_c.get("WANDB_API_KEY") == KEY_C
    _nothing_on_disk_holds(home, KEY_A, KEY_C, SERVER_KEY)


def test_a_run_whose_key_holder_is_gone_starts_without_any_key(store: RunStore, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    monkeypatch.setenv("WANDB_API_KEY", SERVER_KEY)
    held_elsewhere = store.create_run(long_config(steps=5), secret_holder="another-host:4242:1")
    orphan = store.create_run(
        long_config(steps=5000, every=4000), secret_holder=f"{socket.gethostname()}:999999999:1"
    )  # its holder process (an app that restarted) no longer exists
    assert jobs.schedule(store) == [orphan.id]  # the run held on another host waits for its holder
    assert "WANDB_API_KEY" not in _worker_env(store, orphan.id)
    assert store.get(held_elsewhere.id).status == "queued"
    jobs.cancel(orphan.id, store)
    assert jobs.wait(orphan.id, store, timeout=180).status in ("cancelled", "completed")
