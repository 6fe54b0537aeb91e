"""The run store at scale, on SQLite and PostgreSQL, and its per-step cost for one user.

For each backend and each number of runs (--runs 1000 10000, --steps-per-run steps x 4 metrics each; the
default 10,000 x 500 x 4 = 20 million metric rows):
- setup: the runs table, then every metric row bulk-loaded (SQLite: executemany in large transactions;
  PostgreSQL: COPY), timed, so a 20-million-row store takes minutes;
- ingestion: 8 worker processes write new steps for --ingest-runs runs at once through the store's own
  write path (RunStore.write_metric_rows, batches of --batch rows, the way a buffered worker flushes);
  rows/s over the wall time from the first write to the last commit, then counts prove no row was lost
  or doubled;
- what the pages and commands ask the store (median of --repeats): the Runs page's first draw (reconcile,
  sweeps, the active check, the newest 1,000 runs, the change stamp, latest metrics of live runs), a Run
  page's charts (its metric series read as the Charts tab does, LTTB to 1,000 points each; and one long run
  with --long-steps steps, read through the store's server-side min/max buckets), and `runs list`
  (reconcile, newest 50 runs, their latest metrics);
- with --page, the real Runs page rendered by Streamlit's AppTest on the loaded store (first draw and
  reruns).
Then the cost of a training step's store writes (4 metrics + the progress beat) on SQLite: this store vs
the pre-package store of commit d368629 (loaded from git), same process, interleaved rounds.

PostgreSQL runs in its own database (--pg-database, dropped after), never in the test database.

    python benchmarks/bench_store.py --runs 1000 10000 --backends sqlite postgresql --page
    python benchmarks/bench_store.py --runs 200 --steps-per-run 50 --long-steps 5000 --ingest-runs 40  # quick
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_DEFAULT = "postgresql+psycopg://genlab:genlab@localhost/genlab_test"
KEYS = ("train/loss", "train/a", "train/b", "val/loss")
RUNS_PAGE_ROWS = 1000  # ui/views/runs.py's MAX_ROWS
LIST_ROWS = 50  # `runs list`'s default --limit


def _log(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}]", *parts, file=sys.stderr, flush=True)


# -- the databases ---------------------------------------------------------------------------------------


def make_database(backend: str, pg_url: str, pg_database: str) -> str | None:
    """A fresh database for one measurement: SQLite in the bench home, or --pg-database (re)created."""
    if backend == "sqlite":
        return None
    import sqlalchemy as sa

    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        # FORCE: a store kept by --keep for the previous size may still hold the page's connections
        con.exec_driver_sql(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
        con.exec_driver_sql(f"CREATE DATABASE {pg_database}")
    admin.dispose()
    return sa.engine.make_url(pg_url).set(database=pg_database).render_as_string(hide_password=False)


def drop_database(backend: str, pg_url: str, pg_database: str) -> None:
    if backend == "postgresql":
        import sqlalchemy as sa

        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
        admin.dispose()


def seed_runs(store, n_runs: int, long_run: bool) -> list[str]:
    """n_runs rows in the runs table, written directly (creating 10,000 run folders is not measured):
    1% running on another machine with a live beat, a third in 20 sweeps, the rest completed."""
    import sqlalchemy as sa

    from genlab.core.registry import FAMILIES
    from genlab.store.schema import runs

    text = FAMILIES["vae"].tiny_config().to_yaml()
    now = time.time()
    ids = [f"bench-{i:05d}" for i in range(n_runs)] + (["bench-long"] if long_run else [])
    rows = [
        {
            "id": rid,
            "name": rid,
            "family": "vae",
            "status": "running" if i % 100 == 0 else "completed",
            "config": text,
            "created_at": now - n_runs + i,
            "tags": '["bench"]',
            "notes": "",
            "monitor": "val/loss",
            "best_value": None if i % 100 == 0 else 0.5,
            "host": "elsewhere",
            "heartbeat": now + 86400,
            "worker_beat": now + 86400,
            "sweep_id": f"sweep-{i % 20}" if i % 3 == 0 else None,
            "trial_id": i // 60 if i % 3 == 0 else None,
        }
        for i, rid in enumerate(ids)
    ]
    with store.db.write() as con:
        for i in range(0, len(rows), 2000):
            con.execute(sa.insert(runs), rows[i : i + 2000])
    return ids


def _run_rows(rid: str, steps: range, now: float):
    for step in steps:
        for k, key in enumerate(KEYS):
            yield (rid, step, step // 100, key, 1.0 / (step + 1) + 0.01 * k, now)


def bulk_load(store, plan: list[tuple[str, int]]) -> int:
    """Every (run, steps) of the plan as metric rows, the fastest way each backend takes them."""
    now = time.time()
    total = 0
    if store.db.is_sqlite:
        import sqlite3

        con = sqlite3.connect(store.db_path, isolation_level=None)
        con.execute("PRAGMA synchronous=OFF")
        sql = "INSERT INTO metrics (run_id, step, epoch, key, value, time) VALUES (?,?,?,?,?,?)"
        chunk: list[tuple] = []
        for rid, steps in plan:
            chunk.extend(_run_rows(rid, range(steps), now))
            if len(chunk) >= 400_000:
                con.execute("BEGIN")
                con.executemany(sql, chunk)
                con.execute("COMMIT")
                total += len(chunk)
                chunk = []
        if chunk:
            con.execute("BEGIN")
            con.executemany(sql, chunk)
            con.execute("COMMIT")
            total += len(chunk)
        con.close()
        return total
    dbapi = store.db.engine.raw_connection()
    cur = dbapi.cursor()
    # the indexes are built once after the COPY (a sort), not row by row: what pg_restore does
    indexes = cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'metrics' AND indexname LIKE 'metrics_run%'"
    ).fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    with cur.copy("COPY metrics (run_id, step, epoch, key, value, time) FROM STDIN") as copy:
        lines: list[str] = []
        for rid, steps in plan:
            lines.extend(
                f"{r}\t{s}\t{e}\t{k}\t{v!r}\t{t!r}\n" for r, s, e, k, v, t in _run_rows(rid, range(steps), now)
            )
            if len(lines) >= 200_000:
                copy.write("".join(lines))
                total += len(lines)
                lines = []
        if lines:
            copy.write("".join(lines))
            total += len(lines)
    cur.execute("SET maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cur.execute(definition)
    dbapi.commit()
    dbapi.driver_connection.autocommit = True
    cur.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load: visibility map and statistics
    dbapi.driver_connection.autocommit = False
    dbapi.close()
    return total


# -- ingestion from worker processes ---------------------------------------------------------------------


def _ingest(args: tuple[str, str | None, list[str], int, int, int]) -> tuple[int, float, float, float]:
    home, url, run_ids, first_step, steps, batch = args
    from genlab.store.runs import RunStore

    store = RunStore(home, db_url=url)
    pending: list[tuple] = []
    written = 0
    started = time.time()
    cpu = time.process_time()
    for rid in run_ids:
        pending.extend(_run_rows(rid, range(first_step, first_step + steps), started))
        while len(pending) >= batch:
            store.write_metric_rows(pending[:batch])
            written += batch
            pending = pending[batch:]
    if pending:
        store.write_metric_rows(pending)
        written += len(pending)
    ended = time.time()
    cpu = time.process_time() - cpu
    store.close()
    return written, started, ended, cpu


def ingest(store, url: str | None, run_ids: list[str], first_step: int, steps: int, workers: int, batch: int) -> dict:
    import sqlalchemy as sa

    from genlab.store.schema import metrics

    def count(where=None) -> int:
        q = sa.select(sa.func.count()).select_from(metrics)
        if where is not None:
            q = q.where(where)
        with store.db.read() as con:
            return con.execute(q).scalar_one()

    before = count()
    slices = [run_ids[i::workers] for i in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_ingest, [(str(store.home), url, s, first_step, steps, batch) for s in slices])
    written = sum(p[0] for p in parts)
    seconds = max(p[2] for p in parts) - min(p[1] for p in parts)  # first write to last commit
    after = count()
    mine = sa.and_(metrics.c.step >= first_step, metrics.c.run_id.in_(run_ids))
    new_rows = count(mine)
    distinct = 0
    with store.db.read() as con:
        distinct = con.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(metrics.c.run_id, metrics.c.key, metrics.c.step).where(mine).distinct().subquery()
            )
        ).scalar_one()
    expected = len(run_ids) * steps * len(KEYS)
    return {
        "ingest_rows": written,
        "ingest_workers": workers,
        "ingest_batch": batch,
        "ingest_s": round(seconds, 1),
        "ingest_rows_per_s": round(written / seconds),
        "ingest_worker_cpu_s": round(sum(p[3] for p in parts), 1),
        "ingest_lost_or_doubled": (after - before - expected) or (new_rows - expected) or (distinct - expected),
    }


# -- what pages and commands ask -------------------------------------------------------------------------


def _server_cpu(store) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend serving the bench database (same machine: /proc)."""
    if store.db.is_sqlite:
        return {}
    with store.db.read() as con:
        pids = [
            r[0] for r in con.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ]
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out


