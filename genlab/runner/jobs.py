"""Background jobs: one worker process per run, a queue that runs at most N at once.

The UI and CLI call start/cancel/resume and return at once. `python -m genlab worker ID` is a small
supervisor (no torch) that starts the training process, waits for it, records how it ended (a kill by
the kernel's OOM killer is reported as out of memory) and starts the next queued run, so the queue moves
even when the trainer was killed and no UI is open. The trainer owns its run by pid: every progress
write and its final status are compare-and-sets that fail once the run was force-stopped, resumed by
someone else or deleted, and the trainer then stops. Any caller's `reconcile` marks runs whose worker
died (kill -9, reboot) as interrupted.
"""

from __future__ import annotations

import errno
import glob
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.core.checkpoint_files import find_resume_checkpoint
from genlab.core.errors import GenLabError
from genlab.core.paths import PROJECT_ROOT
from genlab.core.procs import spawn_detached
from genlab.store import run_secrets
from genlab.store.lease import WorkerBeat, until_online
from genlab.store.runs import FINISHED, Run, RunStateError, RunStore, new_run_id

if TYPE_CHECKING:
    from genlab.core.config import RunConfig

RESUMABLE = ("interrupted", "cancelled", "failed", "pruned")
FORCE_GRACE_S = 10.0
OOM_MARK = "Out of memory"
INTERRUPTED_TEXT = (
    "The worker process stopped without finishing (killed or the machine restarted). Resume continues from the"
    " last checkpoint."
)


