"""Fault injection: kill -9 inside checkpoint and store writes, racing resumes and cancels, a full disk,
a read-only home and SIGTERM inside a store transaction. Every run must resume and finish with exactly
the metrics an uninterrupted run has: none lost, none doubled, no torn checkpoint left behind.

Kill points are drawn from a seeded generator (24 points); a representative few run by default, all of
them under -m slow (tests/fault_worker.py does the killing; see its docstring).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from genlab.core import atomic
from genlab.core.checkpoint_files import checkpoint_is_whole
from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.store.runs import RunStateError, RunStore, StoreUnavailable
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent
FAULT_WORKER = ROOT / "tests" / "fault_worker.py"
CKPT_PHASES = ("mid-write", "before-rename", "after-rename")
STORE_PHASES = ("in-transaction", "after-commit")


def fault_config(steps_per_epoch: int = 4, epochs: int = 5, every: int = 3):
    cfg = FAMILIES["vae"].tiny_config()
    return cfg.model_copy(
        update={
            "trainer": cfg.trainer.model_copy(
                update={
                    "max_epochs": epochs,
                    "limit_train_batches": steps_per_epoch,
                    "checkpoint_every_n_steps": every,
                    "log_every_n_steps": 1,
                }
            ),
            "logging": cfg.logging.model_copy(update={"sample_every_n_steps": 0}),
        }
    )


def fault_points(n: int = 24, seed: int = 16) -> list[tuple[str, int, str]]:
    rng = random.Random(seed)
    points = []
    for i in range(n):
        if i % 2 == 0:
            points.append(("ckpt", rng.randint(1, 4), CKPT_PHASES[(i // 2) % 3]))
        else:
            points.append(("store", rng.randint(1, 40), STORE_PHASES[(i // 2) % 2]))
    return points


POINTS = fault_points()
DEFAULT_POINTS = {0, 1}  # a torn checkpoint temp file and a kill inside a store transaction; the rest: -m slow


def in_process_worker(store: RunStore, run_id: str) -> None:
    """Run the real worker entry in this process (no start-up cost); keep pytest's SIGTERM handler."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        jobs.run_worker(run_id, store)
    finally:
        signal.signal(signal.SIGTERM, previous)