def _median_ms(fn, repeats: int, store=None) -> tuple[float, float]:
    """(wall ms, CPU ms) medians; CPU = this process plus the PostgreSQL backends serving it, which is
    what the call costs on an idle machine when the load of other work inflates the wall time."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = _server_cpu(store) if store is not None else {}
        c = time.process_time()
        t = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t) * 1000)
        cpu = time.process_time() - c
        if store is not None:
            after = _server_cpu(store)
            cpu += sum(v - before.get(pid, 0.0) for pid, v in after.items())
        cpus.append(cpu * 1000)
    return round(statistics.median(walls), 1), round(statistics.median(cpus), 1)


def page_calls(store, chart_run: str, long_run: str | None, repeats: int) -> dict:
    from genlab.runner import jobs
    from genlab.store.live import MetricsFollower
    from genlab.store.records import ACTIVE

    def runs_page() -> None:  # ui/views/runs.py's first draw, call for call
        jobs.reconcile(store)
        store.sweep_ids()
        if store.list_runs(status=ACTIVE, limit=1):
            store.table_stamp()
        shown = store.list_runs(limit=RUNS_PAGE_ROWS)
        store.list_runs(status=ACTIVE, limit=1)
        store.last_metrics([r.id for r in shown if r.best_value is None and r.monitor])

    def run_charts(run_id: str) -> int:  # ui/views/run.py's Charts tab: a new follower, every series drawn
        store.get(run_id)
        f = MetricsFollower(store, run_id)
        f.refresh()
        return sum(len(f.series(k)[0]) for k in f.keys())

    def runs_list() -> None:  # genlab/cli/runs_cmd.py's _list
        jobs.reconcile(store)
        shown = store.list_runs(limit=LIST_ROWS)
        store.last_metrics([r.id for r in shown])

    out = {}
    for name, fn in (
        ("runs_page", runs_page),
        ("run_charts", lambda: run_charts(chart_run)),
        ("runs_list", runs_list),
        *((("long_run_charts", lambda: run_charts(long_run)),) if long_run else ()),
    ):
        out[f"{name}_ms"], out[f"{name}_cpu_ms"] = _median_ms(fn, repeats, store)
    if long_run:
        out["long_run_rows"] = store.metric_count(long_run)
        out["long_run_points_drawn"] = run_charts(long_run)
    return out


def runs_list_command(home: Path, url: str | None, repeats: int = 5) -> float:
    """The whole `python -m genlab runs list` (interpreter start and imports included), seconds: the median of
    `repeats` runs (one run is one sample of a process start, which moves by 20-30 % on a 2-core VM)."""
    env = dict(os.environ, GENLAB_HOME=str(home))
    env.pop("GENLAB_DB_URL", None)
    if url:
        env["GENLAB_DB_URL"] = url
    cmd = [sys.executable, "-m", "genlab", "runs", "list"]
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return round(statistics.median(walls), 2)


def real_runs_page(home: Path, url: str | None, reruns: int) -> dict:
    """ui/views/runs.py rendered by Streamlit's AppTest on the loaded store."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_runs_page import render_runs_page

    os.environ["GENLAB_HOME"] = str(home)
    if url:
        os.environ["GENLAB_DB_URL"] = url
    main = sys.modules["__main__"]  # AppTest runs the page as __main__; spawned workers need ours back
    try:
        return render_runs_page(reruns)
    finally:
        sys.modules["__main__"] = main
        os.environ.pop("GENLAB_DB_URL", None)


