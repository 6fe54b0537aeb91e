"""What watching a run costs: a preset trained with nobody watching, and with 1 and 5 headless Chromium
tabs showing its Run page (the Overview tab it opens on) from a real `streamlit run ui/app.py` server,
interleaved in rounds.

    python benchmarks/bench_watch.py                         # vae_mnist, 2 rounds of (0, 1, 5 viewers)
    python benchmarks/bench_watch.py --set trainer.max_epochs=5 --rounds 3
    python benchmarks/bench_watch.py --viewers 0 1 --also-root /tmp/older-checkout   # old page vs new

Reports per configuration the training time (the run's own started -> ended stamps, so process start-up
is left out), the speed relative to the unwatched run of the same round (goal >= 0.9 with one viewer),
the server's CPU seconds during the run per viewer as a fraction of one core (goal < 5%), and the CPU
seconds the server AND the browser used per minute of watching (a person watches on the machine that
trains, so the browser's rendering is part of the cost). On a loaded machine the speed ratio is noisy; the
CPU seconds per minute of watching are not (they count work done, not time waited), and the load average
is printed beside every round. `--also-root` serves a second checkout's app (another build of the page) on
a second server, watched in the same rounds, so two builds are compared side by side.
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


def start_server(home: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, GENLAB_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=root,
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


def browser_cpu_seconds() -> float:
    """CPU time of the headless Chromium processes this benchmark launched (descendants of this process)."""
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if p.name().startswith("chrom"):
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


def one(home, store, server: psutil.Process, base: str, browser, viewers: int, args, label: str) -> dict:
    run_id = start_run(home, args.preset, args.set)
    pages = []
    for _ in range(viewers):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/run?id={run_id}", timeout=300_000)
        pages.append(page)
    for page in pages:
        page.locator("[data-testid='stMain']").get_by_text("All runs").wait_for(timeout=300_000)
    load0 = os.getloadavg()[0]
    c0, b0, t0 = cpu_seconds(server), browser_cpu_seconds(), time.monotonic()
    seconds = wait_done(store, run_id)
    watched = time.monotonic() - t0
    server_cpu, browser_cpu = cpu_seconds(server) - c0, browser_cpu_seconds() - b0
    for page in pages:
        page.close()
    return {
        "viewers": viewers,
        "page": label if viewers else "-",
        "train_s": seconds,
        "server_cpu_s": server_cpu,
        "browser_cpu_s": browser_cpu,
        "cpu_s_per_watched_min": (server_cpu + browser_cpu) / watched * 60 / max(1, viewers) if viewers else 0.0,
        "load": round(max(load0, os.getloadavg()[0]), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, default=ROOT / "configs" / "vae_mnist.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--viewers", type=int, nargs="+", default=[0, 1, 5])
    ap.add_argument("--also-root", type=Path, help="a second checkout whose app is watched in the same rounds")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()

    import playwright.sync_api as pw

    from genlab.store.runs import RunStore

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        home = Path(tmp)
        servers = {"this": start_server(home)}
        if args.also_root:
            servers["other"] = start_server(home, args.also_root)
        store = RunStore(home)
        try:
            with pw.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for r in range(args.rounds):
                    for viewers in args.viewers:
                        for label, (proc, base) in servers.items() if viewers else [("this", servers["this"])]:
                            res = one(home, store, psutil.Process(proc.pid), base, browser, viewers, args, label)
                            res["round"] = r + 1
                            results.append(res)
                            print(json.dumps(res), flush=True)
                browser.close()
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=20)
            store.close()
    summary = {}
    base_s = {x["round"]: x["train_s"] for x in results if x["viewers"] == 0}
    for viewers in args.viewers:
        for label in servers if viewers else ["-"]:
            mine = [x for x in results if x["viewers"] == viewers and x["page"] == label]
            entry = {"train_s": [round(x["train_s"], 1) for x in mine], "load": [x["load"] for x in mine]}
            if viewers and base_s:
                entry["speed_vs_unwatched"] = statistics.median(base_s[x["round"]] / x["train_s"] for x in mine)
                entry["server_core_fraction_per_viewer"] = statistics.median(
                    x["server_cpu_s"] / x["train_s"] / viewers for x in mine
                )
                entry["cpu_s_per_watched_min_per_viewer"] = statistics.median(x["cpu_s_per_watched_min"] for x in mine)
            entry["server_cpu_s"] = [round(x["server_cpu_s"], 2) for x in mine]
            entry["browser_cpu_s"] = [round(x["browser_cpu_s"], 2) for x in mine]
            summary[f"{viewers}_viewers" + (f"_{label}" if viewers and len(servers) > 1 else "")] = entry
    out = {"preset": str(args.preset.name), "overrides": args.set, "rounds": results, "summary": summary}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
