"""The run store at scale, on SQLite and PostgreSQL, and its per-step cost for one user.

For each backend and each size (runs x metric rows per run):
- ingestion: 8 worker processes write every run's metric rows at once (batches of --batch rows, the way a
  buffered worker flushes), rows/s over the wall time, then a count proves no row was lost or doubled;
- what pages and commands ask the store: the Runs page's first draw (reap + sweeps + newest MAX_ROWS runs
  + latest metrics of live runs), a Run page's charts (every metric row of one run + LTTB), and
  `runs list` (reap + newest 50 runs + their latest metrics); median of --repeats.
Then the cost of a training step's store writes (log 4 metrics + the progress beat) on SQLite: this
store vs the pre-package store of commit d368629 (loaded from git), same process, alternating.

    python benchmarks/bench_store.py --sizes 1000x200 10000x200 --backends sqlite postgresql
    python benchmarks/bench_store.py --sizes 10000x2000   # 20 million rows: ~7 GB, allow an hour
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_DEFAULT = "postgresql+psycopg://genlab:genlab@localhost/genlab_test"
KEYS = ("train/loss", "train/a", "train/b", "val/loss")
MAX_ROWS = 500  # ui/views/runs.py's table limit


def _seed_runs(home: Path, url: str | None, n_runs: int) -> list[str]:
    """n_runs rows in the runs table (written directly: creating 10,000 run folders is not what is measured)."""
    import sqlalchemy as sa

    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore
    from genlab.store.schema import runs

    store = RunStore(home, db_url=url)
    text = FAMILIES["vae"].tiny_config().to_yaml()
    now = time.time()
    ids = [f"bench-{i:05d}" for i in range(n_runs)]
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
            "heartbeat": now + 3600,
            "worker_beat": now + 3600,
            "sweep_id": f"sweep-{i % 20}" if i % 3 == 0 else None,
        }
        for i, rid in enumerate(ids)
    ]
    with store.db.write() as con:
        con.execute(sa.insert(runs), rows)
    store.close()
    return ids


def _ingest(args: tuple[str, str | None, list[str], int, int]) -> tuple[int, float, float]:
    home, url, run_ids, per_run, batch = args
    from genlab.store.runs import RunStore

    store = RunStore(home, db_url=url)
    pending: list[dict] = []
    written = 0
    now = started = time.time()
    for rid in run_ids:
        for i in range(per_run):
            pending.append(
                {
                    "run_id": rid,
                    "step": i // len(KEYS),
                    "epoch": 0,
                    "key": KEYS[i % len(KEYS)],
                    "value": 1.0 / (i + 1),
                    "time": now,
                }
            )
            if len(pending) >= batch:
                store.write_metric_rows(pending)
                written += len(pending)
                pending = []
    if pending:
        store.write_metric_rows(pending)
        written += len(pending)
    ended = time.time()
    store.close()
    return written, started, ended


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def bench_size(
    backend: str, url: str | None, n_runs: int, per_run: int, workers: int, batch: int, repeats: int
) -> dict:
    import sqlalchemy as sa

    from genlab.store.live import lttb
    from genlab.store.runs import RunStore
    from genlab.store.schema import metrics

    home = Path(tempfile.mkdtemp(prefix="bench_store_"))
    if backend == "postgresql":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        base = url
        eng = sa.create_engine(base)
        with eng.begin() as con:
            con.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    ids = _seed_runs(home, url, n_runs)
    slices = [ids[i::workers] for i in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_ingest, [(str(home), url, s, per_run, batch) for s in slices])
    written = sum(p[0] for p in parts)
    ingest_s = max(p[2] for p in parts) - min(p[1] for p in parts)  # first write to last commit
    store = RunStore(home, db_url=url)
    with store.db.read() as con:
        stored = con.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one()
    if backend == "postgresql":
        with store.db.write() as con:
            con.exec_driver_sql("ANALYZE")

    def runs_page() -> None:
        store.reap_dead()
        store.sweep_ids()
        shown = store.list_runs(limit=MAX_ROWS)
        store.last_metrics([r.id for r in shown if r.best_value is None and r.monitor])

    def run_page() -> None:
        rows = store.metrics(ids[len(ids) // 2])
        by_key: dict[str, tuple[list, list]] = {}
        for r in rows:
            xs, ys = by_key.setdefault(r["key"], ([], []))
            xs.append(r["step"])
            ys.append(r["value"])
        for xs, ys in by_key.values():
            lttb(xs, ys)

    def runs_list() -> None:
        store.reap_dead()
        shown = store.list_runs(limit=50)
        store.last_metrics([r.id for r in shown])

    out = {
        "backend": backend,
        "runs": n_runs,
        "metric_rows": written,
        "rows_stored": stored,
        "ingest_rows_per_s": round(written / ingest_s),
        "ingest_workers": workers,
        "runs_page_ms": _median_ms(runs_page, repeats),
        "run_page_charts_ms": _median_ms(run_page, repeats),
        "runs_list_ms": _median_ms(runs_list, repeats),
    }
    store.close()
    if backend == "postgresql":
        with eng.begin() as con:
            con.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    subprocess.run(["rm", "-rf", str(home)], check=False)
    return out


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
    """Microseconds of store writes per training step (4 metrics + the beat), old vs new, SQLite."""
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    config = FAMILIES["vae"].tiny_config()
    sides = {"before (d368629)": _old_store_class(), "now": RunStore}
    results: dict[str, list[float]] = {k: [] for k in sides}
    os.environ.pop("GENLAB_DB_URL", None)
    for _ in range(rounds):
        for name, cls in sides.items():
            home = Path(tempfile.mkdtemp(prefix="bench_step_"))
            store = cls(home)
            run = store.create_run(config, status="running")
            store.own(run.id, os.getpid())
            t = time.perf_counter()
            for step in range(steps):
                store.log_metrics(run.id, step, {k: 1.0 / (step + 1) for k in KEYS}, epoch=0)
                store.beat(run.id, os.getpid(), step=step, epoch=0)
            results[name].append((time.perf_counter() - t) / steps * 1e6)
            store.close()
            subprocess.run(["rm", "-rf", str(home)], check=False)
    return {name: round(statistics.median(v)) for name, v in results.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["1000x200", "10000x200"], help="RUNSxROWS_PER_RUN")
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    p.add_argument("--postgres-url", default=os.environ.get("GENLAB_TEST_POSTGRES_URL", PG_DEFAULT))
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--step-steps", type=int, default=300)
    p.add_argument("--step-rounds", type=int, default=5)
    args = p.parse_args()
    print("load before:", os.getloadavg(), flush=True)
    for size in args.sizes:
        n_runs, per_run = (int(x) for x in size.split("x"))
        for backend in args.backends:
            url = None if backend == "sqlite" else args.postgres_url
            print(
                json.dumps(bench_size(backend, url, n_runs, per_run, args.workers, args.batch, args.repeats)),
                flush=True,
            )
    print(json.dumps({"step_store_writes_us": bench_step_cost(args.step_steps, args.step_rounds)}), flush=True)
    print("load after:", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main()