def series(store: RunStore, run_id: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in store.metrics(run_id):
        out.setdefault(row["key"], []).append(row["step"])
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[int]]:
    """The metric steps of an uninterrupted run of the fault config."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("reference_home")
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run = store.create_run(fault_config())
        store.claim_next(1)
        in_process_worker(store, run.id)
        assert store.get(run.id).status == "completed"
        return series(store, run.id)


def worker_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, GENLAB_HOME=str(home))
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def kill_at(store: RunStore, home: Path, point: tuple[str, int, str]) -> tuple[str, subprocess.CompletedProcess]:
    kind, nth, phase = point
    run = store.create_run(fault_config())
    store.claim_next(1)
    proc = subprocess.run(
        [sys.executable, str(FAULT_WORKER), run.id, kind, str(nth), phase],
        env=worker_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return run.id, proc


def _report(proc, fired: bool, status: str, got: dict, reference: dict) -> None:
    """With GENLAB_FAULT_REPORT=file, append one JSON line per fault (the numbers in docs/BENCHMARKS.md)."""
    out = os.environ.get("GENLAB_FAULT_REPORT")
    if not out:
        return
    want = {(k, s) for k, steps in reference.items() for s in steps}
    have = [(k, s) for k, steps in got.items() for s in steps]
    line = {
        "point": proc.args[-3:],
        "fired": fired,
        "recovered": status == "completed",
        "metrics_expected": len(want),
        "metrics_lost": len(want - set(have)),
        "metrics_doubled": len(have) - len(set(have)),
        "metrics_extra": len(set(have) - want),
    }
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def recover_and_check(store: RunStore, run_id: str, proc: subprocess.CompletedProcess, reference) -> bool:
    """Reap, resume, finish; assert nothing was lost or doubled. True when the fault fired."""
    fired = proc.returncode == -signal.SIGKILL
    if fired:
        store.reap_dead()
        assert store.get(run_id).status == "interrupted", proc.stdout[-2000:]
        jobs.request_resume(run_id, store)
        assert store.claim_next(1).id == run_id
        in_process_worker(store, run_id)
    else:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = store.get(run_id)
    got = series(store, run_id)
    _report(proc, fired, run.status, got, reference)
    assert run.status == "completed", run.error
    assert got == reference, "every metric of every step exactly once"
    folder = store.run_folder(run_id) / "checkpoints"
    assert checkpoint_is_whole(folder / "last.ckpt")
    assert not [p.name for p in folder.iterdir() if atomic.TEMP_MARK in p.name], "no temp files left"
    return fired


@pytest.mark.parametrize(
    "index",
    [pytest.param(i, marks=() if i in DEFAULT_POINTS else pytest.mark.slow) for i in range(len(POINTS))],
)
def test_kill_9_inside_a_write_then_resume_loses_and_doubles_no_metric(store, home, reference, index) -> None:
    run_id, proc = kill_at(store, home, POINTS[index])
    recover_and_check(store, run_id, proc, reference)
    assert proc.returncode == -signal.SIGKILL, f"fault {POINTS[index]} did not fire: {proc.stdout[-1500:]}"


@pytest.mark.slow
def test_resume_skips_a_torn_last_checkpoint_and_says_which_it_used(store, home, reference, capsys) -> None:
    run_id, proc = kill_at(store, home, ("ckpt", 2, "before-rename"))
    assert proc.returncode == -signal.SIGKILL
    folder = store.run_folder(run_id) / "checkpoints"
    last = folder / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a torn file from an older GenLab
    (folder / "best-step3.ckpt").write_bytes(b"")  # and an empty one
    store.reap_dead()
    jobs.request_resume(run_id, store)
    store.claim_next(1)
    in_process_worker(store, run_id)
    out = capsys.readouterr().out
    assert "last.ckpt" in out and "damaged" in out
    assert store.get(run_id).status == "completed"
    assert series(store, run_id) == reference


def interrupted_run(store: RunStore) -> str:
    """A run with a real checkpoint, marked as if its worker had died."""
    run = store.create_run(fault_config(steps_per_epoch=2, epochs=1, every=1))
    store.claim_next(1)
    in_process_worker(store, run.id)
    store.set_status(run.id, "interrupted", error="worker died")
    return run.id


def race(*actions):
    """Start the actions at the same instant on their own threads (own store connections); their results."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def go(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except GenLabError as err:
            results[i] = err

    threads = [threading.Thread(target=go, args=(i, fn)) for i, fn in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_concurrent_resumes_queue_the_run_once(store: RunStore, home: Path) -> None:
    run_id = interrupted_run(store)
    for _ in range(5):
        store.set_status(run_id, "interrupted")
        count = store.get(run_id).resume_count
        results = race(*(lambda: jobs.request_resume(run_id, RunStore(home)) for _ in range(4)))
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, RunStateError) for r in results if r is not None)
        run = store.get(run_id)
        assert run.status == "queued" and run.resume_count == count + 1


@pytest.mark.slow
def test_two_resume_commands_at_once_start_one_worker(store: RunStore, home: Path) -> None:
    run_id = interrupted_run(store)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "genlab", "resume", run_id],
            env=worker_env(home),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    loser = next(o for p, o in zip(procs, outs, strict=True) if p.returncode == 2)
    assert "Traceback" not in loser[1] and "error:" in loser[1]
    done = jobs.wait(run_id, store, timeout=300)
    assert done.status == "completed", done.error
    assert done.resume_count == 1


def test_resume_racing_cancel_never_leaves_a_cancelled_run_training(store: RunStore, home: Path) -> None:
    run_id = interrupted_run(store)
    for _ in range(6):
        store.set_status(run_id, "interrupted")
        store.update(run_id, cancel_requested=0)
        a, b = RunStore(home), RunStore(home)
        resumed, cancelled = race(lambda a=a: jobs.request_resume(run_id, a), lambda b=b: jobs.cancel(run_id, b))
        assert resumed is None, "resuming an interrupted run always works"
        run = store.get(run_id)
        if isinstance(cancelled, RunStateError):  # the cancel came first and found nothing to cancel
            assert run.status == "queued"
        else:  # the cancel came second and cancelled the queued run: no worker may pick it up
            assert run.status == "cancelled"
            assert store.claim_next(1) is None


