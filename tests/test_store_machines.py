"""The team store across machines and at scale: a silent worker on one home is reaped on another and its
run resumes; a store's revision never mixes with Optuna's in a shared database; a long run's charts come
reduced from the database; large metric batches (PostgreSQL's COPY path) replace a step logged twice.
Every test here runs on both backends (SQLite: two homes on one file; PostgreSQL: one schema)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.store import live
from genlab.store.live import MetricsFollower
from genlab.store.runs import RunStore
from genlab.store.schema import HEAD
from tests.helpers import wait_for


def _team_url(backend: str, pg_url: str | None, home: Path) -> str:
    """The database both homes use: the PostgreSQL schema, or one SQLite file (two homes, one machine)."""
    return pg_url if backend == "postgresql" else f"sqlite:///{home / 'team.db'}"


def test_a_silent_worker_on_one_home_is_reaped_on_another_and_its_run_resumes(
    backend: str, tmp_path: Path, monkeypatch
) -> None:
    """Machine a's worker claims a run, trains and beats, then its machine dies (kill -9: no beat again).
    Machine b, on the same database and artifact root, leaves the run alone while the beat is fresh,
    marks it interrupted once the beat is stale, and resumes it from the checkpoint a left."""
    shared = tmp_path / "shared_runs"
    url = _team_url(backend, os.environ.get("GENLAB_DB_URL"), tmp_path)
    monkeypatch.setenv("GENLAB_DB_URL", url)
    monkeypatch.setenv("GENLAB_ARTIFACT_ROOT", str(shared))
    monkeypatch.setenv("GENLAB_HEARTBEAT_STALE_S", "1.5")
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    store_b = RunStore(home_b)
    queued = store_b.create_run(FAMILIES["vae"].tiny_config())
    worker = textwrap.dedent("""
        import os, sys, zipfile
        from genlab.store.lease import WorkerBeat
        from genlab.store.runs import RunStore
        s = RunStore(sys.argv[1])
        run = s.claim_next(1)
        assert run is not None and s.own(run.id, os.getpid())
        ckpt = run.folder / "checkpoints"
        ckpt.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(ckpt / "last.ckpt", "w") as z:  # what resume looks for: a whole archive
            z.writestr("last/data.pkl", b"state")
        with WorkerBeat(s, run.id, every_s=0.2):
            step = 0
            while True:
                s.log_metrics(run.id, step, {"train/loss": 1.0 / (step + 1)})
                owned, _ = s.beat(run.id, os.getpid(), step=step)
                if step == 5:
                    print("ready", run.id, flush=True)
                step += 1
    """)
    env = dict(os.environ, GENLAB_HOST="machine-a")
    proc = subprocess.Popen([sys.executable, "-c", worker, str(home_a)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        assert line == ["ready", queued.id], line
        monkeypatch.setenv("GENLAB_HOST", "machine-b")
        assert store_b.reap_dead() == []  # beating: b never judges a's worker by a pid of its own
        assert store_b.get(queued.id).host == "machine-a"
        os.kill(proc.pid, signal.SIGKILL)  # the machine dies
        proc.wait(timeout=30)
        assert wait_for(lambda: store_b.reap_dead(), timeout=60, what="the stale beat") == [queued.id]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = store_b.get(queued.id)
    assert run.status == "interrupted" and "Resume" in (run.error or "")
    logged = [s for s, _ in store_b.metric_series(run.id, "train/loss")]
    assert logged == list(range(len(logged))) and len(logged) >= 6  # every step a wrote, once
    jobs.request_resume(run.id, store_b)
    assert store_b.get(run.id).status == "queued"
    store_b.close()


def test_the_store_revision_never_mixes_with_optunas_in_one_database(any_store: RunStore) -> None:
    """Optuna keeps its Alembic revision in alembic_version; the store keeps its own. A store made before
    (its revision in alembic_version) moves it over on open and keeps its runs."""
    store = any_store
    run = store.create_run(FAMILIES["vae"].tiny_config())
    with store.db.write() as con:  # back to the layout of revision 0002, beside an Optuna study's revision
        con.exec_driver_sql("DROP TABLE genlab_store_version")
        con.exec_driver_sql("DROP INDEX runs_created")
        con.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        con.exec_driver_sql("INSERT INTO alembic_version VALUES ('0002'), ('v3.2.0.a')")
    store.close()
    again = RunStore(store.home)
    with again.db.read() as con:
        assert con.exec_driver_sql("SELECT version_num FROM genlab_store_version").scalar() == HEAD
        assert con.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [("v3.2.0.a",)]
        assert "runs_created" in {i["name"] for i in sa.inspect(con).get_indexes("runs")}
    assert again.get(run.id).id == run.id
    again.close()


def test_a_long_run_is_charted_from_buckets_the_database_reduces(any_store: RunStore, monkeypatch) -> None:
    """Past FULL_READ_MAX rows a chart's first read asks the database for each series' min/max per bucket:
    at most 2 points a bucket, the spike and the dip kept, the newest value last; later rows come exactly."""
    store = any_store
    monkeypatch.setattr(live, "FULL_READ_MAX", 1000)
    run = store.create_run(FAMILIES["vae"].tiny_config())
    values = [1.0 / (s + 1) for s in range(6000)]
    values[1234], values[4321] = 50.0, -7.0
    store.write_metric_rows([(run.id, s, 0, "train/loss", v, 0.0) for s, v in enumerate(values)])
    store.write_metric_rows([(run.id, s, 0, "val/loss", 2.0, 0.0) for s in range(0, 6000, 100)])
    f = MetricsFollower(store, run.id)
    assert 0 < f.refresh() <= 2 * live.MAX_POINTS + 60  # points read, not the 6,060 rows
    steps, ys = f.series("train/loss", max_points=None)
    assert len(steps) <= 2 * live.MAX_POINTS and steps == sorted(steps)
    assert max(ys) == 50.0 and min(ys) == -7.0 and steps[-1] == 5999
    assert f.series("val/loss", max_points=None)[0] == list(range(0, 6000, 100))  # few rows: every one
    store.log_metrics(run.id, 6000, {"train/loss": 0.125})
    assert f.refresh() == 1 and f.series("train/loss", max_points=None)[0][-1] == 6000
    assert store.last_metrics([run.id])[run.id] == {"train/loss": 0.125, "val/loss": 2.0}


def test_a_large_batch_replaces_a_step_logged_twice_and_loses_nothing(any_store: RunStore) -> None:
    """A worker's buffered flush (PostgreSQL takes it by COPY) upserts like one row at a time: a step logged
    twice in one batch keeps the later value, a step logged again later replaces its row."""
    store = any_store
    run = store.create_run(FAMILIES["vae"].tiny_config())
    rows = [(run.id, s, 0, "k", float(s), 0.0) for s in range(500)] + [(run.id, 7, 0, "k", 70.0, 1.0)]
    store.write_metric_rows(rows)
    store.write_metric_rows([(run.id, s, 1, "k", -float(s), 2.0) for s in range(400, 900)])
    series = dict(store.metric_series(run.id, "k"))
    assert len(series) == 900 and series[7] == 70.0 and series[399] == 399.0 and series[400] == -400.0
    assert store.metric_count(run.id) == 900


@pytest.mark.slow  # two sweep workers on two homes, four tiny trials, each a training process
def test_sweep_trials_run_on_two_machines_all_show_their_run_in_sweep_show(
    pg_url: str, tmp_path: Path, shared_cache: Path
) -> None:
    """A team: one PostgreSQL for runs and for the study, one artifact root, two GENLAB_HOMEs (two machines)
    each running a sweep worker. Every trial's run lands in the one store, and `sweep show` on a third home
    links every trial to its run and that run's status."""
    from genlab.sweeps import study as sweeps
    from tests.test_sweeps import vae_base

    shared = tmp_path / "shared_runs"
    name = f"team-{os.urandom(3).hex()}"
    settings = sweeps.make_settings(
        vae_base(epochs=1, batches=2),
        n_trials=4,
        name=name,
        space={"optim.lr": {"low": 1e-3, "high": 1e-2}},
        pruner="none",
    )
    sweeps.create(settings, pg_url)  # the study beside the store's tables: their revisions must not mix
    homes = []
    for h in ("a", "b"):
        home = tmp_path / h
        home.mkdir()
        (home / "cache").symlink_to(shared_cache, target_is_directory=True)
        homes.append(home)
    cmd = [sys.executable, "-m", "genlab", "sweep", "worker", "--study", name, "--storage", pg_url, "--parallel", "1"]
    procs = []
    for home in homes:
        env = dict(os.environ, GENLAB_HOME=str(home), GENLAB_ARTIFACT_ROOT=str(shared), GENLAB_HOST=f"host-{home.name}")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=1200)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    viewer = tmp_path / "c"
    env = dict(os.environ, GENLAB_HOME=str(viewer), GENLAB_ARTIFACT_ROOT=str(shared), GENLAB_HOST="host-c")
    shown = subprocess.run(
        [sys.executable, "-m", "genlab", "sweep", "show", name, "--storage", pg_url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr
    import json

    trials = json.loads(shown.stdout)["trials"]
    assert [t["state"] for t in trials] == ["complete"] * 4
    assert all(t["run_id"] and t["run_status"] == "completed" for t in trials), trials
    assert {t["host"] for t in trials} <= {"host-a", "host-b"}
    store = RunStore(viewer)
    runs = {r.id: r for r in store.list_runs(sweep_id=name)}
    assert sorted(runs) == sorted(t["run_id"] for t in trials)
    assert {runs[t["run_id"]].host for t in trials} == {t["host"] for t in trials}
    store.close()
