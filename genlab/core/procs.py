"""Processes GenLab starts and watches: one pid check and one detached-worker spawn, shared by the run
store (reaping dead workers), the job queue and sweeps.

A pid alone is not a process: the kernel recycles them, and a zombie still answers kill(0). So a pid
counts as alive only when it exists, is not a zombie and (by default) runs GenLab.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from genlab.core.paths import PROJECT_ROOT


def pid_alive(pid: int | None, *, genlab_only: bool = True) -> bool:
    """True when the process exists on this machine, is not a zombie and, with genlab_only, is a GenLab
    process (a recycled pid of an unrelated program does not keep a dead run 'running')."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return not genlab_only or b"genlab" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return True


def spawn_detached(cmd: Sequence[str], log_path: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """Start a background worker in its own session (a closed terminal or app does not stop it), its
    output appended to log_path; a thread reaps it when it ends, so it never lingers as a zombie."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=PROJECT_ROOT,
            env=env,
            start_new_session=True,
        )
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc
