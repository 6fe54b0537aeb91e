"""Background jobs: one worker process per run, a queue that runs at most N at once.

The UI and CLI call start/cancel/resume and return at once; the worker (`python -m genlab worker ID`)
trains, heartbeats into the run store, and when it ends starts the next queued run. Any caller's
`reconcile` marks runs whose worker died (kill -9, OOM, reboot) as interrupted.
"""

from __future__ import annotations

import errno
import glob
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from genlab import run_secrets
from genlab.config import RunConfig
from genlab.errors import GenLabError
from genlab.parsing import parse_config
from genlab.paths import PROJECT_ROOT
from genlab.registry import get_family
from genlab.runs import FINISHED, Run, RunStore, new_run_id

HEARTBEAT_INTERVAL_S = 2.0


def max_concurrent() -> int:
    """GENLAB_MAX_JOBS, else one per GPU, else one on a CPU machine."""
    env = os.environ.get("GENLAB_MAX_JOBS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise GenLabError(f"GENLAB_MAX_JOBS must be a whole number, got {env!r}") from None
    return max(1, len(glob.glob("/dev/nvidia[0-9]*")))


def start(
    config: RunConfig | dict,
    store: RunStore | None = None,
    *,
    parent_id: str | None = None,
    sweep_id: str | None = None,
    trial_id: int | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Run:
    """Queue a run (writes runs/<id>/config.yaml) and launch it when a slot is free; never blocks.

    `secrets` (the starting user's W&B key) reach only this run's worker, through its environment
    (see genlab.run_secrets); they are never stored.
    """
    config = parse_config(config)
    store = store or RunStore()
    family = get_family(config.family)
    run_id = new_run_id(config.family)
    run = store.create_run(
        config,
        parent_id=parent_id,
        sweep_id=sweep_id,
        trial_id=trial_id,
        monitor=family.monitor,
        run_id=run_id,
        secret_holder=run_secrets.hold(run_id, secrets),
    )
    schedule(store)
    return store.get(run.id)


def schedule(store: RunStore) -> list[str]:
    """Reap dead workers, then launch queued runs while slots are free; returns the ids launched."""
    store.reap_dead()
    launched = []
    me = run_secrets.this_process()
    while (run := store.claim_next(max_concurrent(), holder=me, holder_alive=run_secrets.holder_alive)) is not None:
        _spawn(store, run.id)
        launched.append(run.id)
    return launched


reconcile = schedule


def _spawn(store: RunStore, run_id: str) -> None:
    folder = store.run_folder(run_id)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    log_path = folder / "logs" / "worker.log"
    env = run_secrets.worker_env(os.environ, run_id)  # this run's secrets only, never this process's own
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["GENLAB_HOME"] = str(store.home)
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "genlab", "worker", run_id],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT,
                env=env,
                start_new_session=True,
            )
    except OSError as err:
        store.set_status(run_id, "failed", error=f"Could not start the worker process: {err}")
        return
    store.update(run_id, pid=proc.pid, secret_holder=None)
    if not store.artifacts(run_id, kind="log"):
        store.add_artifact(run_id, "log", log_path, name="worker")
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it ends (no zombies)


def cancel(run_id: str, store: RunStore | None = None) -> Run:
    """Queued: cancelled at once. Running: the worker finishes its step, saves a checkpoint and stops."""
    store = store or RunStore()
    run = store.get(run_id)
    if run.status == "queued":
        store.set_status(run_id, "cancelled")
    elif run.status == "running":
        store.request_cancel(run_id)
    else:
        raise GenLabError(f"Run {run_id} is {run.status}; only queued or running runs can be cancelled")
    return store.get(run_id)


