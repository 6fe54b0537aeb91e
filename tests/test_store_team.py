"""The run store as a team store: migrations (including a genlab.db made before them), queue claims
across machines, and two GENLAB_HOMEs on one PostgreSQL seeing each other's runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genlab.core.registry import FAMILIES
from genlab.store.migrate import script_head
from genlab.store.records import HEARTBEAT_STALE_S, StoreUnavailable
from genlab.store.runs import RunStore
from genlab.store.schema import HEAD

LEGACY_DUMP = Path(__file__).parent / "data" / "legacy_genlab_db.sql"


def test_schema_head_is_the_newest_migration() -> None:
    assert script_head() == HEAD


def test_a_genlab_db_made_before_migrations_upgrades_in_place_keeping_every_run(home: Path, monkeypatch) -> None:
    monkeypatch.delenv("GENLAB_DB_URL", raising=False)
    con = sqlite3.connect(home / "genlab.db")
    con.executescript(LEGACY_DUMP.read_text())
    old_rows = {
        t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("runs", "metrics", "artifacts", "links", "safety_events", "api_keys", "feedback")
    }
    old_metric_order = con.execute("SELECT run_id, key, step, value FROM metrics ORDER BY rowid").fetchall()
    con.close()

    store = RunStore(home)
    runs = {r.id: r for r in store.list_runs()}
    assert sorted(runs) == ["legacy-run-0", "legacy-run-1", "legacy-run-2"]
    assert runs["legacy-run-0"].status == "completed" and runs["legacy-run-0"].hparams == {"lr": 0.001}
    assert runs["legacy-run-1"].error == "boom" and runs["legacy-run-0"].wandb["id"] == "abc"
    assert store.list_runs(tag="t1")[0].id == "legacy-run-1"
    assert store.metric_series("legacy-run-0", "train/loss") == [(s, 1.0 / (s + 1)) for s in range(5)]
    assert store.links("legacy-run-2")[0]["target_id"] == "legacy-run-0"
    assert store.safety_summary("legacy-run-0")["screened"] == 1
    con = sqlite3.connect(store.db_path)
    assert {
        t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in old_rows
    } == old_rows  # nothing lost, nothing doubled
    # a live view's position survives: metric ids are the old rowids, in the old write order
    assert con.execute("SELECT run_id, key, step, value FROM metrics ORDER BY id").fetchall() == old_metric_order
    assert con.execute("SELECT version_num FROM genlab_store_version").fetchone()[0] == HEAD
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # and it keeps working: new runs and metrics land beside the old ones
    run = store.create_run(FAMILIES["vae"].tiny_config())
    store.log_metrics(run.id, 0, {"x": 1.0})
    assert store.metrics_since(run.id, 0)[1] > max(
        r[0] for r in con.execute("SELECT id FROM metrics WHERE run_id!=?", (run.id,))
    )


def test_an_unreachable_team_database_is_a_clear_error(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_DB_URL", "postgresql+psycopg://genlab:secret@127.0.0.1:1/nowhere")
    with pytest.raises(StoreUnavailable) as err:
        RunStore(home)
    text = str(err.value)
    assert "cannot be reached" in text and "GENLAB_DB_URL" in text and "secret" not in text


def test_a_bad_db_url_is_a_clear_error(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_DB_URL", "mysql://x@y/z")
    with pytest.raises(StoreUnavailable, match="postgresql"):
        RunStore(home)


def test_claims_never_give_one_queued_run_to_two_machines(any_store: RunStore, monkeypatch) -> None:
    store = any_store
    config = FAMILIES["vae"].tiny_config()
    queued = [store.create_run(config).id for _ in range(6)]
    script = textwrap.dedent("""
        import sys
        from genlab.store.runs import RunStore
        s = RunStore(sys.argv[1])
        got = []
        while (r := s.claim_next(100)) is not None:
            got.append(r.id)
        print(" ".join(got))
    """)
    procs = []
    for i in range(3):  # three "machines" claiming at once
        env = dict(os.environ, GENLAB_HOST=f"machine-{i}")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script, str(store.home)], env=env, stdout=subprocess.PIPE, text=True
            )
        )
    claimed = [p.communicate(timeout=120)[0].split() for p in procs]
    flat = [r for c in claimed for r in c]
    assert sorted(flat) == sorted(queued)  # each run claimed exactly once
    hosts = {store.get(r).host for r in flat}
    assert hosts <= {"machine-0", "machine-1", "machine-2"}


def test_a_dead_machine_is_found_by_its_beat_not_a_local_pid(any_store: RunStore, monkeypatch) -> None:
    store = any_store
    run = store.create_run(FAMILIES["vae"].tiny_config())
    monkeypatch.setenv("GENLAB_HOST", "far-away")
    assert store.claim_next(1).id == run.id and store.own(run.id, 12345)
    monkeypatch.setenv("GENLAB_HOST", "here")
    assert store.reap_dead() == []  # a live beat: another machine's pid is never checked here
    store.update(run.id, heartbeat=time.time() - 10, worker_beat=time.time() - HEARTBEAT_STALE_S - 5)
    assert store.reap_dead() == []  # a recent batch beat is enough
    stale = time.time() - HEARTBEAT_STALE_S - 5
    store.update(run.id, heartbeat=stale, worker_beat=stale)
    assert store.reap_dead() == [run.id]
    assert store.get(run.id).status == "interrupted"


def test_two_homes_on_one_postgresql_see_each_others_runs(pg_url: str, tmp_path: Path, shared_cache: Path) -> None:
    """Two machines (two GENLAB_HOMEs, separate processes) share one database and one artifact root:
    each sees the other's runs and metrics, cancels reach the other's worker, and each run names its host."""
    shared = tmp_path / "shared_runs"
    homes = []
    for name in ("a", "b"):
        h = tmp_path / name
        h.mkdir()
        (h / "cache").symlink_to(shared_cache, target_is_directory=True)
        homes.append(h)
    worker = textwrap.dedent("""
        import sys, time
        from genlab.core.registry import FAMILIES
        from genlab.store.runs import RunStore
        s = RunStore()
        run = s.create_run(FAMILIES["vae"].tiny_config().model_copy(update={"name": sys.argv[1]}), status="running")
        assert s.own(run.id, 999)
        step = 0
        while True:  # a trainer: log and beat until a cancel (from the other machine) arrives
            s.log_metrics(run.id, step, {"train/loss": 1.0 / (step + 1)})
            owned, cancel = s.beat(run.id, 999, step=step)
            if cancel:
                s.transition(run.id, ("running",), "cancelled", pid=999)
                print(run.id, step, flush=True)
                break
            if step == 3:
                print("ready", run.id, flush=True)
            step += 1
            time.sleep(0.05)
    """)
    procs = []
    for h, name in zip(homes, ("from-a", "from-b"), strict=True):
        env = dict(os.environ, GENLAB_HOME=str(h), GENLAB_ARTIFACT_ROOT=str(shared), GENLAB_HOST=f"host-{h.name}")
        procs.append(subprocess.Popen([sys.executable, "-c", worker, name], env=env, stdout=subprocess.PIPE, text=True))
    ids = []
    for p in procs:
        line = p.stdout.readline().split()
        assert line[0] == "ready", line
        ids.append(line[1])
    # machine a's view (its own home) sees both runs and cancels b's run
    os.environ["GENLAB_HOST"] = "host-a"
    try:
        store_a = RunStore(homes[0], artifact_root=shared)
        listed = {r.name: r for r in store_a.list_runs()}
        assert set(listed) == {"from-a", "from-b"}
        assert listed["from-b"].host == "host-b" and listed["from-b"].origin == "host-b"
        assert store_a.metric_series(ids[1], "train/loss")[:2] == [(0, 1.0), (1, 0.5)]
        assert (store_a.get(ids[1]).folder / "config.yaml").exists()  # the shared artifact root
        assert store_a.request_cancel(ids[1]) and store_a.request_cancel(ids[0])
        for p in procs:
            rid, last = p.stdout.readline().split()
            assert p.wait(timeout=60) == 0
            steps = [s for s, _ in store_a.metric_series(rid, "train/loss")]
            assert steps == list(range(int(last) + 1))  # every step, none twice
        assert {store_a.get(i).status for i in ids} == {"cancelled"}
        store_b = RunStore(homes[1], artifact_root=shared)
        assert {r.id for r in store_b.list_runs()} == set(ids)
    finally:
        del os.environ["GENLAB_HOST"]
