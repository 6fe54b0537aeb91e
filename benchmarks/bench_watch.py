"""What watching a run costs: a preset trained with nobody watching, and with 1 and 5 headless Chromium
tabs showing its Run page (Charts tab) from a real `streamlit run ui/app.py` server, interleaved in rounds.

    python benchmarks/bench_watch.py                         # vae_mnist, 2 rounds of (0, 1, 5 viewers)
    python benchmarks/bench_watch.py --set trainer.max_epochs=5 --rounds 3

Reports per configuration the training time (the run's own started -> ended stamps, so process start-up
is left out), the speed relative to the unwatched run of the same round (goal >= 0.9 with one viewer),
and the server's CPU seconds during the run per viewer as a fraction of one core (goal < 5%).
Needs Playwright and Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, GENLAB_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start")


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of a process and its children (Streamlit runs scripts in threads of one process)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def start_run(home: Path, preset: Path, sets: list[str]) -> str:
    """Start the preset with the CLI, as a user would (a background worker); returns the run id."""
    cmd = [sys.executable, "-m", "genlab", "train", "--config", str(preset)]
    for s in sets:
        cmd += ["--set", s]
    out = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, GENLAB_HOME=str(home)), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"could not start the run: {out.stderr[-2000:]}")
    return out.stdout.split()[1]  # "run <id> queued"


def wait_done(store, run_id: str, timeout_s: float = 3600) -> float:
    """Seconds the run trained (its started_at -> ended_at)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if run.status not in ("queued", "running"):
            if run.status != "completed":
                raise SystemExit(f"run {run_id} ended {run.status}: {run.error}")
            return run.ended_at - run.started_at
        time.sleep(0.5)
    raise SystemExit(f"run {run_id} did not finish in {timeout_s:.0f} s")


def one(home, store, server: psutil.Process, base: str, browser, viewers: int, args) -> dict:
    run_id = start_run(home, args.preset, args.set)
    pages = []
    for _ in range(viewers):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/run?id={run_id}", timeout=300_000)
        pages.append(page)
    for page in pages:
        page.locator("[data-testid='stMain']").get_by_text("All runs").wait_for(timeout=300_000)
    c0 = cpu_seconds(server)
    seconds = wait_done(store, run_id)
    server_cpu = cpu_seconds(server) - c0
    for page in pages:
        page.close()
    return {"viewers": viewers, "train_s": seconds, "server_cpu_s": server_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, default=ROOT / "configs" / "vae_mnist.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--viewers", type=int, nargs="+", default=[0, 1, 5])
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()

    import playwright.sync_api as pw

    from genlab.store.runs import RunStore

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        home = Path(tmp)
        proc, base = start_server(home)
        server = psutil.Process(proc.pid)
        store = RunStore(home)
        try:
            with pw.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for r in range(args.rounds):
                    for viewers in args.viewers:
                        res = one(home, store, server, base, browser, viewers, args)
                        res["round"] = r + 1
                        results.append(res)
                        print(json.dumps(res), flush=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            store.close()
    summary = {}
    for viewers in args.viewers:
        mine = [x for x in results if x["viewers"] == viewers]
        base_s = {x["round"]: x["train_s"] for x in results if x["viewers"] == 0}
        entry = {"train_s": [round(x["train_s"], 1) for x in mine]}
        if viewers and base_s:
            entry["speed_vs_unwatched"] = statistics.median(base_s[x["round"]] / x["train_s"] for x in mine)
            entry["server_core_fraction_per_viewer"] = statistics.median(
                x["server_cpu_s"] / x["train_s"] / viewers for x in mine
            )
        entry["server_cpu_s"] = [round(x["server_cpu_s"], 2) for x in mine]
        summary[f"{viewers}_viewers"] = entry
    out = {"preset": str(args.preset.name), "overrides": args.set, "rounds": results, "summary": summary}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
