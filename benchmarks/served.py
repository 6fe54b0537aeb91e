"""Starting `python -m genlab serve` for a benchmark: a free loopback port, then wait for /ready (a loaded
machine imports torch slowly). Shared by bench_serve.py and bench_batching.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_ids: list[str], *extra: str, ready_within_s: float = 900) -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL) once /ready answers 200; the caller terminates the process."""
    port = free_port()
    cmd = [sys.executable, "-m", "genlab", "serve", "--port", str(port), "--rate-limit", "0"]
    for run_id in run_ids:
        cmd += ["--run", run_id]
    proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited while starting")
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"the server was not ready within {ready_within_s:.0f} s")