def resume(run_id: str, store: RunStore | None = None, *, secrets: Mapping[str, str] | None = None) -> Run:
    """Continue an interrupted, cancelled or failed run from its last checkpoint, in the same run.

    `secrets`: the resuming user's W&B key, for this run's worker only (as in start)."""
    store = store or RunStore()
    store.reap_dead()
    run = store.get(run_id)
    if run.status not in ("interrupted", "cancelled", "failed"):
        raise GenLabError(f"Run {run_id} is {run.status}; only interrupted, cancelled or failed runs can be resumed")
    if not (run.folder / "checkpoints" / "last.ckpt").exists():
        raise GenLabError(
            f"Run {run_id} has no checkpoint to resume from (it stopped before the first one was saved). "
            f"Start it again with: python -m genlab train --config {run.folder / 'config.yaml'}"
        )
    store.update(
        run_id,
        secret_holder=run_secrets.hold(run_id, secrets),
        status="queued",
        resume_requested=1,
        resume_count=run.resume_count + 1,
        cancel_requested=0,
        error=None,
        warning=None,
        ended_at=None,
        pid=None,
    )
    schedule(store)
    return store.get(run_id)


def wait(
    run_id: str,
    store: RunStore | None = None,
    timeout: float | None = None,
    poll_s: float = 0.5,
    on_update: Callable[[Run], None] | None = None,
) -> Run:
    """Block until the run has finished (or timeout seconds pass); reaps dead workers as it polls."""
    store = store or RunStore()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        schedule(store)
        run = store.get(run_id)
        if on_update:
            on_update(run)
        if run.status in FINISHED:
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        time.sleep(poll_s)


def cli_command(run_or_path: Run | str | Path) -> str:
    """The CLI twin of a run: the command that replays it from its saved config."""
    path = run_or_path.folder / "config.yaml" if isinstance(run_or_path, Run) else Path(run_or_path)
    return f"python -m genlab train --config {path}"


# -- the worker process ---------------------------------------------------------------------------


def _is_rank_zero() -> bool:
    """Lightning's DDP launcher re-runs this command per rank with LOCAL_RANK/NODE_RANK set."""
    return (
        os.environ.get("LOCAL_RANK", "0") == "0"
        and os.environ.get("NODE_RANK", "0") == "0"
        and os.environ.get("RANK", "0") == "0"
    )


def _share_cpu_threads() -> None:
    """Split the CPU cores between the runs allowed at once: oversubscribed threads make CPU training
    many times slower. OMP_NUM_THREADS, when set, wins."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max_concurrent()))


def explain(err: BaseException, config: RunConfig | None) -> str:
    """A message a non-coder can act on, for any exception that ends a run."""
    if isinstance(err, GenLabError):
        return str(err)
    bs = config.data.batch_size if config is not None and hasattr(config.data, "batch_size") else None
    lower = f" lower data.batch_size to {max(1, bs // 2)} or less" if bs else " lower the batch size"
    name = type(err).__name__
    if name == "OutOfMemoryError" or "CUDA out of memory" in str(err):
        return f"CUDA out of memory:{lower}, or use a smaller model or precision bf16-mixed"
    if isinstance(err, MemoryError):
        return f"Out of memory (RAM):{lower}, or use a smaller model or fewer images"
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return "The disk is full: free some space (delete old runs or checkpoints) and resume the run"
    return f"{name}: {err}"


def run_worker(run_id: str, store: RunStore | None = None) -> int:
    """Entry of `python -m genlab worker ID`: train the run, record how it ended, start the next one."""
    from genlab.train import fit

    store = store or RunStore()
    run = store.get(run_id)
    _share_cpu_threads()
    if not _is_rank_zero():  # a DDP child rank: train only; rank zero owns the run's status
        fit(store, run_id, resume=run.resume_requested, config=store.load_config(run_id))
        return 0
    store.update(run_id, pid=os.getpid(), heartbeat=time.time())
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                store.update(run_id, heartbeat=time.time())
            except Exception:  # noqa: BLE001 - a busy database must not kill the heartbeat thread
                pass

    threading.Thread(target=beat, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: store.request_cancel(run_id))
    config = None
    code = 0
    try:
        config = store.load_config(run_id)  # parsed once, here; the module receives it as it is
        status = fit(store, run_id, resume=run.resume_requested, config=config)
        store.set_status(run_id, status)
    except BaseException as err:  # noqa: BLE001 - every failure must end up in the store
        traceback.print_exc()
        store.set_status(run_id, "failed", error=explain(err, config))
        code = 1
    finally:
        stop.set()
        store.update(run_id, resume_requested=0, heartbeat=time.time())
        sys.stdout.flush()
        try:
            schedule(store)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    return code
