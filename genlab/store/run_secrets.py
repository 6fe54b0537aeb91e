"""Per-user secrets (a W&B API key, a sweep trial's study database URL) handed to one run's worker through its environment, and only there.

A key belongs to a person, not to the server: it lives in the memory of the process that queued the run
(the app serving that browser session, or the CLI), never in the run store, a config, a file or a log.
The store records only *which process* holds a run's secrets, so no other process (another user's
worker finishing and starting the next run) launches that run without them. If the holder is gone (the
app restarted, the CLI exited), the run starts without them and the worker says so on the run.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

SECRET_ENV = ("WANDB_API_KEY", "GENLAB_SWEEP_STORAGE")  # the sweep's study database URL may hold a password

_lock = threading.Lock()
_held: dict[str, dict[str, str]] = {}


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks (so a recycled pid is not mistaken for the holder)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def this_process() -> str:
    """A name for this process that no other process, now or later, shares: host:pid:start-time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def holder_alive(name: str) -> bool:
    """Whether the process named by this_process() still runs (a holder on another host counts as alive)."""
    try:
        host, pid, started = name.rsplit(":", 2)
        pid_i = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid_i, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _start_time(pid_i) == started


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets this process was started with (the CLI user's own key)."""
    env = os.environ if env is None else env
    return {k: env[k] for k in SECRET_ENV if env.get(k)}


def hold(run_id: str, secrets: Mapping[str, str] | None) -> str | None:
    """Keep a run's secrets in this process until its worker starts.

    Returns the holder's name for the run store (None when there is nothing to hold): the caller writes
    it in the same transaction that queues the run, so no other process can start the run in between.
    """
    kept = {k: str(v) for k, v in (secrets or {}).items() if k in SECRET_ENV and v}
    if not kept:
        return None
    with _lock:
        _held[run_id] = kept
    return this_process()


def holds(run_id: str) -> bool:
    with _lock:
        return run_id in _held


def worker_env(base: Mapping[str, str], run_id: str) -> dict[str, str]:
    """The environment for a run's worker: this process's own secrets removed, the run's secrets added.

    The run's secrets are released from memory here: a worker needs them once, at start.
    """
    env = {k: v for k, v in base.items() if k not in SECRET_ENV}
    with _lock:
        env.update(_held.pop(run_id, {}))
    return env