@pytest.mark.slow
def test_a_worker_whose_run_was_taken_away_stops_without_writing(store: RunStore, home: Path) -> None:
    cfg = fault_config(steps_per_epoch=4, epochs=500, every=50)
    run = jobs.start(cfg, store)
    wait_for(lambda: store.get(run.id).step >= 2, timeout=180, what="training to start")
    pid = store.get(run.id).pid
    # What a force stop on another machine does: the store says cancelled while the worker still trains.
    assert store.transition(run.id, ("running",), "cancelled", error="stopped elsewhere")
    wait_for(lambda: not _alive(pid), timeout=120, what="the worker to notice and exit")
    after = store.get(run.id)
    assert after.status == "cancelled" and after.error == "stopped elsewhere", "the worker wrote no final status"
    store.delete(run.id)
    assert not store.run_folder(run.id).exists()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def test_deleting_a_live_run_is_refused_and_force_stop_kills_a_hung_worker(store: RunStore, home: Path) -> None:
    cfg = fault_config(steps_per_epoch=4, epochs=500, every=4)
    run = jobs.start(cfg, store)
    wait_for(
        lambda: (store.run_folder(run.id) / "checkpoints" / "last.ckpt").exists(), timeout=180, what="a checkpoint"
    )
    with pytest.raises(RunStateError, match="cancel it"):
        store.delete(run.id)
    pid = store.get(run.id).pid
    os.kill(pid, signal.SIGSTOP)  # a hung worker: it never reads the cancel flag
    try:
        done = jobs.cancel(run.id, store, force=True, grace_s=1.0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert done.status == "cancelled" and "Force-stopped" in done.error
    wait_for(lambda: not _alive(pid), timeout=30, what="the hung worker to be killed")
    assert checkpoint_is_whole(store.run_folder(run.id) / "checkpoints" / "last.ckpt")
    store.delete(run.id)


def test_sigterm_inside_a_store_transaction_cancels_the_run(store: RunStore, home: Path) -> None:
    run_id, proc = kill_at(store, home, ("store", 3, "sigterm"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    run = store.get(run_id)
    assert run.status == "cancelled", run.error
    assert "within a transaction" not in proc.stdout + proc.stderr
    assert checkpoint_is_whole(store.run_folder(run_id) / "checkpoints" / "last.ckpt")


# -- a full disk and a read-only home --------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: str = "3m"):
    """A real tmpfs of `size` at path (root); None when this machine does not allow mounting."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the disk under folder to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A GENLAB_HOME whose disk is full: a real small tmpfs, else a writer patched to raise ENOSPC."""
    with small_disk(tmp_path / "disk") as disk:
        home = (disk or tmp_path) / "home"
        monkeypatch.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        store.close()
        if disk is not None:
            fill(disk)
        else:
            real_open = open

            def no_space(path, mode="r", *a, **k):
                if "w" in mode and str(path).startswith(str(home)):
                    raise OSError(errno.ENOSPC, "No space left on device")
                return real_open(path, mode, *a, **k)

            monkeypatch.setattr(atomic, "open", no_space, raising=False)
        yield home


def test_a_full_disk_leaves_no_empty_upload_and_no_orphan_run(full_disk: Path, tmp_path: Path) -> None:
    from genlab.data.api import import_text_upload

    source = tmp_path / "notes.txt"
    source.write_text("To be, or not to be, that is the question.\n" * 2000, encoding="utf-8")
    with pytest.raises(GenLabError, match="disk is full"):
        import_text_upload("notes", source)
    uploads = full_disk / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir()), "no 0-byte upload is listed"
    with pytest.raises(GenLabError, match="disk.* full"):
        RunStore(full_disk).create_run(FAMILIES["vae"].tiny_config())
    assert list((full_disk / "runs").iterdir()) == [], "no orphan run folder"


def test_a_read_only_home_is_read_and_a_write_gives_one_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "ro" / "home"
    with small_disk(tmp_path / "ro") as disk:
        RunStore(home).close()
        if disk is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        else:
            for p in [home, *home.rglob("*")]:
                p.chmod(0o555 if p.is_dir() else 0o444)
        run = partial(subprocess.run, env=worker_env(home), cwd=ROOT, capture_output=True, text=True)
        listed = run([sys.executable, "-m", "genlab", "runs", "list"])
        assert listed.returncode == 0 and "No runs yet" in listed.stdout, listed.stderr
        proc = run([sys.executable, "-m", "genlab", "train", "--config", "configs/vae_mnist.yaml"])
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "GENLAB_HOME" in proc.stderr
        with pytest.raises(StoreUnavailable):
            RunStore(home).create_run(FAMILIES["vae"].tiny_config())


# -- checkpoints at epoch ends, the queue and how a worker ended -------------------------------------------


def test_a_run_saving_only_at_epoch_ends_resumes_after_a_kill(store: RunStore, home: Path) -> None:
    """checkpoint_every_n_steps 0 promises a last checkpoint at each epoch end: a kill mid-run resumes."""
    cfg = fault_config(steps_per_epoch=4, epochs=4, every=0)
    run = store.create_run(cfg)
    store.claim_next(1)
    proc = subprocess.run(
        [sys.executable, str(FAULT_WORKER), run.id, "store", "6", "after-commit"],
        env=worker_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert checkpoint_is_whole(store.run_folder(run.id) / "checkpoints" / "last.ckpt")
    store.reap_dead()
    jobs.request_resume(run.id, store)
    store.claim_next(1)
    in_process_worker(store, run.id)
    done = store.get(run.id)
    assert done.status == "completed" and done.step == 16, done.error
    steps = [s for s, _ in store.metric_series(run.id, "train/loss")]
    assert steps == list(range(1, 17)) or steps == list(range(0, 16)), steps


def test_a_resumed_run_queues_behind_runs_queued_before_it(store: RunStore) -> None:
    older = store.create_run(FAMILIES["vae"].tiny_config(), run_id="older")
    torch_save_minimal(store.run_folder("older") / "checkpoints" / "last.ckpt")
    store.set_status("older", "interrupted")
    waiting = store.create_run(FAMILIES["vae"].tiny_config(), run_id="waiting")
    jobs.request_resume(older.id, store)
    assert store.claim_next(2).id == waiting.id, "queued first, runs first"
    assert store.claim_next(2).id == older.id


def torch_save_minimal(path: Path) -> None:
    import torch

    torch.save({"state_dict": {}}, path)


def test_an_oom_kill_is_reported_as_out_of_memory_and_not_resumed_blindly(store: RunStore) -> None:
    assert jobs.death_reason(-signal.SIGKILL, 3, 4).startswith(jobs.OOM_MARK)
    assert "stopped without finishing" in jobs.death_reason(-signal.SIGKILL, 3, 3)
    assert "stopped without finishing" in jobs.death_reason(1, None, None)
    run = store.create_run(FAMILIES["vae"].tiny_config())
    torch_save_minimal(run.folder / "checkpoints" / "last.ckpt")
    store.set_status(run.id, "failed", error=jobs.death_reason(-signal.SIGKILL, 0, 1))
    with pytest.raises(GenLabError, match="out of memory.*batch_size"):
        jobs.request_resume(run.id, store)
    jobs.request_resume(run.id, store, force=True)
    assert store.get(run.id).status == "queued"


def test_a_killed_worker_still_starts_the_next_queued_run(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """No UI and no CLI polling: the supervisor of the killed trainer moves the queue itself."""
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    first = jobs.start(fault_config(steps_per_epoch=4, epochs=500, every=50), store)
    second = jobs.start(fault_config(steps_per_epoch=2, epochs=1, every=0), store)
    assert store.get(second.id).status == "queued"
    wait_for(lambda: store.get(first.id).step >= 2, timeout=240, what="the first run to train")
    os.kill(store.get(first.id).pid, signal.SIGKILL)
    wait_for(lambda: store.get(second.id).status == "completed", timeout=300, what="the queued run to be started")
    gone = store.get(first.id)
    assert gone.status == "interrupted" and "SIGKILL" in gone.error


def test_a_run_is_live_from_its_claim_before_its_worker_looks_like_genlab(store: RunStore, home: Path, capsys) -> None:
    """The few moments between the claim and the worker's exec: its process does not say `genlab` yet,
    and delete and resume must still see the run as live."""
    from genlab.cli.main import main

    run = store.create_run(FAMILIES["vae"].tiny_config(), run_id="starting")
    assert store.claim_next(4).id == run.id
    # A forked child before exec carries its parent's command line: here, one without "genlab" in it.
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert store.own(run.id, child.pid)
        assert main(["runs", "delete", run.id, "--yes"]) == 2
        assert "cancel it" in capsys.readouterr().err
        assert main(["resume", run.id]) == 2
        assert store.get(run.id).status == "running" and run.folder.exists()
        assert not store.own(run.id, child.pid + 1), "a second worker finds the run taken"
        store.update(run.id, heartbeat=0.0)  # long silent: an unrelated program that took the pid over
        assert store.reap_dead() == [run.id]
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_a_checkpoint_write_that_runs_out_of_room_says_the_disk_is_full() -> None:
    """torch.save into a full device loses the errno ("inline_container.cc ... unexpected pos"); the run
    still ends with the disk-full message, like every other write path."""
    import torch

    try:
        torch.save({"w": torch.zeros(100_000)}, "/dev/full")  # every write to /dev/full fails with ENOSPC
    except RuntimeError as err:
        failure = err
    else:
        raise AssertionError("writing to /dev/full should fail")
    assert jobs.explain(failure, None).startswith("The disk is full")
    assert jobs.explain(OSError(errno.ENOSPC, "No space left on device"), None).startswith("The disk is full")
    assert jobs.explain(RuntimeError("something else"), None) == "RuntimeError: something else"
