"""Runs page: server time per rerun with 200 runs in the store (goal: under 1 s).

Fills a fresh GENLAB_HOME with 200 runs written through the real RunStore API the way workers write them
(config, 300 steps of 4 training metrics plus validation metrics, sample artifacts, mixed statuses),
then renders ui/views/runs.py with Streamlit's AppTest: the first render of a new session (in a process that
rendered the page once already, as a running server has; the process's own first render apart, as cold),
plain reruns (what each live refresh or widget change costs), and reruns with a search filter.

    python benchmarks/bench_runs_page.py [--runs 200] [--steps 300] [--reruns 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fill_store(home: Path, n_runs: int, steps: int) -> int:
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    store = RunStore(home)
    statuses = ["completed"] * 6 + ["failed", "cancelled", "interrupted"]
    families = list(FAMILIES)
    rows = 0
    for i in range(n_runs):
        family = FAMILIES[families[i % len(families)]]
        config = family.default_config(name=f"bench-{i:03d}", tags=["bench", f"group{i % 7}"])
        run = store.create_run(config, monitor=family.monitor)
        for step in range(1, steps + 1):
            values = {"train/loss": 1.0 / step, "train/a": 0.1, "train/b": 0.2, "lr-Adam": 1e-3}
            if step % 50 == 0:
                values.update({family.monitor: 2.0 / step, "val/other": 0.5})
            store.log_metrics(run.id, step, values, epoch=step // 100)
            rows += len(values)
        for step in range(100, steps + 1, 100):
            store.add_artifact(run.id, "samples", run.folder / "samples" / f"s{step}.png", name="samples", step=step)
        status = "running" if i >= n_runs - 2 else statuses[i % len(statuses)]
        now = time.time()
        fields = {"status": status, "step": steps, "total_steps": steps, "started_at": now - 300, "epoch": 3}
        if status == "running":
            fields.update(step=steps // 2, heartbeat=now + 3600, pid=os.getpid(), eta_s=100.0)  # stays "alive"
        else:
            fields.update(ended_at=now, best_value=0.01 * (i % 13))
        store.update(run.id, **fields)
    return rows


def render_runs_page(reruns: int) -> dict:
    """ui/views/runs.py on the store GENLAB_HOME (and GENLAB_DB_URL) names, rendered by Streamlit's AppTest:
    the first draw of a new session, plain reruns, and reruns with a search filter (seconds)."""
    from streamlit.testing.v1 import AppTest

    def new_session() -> tuple[AppTest, float]:
        at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=300)
        at.switch_page("views/runs.py")
        t = time.perf_counter()
        at.run()
        return at, time.perf_counter() - t

    # A server renders a new visitor's page in a process that has imported the app already: the process's
    # first render (Streamlit's and the UI's imports included) is reported apart, as cold.
    _, cold_s = new_session()
    at, first_s = new_session()
    assert not at.exception, [e.value for e in at.exception]
    shown = len(at.dataframe[0].value)

    def timed(n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            at.run()
            out.append(time.perf_counter() - t)
        return out

    plain = timed(reruns)
    at.text_input(key="runs.search").set_value("group3")
    at.run()
    filtered = timed(reruns)
    return {
        "first_render_s": round(first_s, 3),
        "cold_first_render_s": round(cold_s, 3),
        "rows_shown": shown,
        "rerun_median_s": round(statistics.median(plain), 3),
        "rerun_max_s": round(max(plain), 3),
        "search_rerun_median_s": round(statistics.median(filtered), 3),
        "search_rows": len(at.dataframe[0].value) if at.dataframe else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reruns", type=int, default=15)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="genlab_bench_runs_"))
    os.environ["GENLAB_HOME"] = str(home)
    t0 = time.perf_counter()
    rows = fill_store(home, args.runs, args.steps)
    fill_s = time.perf_counter() - t0

    page = render_runs_page(args.reruns)
    assert page["rows_shown"] == args.runs, page
    result = {
        "runs": args.runs,
        "metric_rows": rows,
        "fill_store_s": round(fill_s, 1),
        **page,
        "cpu": f"{os.cpu_count()} cores",
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    verdict = "PASS" if result["rerun_median_s"] < 1.0 else "FAIL"
    print(f"{verdict}: Runs page rerun with {args.runs} runs = {result['rerun_median_s']:.3f} s median (goal < 1 s)")


if __name__ == "__main__":
    main()