def measure_kept(
    home: Path, url: str | None, repeats: int, reruns: int = 0, args: argparse.Namespace | None = None
) -> dict:
    """The page and command figures again on a store a --keep run left (its ingestion figures are in its log);
    with `reruns`, the real Runs page too; with args.ingest_rounds, that many more ingestions of new steps."""
    from genlab.store.runs import RunStore

    store = RunStore(home, db_url=url)
    long_run = "bench-long" if store.exists("bench-long") else None  # made unless --long-steps 0
    n_runs = len(store.list_runs(limit=1_000_000)) - (1 if long_run else 0)
    out = {"backend": "sqlite" if store.db.is_sqlite else "postgresql", "runs": n_runs}
    out |= page_calls(store, f"bench-{n_runs // 2:05d}", long_run, repeats)
    for r in range(args.ingest_rounds if args else 0):
        ids = [f"bench-{i:05d}" for i in range(min(args.ingest_runs, n_runs))]
        first = args.steps_per_run + args.ingest_steps * (r + 1)  # steps no ingestion wrote yet
        got = ingest(store, url, ids, first, args.ingest_steps, args.workers, args.batch)
        out[f"ingest_round{r}_rows_per_s"], out[f"ingest_round{r}_lost_or_doubled"] = (
            got["ingest_rows_per_s"],
            got["ingest_lost_or_doubled"],
        )
    out["runs_list_command_s"] = runs_list_command(home, url)
    if reruns:
        out |= {f"page_{k}": v for k, v in real_runs_page(home, url, reruns).items()}
    out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    store.close()
    return out