def max_concurrent() -> int:
    """GENLAB_MAX_JOBS, else one per GPU, else one on a CPU machine."""
    env = os.environ.get("GENLAB_MAX_JOBS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise GenLabError(f"GENLAB_MAX_JOBS must be a whole number, got {env!r}") from None
    return max(1, gpu_count())


def gpu_count() -> int:
    return len(glob.glob("/dev/nvidia[0-9]*"))


def check_devices(config: RunConfig) -> None:
    """trainer.devices against this machine, before anything is written (not late, in the worker)."""
    t = config.trainer
    if t.devices == "auto":
        return
    gpus = gpu_count()
    if t.accelerator == "gpu" or (t.accelerator == "auto" and gpus):
        if t.devices > gpus:
            raise GenLabError(
                f"trainer.devices is {t.devices} but this machine has {gpus} GPU(s); use {max(gpus, 1)} or auto"
            )
    elif t.devices > (os.cpu_count() or 1):
        raise GenLabError(
            f"trainer.devices is {t.devices} CPU processes but this machine has {os.cpu_count()} cores; use at most "
            f"{os.cpu_count()} (1 is usually fastest on a CPU)"
        )


def start(
    config: RunConfig | dict,
    store: RunStore | None = None,
    *,
    parent_id: str | None = None,
    sweep_id: str | None = None,
    trial_id: int | None = None,
    secrets: Mapping[str, str] | None = None,
    untrusted_paths: bool = False,
) -> Run:
    """Queue a run (writes runs/<id>/config.yaml) and launch it when a slot is free; never blocks.

    `secrets` (the starting user's W&B key) reach only this run's worker, through its environment
    (see genlab.store.run_secrets); they are never stored. untrusted_paths: the config came from the web UI,
    so its data and model paths must lie under GENLAB_HOME's uploads or GENLAB_DATA_ROOTS (the CLI
    passes False and keeps any path).
    """
    # the configs and families load here, not at import: `runs list` and the UI's polls only reconcile
    from genlab.core.parsing import parse_config
    from genlab.core.registry import get_family
    from genlab.data.paths import confine_config_paths

    config = parse_config(config)
    check_devices(config)
    if untrusted_paths:
        confine_config_paths(config)
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
    """Reap dead workers, then launch queued runs while slots are free, and start a due retraining
    (genlab/runner/retrain_jobs.py); returns the run ids launched.

    A store opened read-only (its folder cannot be written) is only read: nothing is reaped or launched."""
    if store.db.read_only:
        return []
    store.reap_dead()
    launched = []
    me = run_secrets.this_process()
    while (run := store.claim_next(max_concurrent(), holder=me, holder_alive=run_secrets.holder_alive)) is not None:
        _spawn(store, run.id)
        launched.append(run.id)
    from genlab.runner.retrain_jobs import start_due_retraining  # late: it reads ratings (use -> jobs)

    start_due_retraining(store)  # the retraining loop with no cron: a due schedule starts its fine-tune + gate
    return launched


reconcile = schedule


def _spawn(store: RunStore, run_id: str) -> None:
    folder = store.run_folder(run_id)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    log_path = folder / "logs" / "worker.log"
    env = run_secrets.worker_env(os.environ, run_id)  # this run's secrets only, never this process's own
    env["GENLAB_HOME"] = str(store.home)
    try:
        proc = spawn_detached([sys.executable, "-m", "genlab", "worker", run_id], log_path, env)
    except OSError as err:
        store.set_status(run_id, "failed", error=f"Could not start the worker process: {err}")
        return
    store.own(run_id, proc.pid)  # the supervisor's pid until its trainer takes the run over
    store.update(run_id, secret_holder=None)  # the secrets went with the worker's environment
    if not store.artifacts(run_id, kind="log"):
        store.add_artifact(run_id, "log", log_path, name="worker")


def cancel(run_id: str, store: RunStore | None = None, *, force: bool = False, grace_s: float = FORCE_GRACE_S) -> Run:
    """Queued: cancelled at once. Running: the worker finishes its step, saves a checkpoint and stops.

    force: a worker that has not stopped after grace_s (a hung data loader, DDP waiting for a node) is
    killed with SIGKILL; the run ends cancelled and keeps its last good checkpoint (checkpoints are
    written atomically, so a kill mid-write never tears one).
    """
    store = store or RunStore()
    if store.transition(run_id, ("queued",), "cancelled"):
        return store.get(run_id)
    if not store.request_cancel(run_id):
        run = store.get(run_id)
        raise RunStateError(f"Run {run_id} is {run.status}; only queued or running runs can be cancelled")
    if force:
        deadline = time.monotonic() + grace_s
        while store.get(run_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        run = store.get(run_id)
        if run.status == "running":
            pid = run.pid
            text = (
                f"Force-stopped: the worker did not stop within {grace_s:.0f} s of the cancel request and was killed."
                " The last good checkpoint is kept; Resume continues from it."
            )
            if store.transition(run_id, ("running",), "cancelled", error=text, cancel_requested=0):
                _kill_worker(pid, run.host)
    return store.get(run_id)


def prune(run_id: str, store: RunStore | None = None) -> Run:
    """A sweep gave up on this trial: stop it like a cancel (checkpoint kept) and mark it `pruned`."""
    store = store or RunStore()
    if not store.transition(run_id, ("queued",), "pruned"):
        store.request_cancel(run_id, prune=True)
    return store.get(run_id)


def _kill_worker(pid: int | None, host: str | None) -> None:
    """SIGKILL the worker's whole process group (supervisor, trainer, data-loader children); local only."""
    if not pid or host not in (None, socket.gethostname()):
        return
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def resume(
    run_id: str, store: RunStore | None = None, *, force: bool = False, secrets: Mapping[str, str] | None = None
) -> Run:
    """Continue an interrupted, cancelled or failed run from its newest good checkpoint, in the same run.

    A run the OOM killer stopped is not resumed unchanged (it would run out of memory again) unless force.
    `secrets`: the resuming user's W&B key, for this run's worker only (as in start).
    """
    store = store or RunStore()
    request_resume(run_id, store, force=force, secrets=secrets)
    schedule(store)
    return store.get(run_id)


def request_resume(
    run_id: str, store: RunStore, *, force: bool = False, secrets: Mapping[str, str] | None = None
) -> None:
    """Check the run can resume and queue it again, in one compare-and-set (two resumes: one wins)."""
    store.reap_dead()
    run = store.get(run_id)
    if run.status not in RESUMABLE:
        raise RunStateError(
            f"Run {run_id} is {run.status}; only interrupted, cancelled, failed or pruned runs can be resumed"
        )
    if find_resume_checkpoint(run.folder / "checkpoints") is None:
        raise GenLabError(
            f"Run {run_id} has no checkpoint to resume from (it stopped before the first one was saved). "
            f"Start it again with: python -m genlab train --config {run.folder / 'config.yaml'}"
        )
    if not force and (run.error or "").startswith(OOM_MARK):
        raise GenLabError(
            f"Run {run_id} was stopped for running out of memory; resuming it unchanged would do the same. "
            f"Start it again with a smaller batch: python -m genlab train --config {run.folder / 'config.yaml'} "
            "--set data.batch_size=N, or resume anyway with --force"
        )
    moved = store.transition(
        run_id,
        RESUMABLE,
        "queued",
        secret_holder=run_secrets.hold(run_id, secrets),
        resume_requested=1,
        resume_count=run.resume_count + 1,
        cancel_requested=0,
        error=None,
        warning=None,
        ended_at=None,
        pid=None,
        queued_at=time.time(),
    )
    if not moved:
        now = store.get(run_id).status
        raise RunStateError(f"Run {run_id} was just changed by another action and is now {now}; nothing to resume")


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
    if disk_full(err):
        return "The disk is full: free some space (delete old runs or checkpoints) and resume the run"
    return f"{name}: {err}"


# How torch's zip writer reports a write that ran out of room (it loses the errno on the way).
_TORCH_WRITE_FAILED = ("unexpected pos", "PytorchStreamWriter failed writing", "iostream error", "file write failed")


def disk_full(err: BaseException) -> bool:
    """True for ENOSPC anywhere in the exception chain, and for torch.save's own words for a failed write."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, RuntimeError) and any(w in str(e) for w in _TORCH_WRITE_FAILED):
            return True
        e = e.__cause__ or e.__context__
    return False


def run_worker(run_id: str, store: RunStore | None = None, *, supervisor_pid: int | None = None) -> int:
    """The trainer: take the run (if nobody else has), train it, record how it ended, start the next one."""
    from genlab.runner.train import fit

    store = store or RunStore()
    run = store.get(run_id)
    _share_cpu_threads()
    if not _is_rank_zero():  # a DDP child rank: train only; rank zero owns the run's status
        fit(store, run_id, resume=run.resume_requested, config=store.load_config(run_id))
        return 0
    me = os.getpid()
    if not store.own(run_id, me, previous=supervisor_pid):
        print(f"Run {run_id} is {store.get(run_id).status} and owned by another worker; this one exits", flush=True)
        return 0
    stop = threading.Event()

    def on_sigterm(*_: object) -> None:
        # Only set flags here: the signal can arrive inside a store transaction of this thread, and a write
        # from the handler would nest in it. The flag stops training at the next batch; the store's cancel
        # flag is written from another thread (its own connection) so the UI shows it at once.
        stop.set()
        threading.Thread(target=_quiet(store.request_cancel), args=(run_id,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    config = None
    code = 0
    try:
        config = store.load_config(run_id)  # parsed once, here; the module receives it as it is
        status = fit(store, run_id, resume=run.resume_requested, config=config, owner_pid=me, stop_event=stop)
        if status == "cancelled" and store.prune_requested(run_id):
            status = "pruned"  # a sweep stopped this trial
        if status == "lost":
            print(f"Run {run_id} was force-stopped, resumed elsewhere or deleted; this worker stopped", flush=True)
        elif not until_online(lambda: store.transition(run_id, ("running",), status, pid=me, error=None)):
            print(f"Run {run_id} changed hands before it could be marked {status}", flush=True)
    except BaseException as err:  # noqa: BLE001 - every failure must end up in the store
        traceback.print_exc()
        try:
            store.transition(run_id, ("running",), "failed", pid=me, error=explain(err, config))
        except Exception:  # noqa: BLE001 - a deleted run or an unwritable store: the log keeps the traceback
            traceback.print_exc()
        code = 1
    finally:
        _quiet(store.update)(run_id, resume_requested=0)
        sys.stdout.flush()
        try:
            schedule(store)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    return code


def _quiet(fn: Callable[..., object]) -> Callable[..., None]:
    """fn, with store errors (a deleted run, a busy or read-only store) printed instead of raised."""

    def call(*args: object, **kwargs: object) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            print(f"store: {type(err).__name__}: {err}", flush=True)

    return call


def oom_kills() -> int | None:
    """The kernel's count of processes its OOM killer ended (cgroup first, then the whole machine)."""
    for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"), ("/proc/vmstat", "oom_kill")):
        try:
            for line in Path(path).read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            continue
    return None


def death_reason(returncode: int, oom_before: int | None, oom_after: int | None) -> str:
    """What to tell the user about a trainer that ended without recording its status."""
    if returncode == -signal.SIGKILL and oom_before is not None and oom_after is not None and oom_after > oom_before:
        return (
            f"{OOM_MARK}: the system killed the training process because the machine ran out of memory. Lower "
            "data.batch_size, use a smaller model, or run fewer jobs at once (GENLAB_MAX_JOBS), then start it again"
        )
    if returncode < 0:
        return f"{INTERRUPTED_TEXT} (signal {signal.Signals(-returncode).name})"
    return f"{INTERRUPTED_TEXT} (exit code {returncode})"


def supervise(run_id: str) -> int:
    """Entry of `python -m genlab worker ID`: start the trainer, wait, say how it ended, move the queue."""
    store = RunStore()
    me = os.getpid()
    if not store.own(run_id, me, previous=me):
        print(f"Run {run_id} is {store.get(run_id).status} and owned by another worker; this one exits", flush=True)
        return 0
    before = oom_kills()
    env = dict(os.environ, GENLAB_SUPERVISOR_PID=str(me))
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "worker", "--train", run_id], env=env, cwd=PROJECT_ROOT)
    signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    # The trainer takes the run over (its pid): the beat follows whoever owns it, so another machine can
    # tell this live worker (in a long validation, or loading data) from a dead machine.
    with WorkerBeat(store, run_id):
        code = proc.wait()
    if code != 0:
        reason = death_reason(code, before, oom_kills())
        status = "failed" if reason.startswith(OOM_MARK) else "interrupted"
        for owner in (proc.pid, me):
            if store.transition(run_id, ("running",), status, pid=owner, error=reason):
                print(reason, flush=True)
                break
    try:
        schedule(store)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    return 0 if code == 0 else 1
