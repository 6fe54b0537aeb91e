"""`runs list`'s quick read (the database's own driver, no SQLAlchemy) says what the run store says, on both
backends, and steps aside wherever the job queue has work to do first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from genlab.core.registry import FAMILIES
from genlab.store import quick_list
from genlab.store.runs import RunStore

ROOT = Path(__file__).resolve().parent.parent
FILTERS = [
    {},
    {"status": "failed"},
    {"status": ["completed", "failed"]},
    {"family": "vae"},
    {"family": "dcgan"},
    {"search": "ALPHA"},  # case-insensitive, in names
    {"search": "keep"},  # in tags
    {"search": "no such text"},
    {"sweep_id": "sw1"},
    {"limit": 2},
]


def _filled(store: RunStore) -> list[str]:
    cfg = FAMILIES["vae"].tiny_config()
    a = store.create_run(cfg.model_copy(update={"name": "alpha", "tags": ["keep"]}))
    b = store.create_run(cfg.model_copy(update={"name": "beta"}), sweep_id="sw1", trial_id=0)
    c = store.create_run(cfg.model_copy(update={"name": "gamma"}))
    store.log_metrics(a.id, 1, {"train/loss": 2.0, "val/loss": 3.0})
    store.log_metrics(a.id, 5, {"train/loss": 1.5})
    store.log_metrics(c.id, 2, {"train/loss": 9.0})
    store.set_status(a.id, "completed")
    store.set_status(b.id, "failed", error="boom")
    store.set_status(c.id, "cancelled")
    return [a.id, b.id, c.id]


def test_the_quick_read_lists_what_the_store_lists(any_store: RunStore) -> None:
    store = any_store
    _filled(store)
    for filters in FILTERS:
        quick = quick_list.read_runs(store.home, **filters)
        assert quick is not None, filters
        runs, latest = quick
        expected = store.list_runs(**filters)
        assert [r.to_dict() for r in runs] == [r.to_dict() for r in expected], filters
        assert latest == store.last_metrics([r.id for r in expected]), filters
    runs, latest = quick_list.read_runs(store.home)
    alpha = next(r for r in runs if r.name == "alpha")
    assert latest[alpha.id] == {"train/loss": 1.5, "val/loss": 3.0} and alpha.tags == ["keep"]


def test_the_quick_read_steps_aside_where_the_queue_has_work(any_store: RunStore) -> None:
    store = any_store
    a, _, _ = _filled(store)
    assert quick_list.read_runs(store.home) is not None
    queued = store.create_run(FAMILIES["vae"].tiny_config())  # created queued: the queue would launch it
    assert store.get(queued.id).status == "queued"
    assert quick_list.read_runs(store.home) is None
    store.set_status(queued.id, "running")
    store.update(queued.id, pid=2**22 + 7, host=os.uname().nodename, heartbeat=1.0)  # its worker is gone
    assert quick_list.read_runs(store.home) is None
    store.update(queued.id, pid=os.getpid(), heartbeat=time.time())  # a live worker here, beating just now
    assert quick_list.read_runs(store.home) is not None
    (store.run_folder(a) / "retrain.json").write_text("{}")  # a retraining schedule to check
    assert quick_list.read_runs(store.home) is None


def test_no_store_yet_or_an_older_schema_takes_the_full_path(home: Path, monkeypatch) -> None:
    monkeypatch.delenv("GENLAB_DB_URL", raising=False)
    assert quick_list.read_runs(home) is None  # no genlab.db: RunStore creates it
    store = RunStore(home)
    with store.db.write() as con:
        con.exec_driver_sql("UPDATE genlab_store_version SET version_num = '0002'")
    assert quick_list.read_runs(home) is None  # RunStore would migrate it first


def test_runs_list_reads_without_sqlalchemy_where_nothing_is_to_be_done(any_store: RunStore) -> None:
    """The tracker's most used command, on a store whose queue has nothing to do, imports neither the
    families nor SQLAlchemy; its table is the full path's table (the same command on a queued store)."""
    store = any_store
    _filled(store)
    code = (
        "import sys; from genlab.cli.main import main; rc = main(['runs', 'list']); "
        "print([m for m in ('sqlalchemy', 'genlab.core.registry', 'pydantic', 'torch') if m in sys.modules]); "
        "sys.exit(rc)"
    )
    env = {k: v for k, v in os.environ.items() if k in ("GENLAB_DB_URL", "PATH", "HOME")}
    env["GENLAB_HOME"] = str(store.home)

    def run() -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()

    quick = run()
    assert quick[-1] == "[]"
    assert quick[0].split()[:3] == ["ID", "FAMILY", "STATUS"] and len(quick[1:-1]) == 3
    assert {ln.split()[0] for ln in quick[1:-1]} == {r.id for r in store.list_runs()}
    dead = store.create_run(FAMILIES["vae"].tiny_config())
    store.set_status(dead.id, "running")
    store.update(dead.id, pid=2**22 + 7, host=os.uname().nodename, heartbeat=1.0)  # its worker is gone
    full = run()
    assert "sqlalchemy" in full[-1]  # the queue had a dead worker to reap: the full path did it
    assert any(ln.startswith(dead.id) and "interrupted" in ln for ln in full)