def bench_size(backend: str, args: argparse.Namespace, n_runs: int) -> dict:
    from genlab.store.runs import RunStore

    home = Path(tempfile.mkdtemp(prefix="bench_store_", dir=args.tmp))
    url = make_database(backend, args.postgres_url, args.pg_database)
    try:
        store = RunStore(home, db_url=url)
        t = time.perf_counter()
        ids = seed_runs(store, n_runs, long_run=args.long_steps > 0)
        plan = [(rid, args.steps_per_run) for rid in ids[:n_runs]]
        if args.long_steps:
            plan.append(("bench-long", args.long_steps))
        _log(backend, n_runs, "runs seeded; bulk loading", sum(s for _, s in plan) * len(KEYS), "rows")
        loaded = bulk_load(store, plan)
        setup_s = time.perf_counter() - t
        _log(backend, n_runs, f"loaded {loaded} rows in {setup_s:.0f} s; ingesting")
        out = {"backend": backend, "runs": n_runs, "metric_rows_loaded": loaded, "setup_s": round(setup_s)}
        target = ids[: min(args.ingest_runs, n_runs)]
        out |= ingest(store, url, target, args.steps_per_run, args.ingest_steps, args.workers, args.batch)
        _log(backend, n_runs, "ingested", out)
        out |= page_calls(store, ids[n_runs // 2], "bench-long" if args.long_steps else None, args.repeats)
        out["runs_list_command_s"] = runs_list_command(home, url)
        if backend == "sqlite":
            out["db_bytes"] = store.db_path.stat().st_size + (store.db_path.with_name("genlab.db-wal").stat().st_size)
        else:
            with store.db.read() as con:
                out["db_bytes"] = con.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        if args.page:
            out |= {f"page_{k}": v for k, v in real_runs_page(home, url, args.reruns).items()}
        store.close()
        out["load_avg_1m"] = round(os.getloadavg()[0], 1)
        return out
    finally:
        if args.keep:
            _log(f"kept: GENLAB_HOME={home}" + (f" GENLAB_DB_URL={url}" if url else ""))
        else:
            drop_database(backend, args.postgres_url, args.pg_database)
            shutil.rmtree(home, ignore_errors=True)


# -- a training step's store writes, before and after the store package ----------------------------------


def _old_store_class():
    """RunStore as it was before the package (commit d368629), loaded from git into a module of its own."""
    src = subprocess.run(
        ["git", "show", "d368629:genlab/store/runs.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_runs.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_runs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_runs"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.RunStore


def bench_step_cost(steps: int, rounds: int) -> dict:
    """Microseconds of store writes per training step (4 metrics + the beat), old vs new, SQLite; both
    stores open side by side in this process, taking turns every `steps` steps."""
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    config = FAMILIES["vae"].tiny_config()
    os.environ.pop("GENLAB_DB_URL", None)
    sides = {}
    for name, cls in (("before (d368629)", _old_store_class()), ("now", RunStore)):
        home = Path(tempfile.mkdtemp(prefix="bench_step_"))
        store = cls(home)
        run = store.create_run(config, status="running")
        store.own(run.id, os.getpid())
        sides[name] = (store, run.id, home)
    results: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        order = list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]
        for name, (store, run_id, _) in order:
            c = time.process_time()
            t = time.perf_counter()
            for step in range(r * steps, (r + 1) * steps):
                store.log_metrics(run_id, step, {k: 1.0 / (step + 1) for k in KEYS}, epoch=0)
                store.beat(run_id, os.getpid(), step=step, epoch=0)
            results[name].append((time.perf_counter() - t) / steps * 1e6)
            cpu[name].append((time.process_time() - c) / steps * 1e6)
    for store, _, home in sides.values():
        if hasattr(store, "close"):
            store.close()
        shutil.rmtree(home, ignore_errors=True)
    out = {name: round(statistics.median(v)) for name, v in results.items()}
    pairs = [n / b for n, b in zip(results["now"], results["before (d368629)"], strict=True)]
    out["ratio_now_over_before"] = round(statistics.median(pairs), 3)  # per round: neighbours in time
    out["ratio_quartiles"] = [round(q, 3) for q in statistics.quantiles(pairs, n=4)]
    out["cpu_us"] = {name: round(statistics.median(v)) for name, v in cpu.items()}
    cpu_pairs = [n / b for n, b in zip(cpu["now"], cpu["before (d368629)"], strict=True)]
    out["cpu_ratio_now_over_before"] = round(statistics.median(cpu_pairs), 3)
    out["rounds"] = rounds
    out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", type=int, default=[1000, 10000], help="numbers of runs, one store each")
    p.add_argument("--steps-per-run", type=int, default=500, help="logged steps per run (x 4 metrics)")
    p.add_argument("--long-steps", type=int, default=250_000, help="steps of one extra long run (0: none)")
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    p.add_argument("--postgres-url", default=os.environ.get("GENLAB_TEST_POSTGRES_URL", PG_DEFAULT))
    p.add_argument("--pg-database", default="genlab_bench", help="made and dropped here (never the test database)")
    p.add_argument("--tmp", default=None, help="folder for the SQLite stores (default: the system's temp)")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--ingest-runs", type=int, default=400)
    p.add_argument("--ingest-steps", type=int, default=250, help="new steps per ingested run (x 4 metrics)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--page", action="store_true", help="also render the real Runs page (Streamlit AppTest)")
    p.add_argument("--reruns", type=int, default=5)
    p.add_argument("--keep", action="store_true", help="keep the last store (home and database) for a look")
    p.add_argument("--step-steps", type=int, default=100)
    p.add_argument("--step-rounds", type=int, default=40, help="0: skip the per-step comparison")
    p.add_argument("--measure-kept", default=None, metavar="HOME", help="only measure pages on a kept store")
    p.add_argument("--db-url", default=None, help="with --measure-kept: the kept PostgreSQL database")
    p.add_argument("--ingest-rounds", type=int, default=0, help="with --measure-kept: ingestions of new steps")
    args = p.parse_args()
    _log("start")
    if args.measure_kept:
        kept = measure_kept(Path(args.measure_kept), args.db_url, args.repeats, args.reruns if args.page else 0, args)
        print(json.dumps(kept), flush=True)
        return
    for n_runs in (n for n in args.runs if n > 0):  # --runs 0: only the per-step comparison
        for backend in args.backends:
            print(json.dumps(bench_size(backend, args, n_runs)), flush=True)
    if args.step_rounds:
        print(json.dumps({"step_store_writes_us": bench_step_cost(args.step_steps, args.step_rounds)}), flush=True)
    _log("done")


if __name__ == "__main__":
    main()
