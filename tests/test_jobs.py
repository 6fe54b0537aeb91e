"""Background jobs as a user relies on them: start, queue, cancel, kill -9, resume, failures in plain words."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.runner import jobs, train
from genlab.store.runs import RunStore
from tests.helpers import wait_for


def long_config(steps: int = 400, every: int = 5):
    cfg = FAMILIES["vae"].tiny_config()
    return cfg.model_copy(
        update={
            "trainer": cfg.trainer.model_copy(
                update={"max_steps": steps, "max_epochs": 1000, "checkpoint_every_n_steps": every}
            ),
            "logging": cfg.logging.model_copy(update={"sample_every_n_steps": 0}),
        }
    )


def test_start_returns_at_once_and_the_run_completes_with_everything_stored(store: RunStore) -> None:
    run = jobs.start(FAMILIES["vae"].tiny_config(), store)
    assert run.status in ("queued", "running")
    done = jobs.wait(run.id, store, timeout=180)
    assert done.status == "completed", done.error
    assert (done.folder / "config.yaml").exists()
    assert (done.folder / "checkpoints" / "last.ckpt").exists()
    assert store.artifacts(run.id, kind="samples"), "sample grids are stored"
    keys = store.metric_keys(run.id)
    assert {"train/loss", "val/loss", "val/elbo", "val/kl", "val/recon"} <= set(keys)
    assert done.step == 4 and done.best_value is not None


def test_queue_runs_one_at_a_time_and_starts_the_next(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    first = jobs.start(long_config(steps=30), store)
    second = jobs.start(FAMILIES["vae"].tiny_config(), store)
    assert store.get(second.id).status == "queued"
    assert jobs.wait(first.id, store, timeout=180).status == "completed"
    assert jobs.wait(second.id, store, timeout=180).status == "completed"
    assert store.get(second.id).started_at >= store.get(first.id).ended_at - 1


def test_cancel_stops_gracefully_with_a_checkpoint_and_resume_finishes(store: RunStore) -> None:
    run = jobs.start(long_config(steps=2000, every=1000), store)
    wait_for(lambda: store.get(run.id).step >= 3, what="training to start")
    jobs.cancel(run.id, store)
    done = jobs.wait(run.id, store, timeout=120)
    assert done.status == "cancelled"
    assert done.step < 2000
    assert (done.folder / "checkpoints" / "last.ckpt").exists()


def test_kill_9_marks_interrupted_and_resume_continues_without_gaps_or_duplicates(store: RunStore) -> None:
    run = jobs.start(long_config(steps=120, every=5), store)
    ckpt = store.run_folder(run.id) / "checkpoints" / "last.ckpt"
    wait_for(lambda: ckpt.exists() and store.get(run.id).step >= 20, what="a checkpoint")
    os.kill(store.get(run.id).pid, signal.SIGKILL)
    interrupted = wait_for(
        lambda: (r := (jobs.reconcile(store), store.get(run.id))[1]).status == "interrupted" and r,
        what="the run to be marked interrupted",
    )
    assert "stopped without finishing" in interrupted.error
    resumed = jobs.resume(run.id, store)
    assert resumed.status in ("queued", "running") and resumed.resume_count == 1
    done = jobs.wait(run.id, store, timeout=240)
    assert done.status == "completed", done.error
    assert done.step == 120
    steps = [s for s, _ in store.metric_series(run.id, "train/loss")]
    assert steps == sorted(set(steps)), "no duplicate steps"
    assert all(b - a == 1 for a, b in zip(steps, steps[1:], strict=False)), "no gaps"
    assert steps[-1] >= 118


def test_a_failing_run_ends_failed_with_a_readable_error(store: RunStore) -> None:
    cfg = FAMILIES["vae"].tiny_config()
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"batch_size": 500})})
    done = jobs.wait(jobs.start(cfg, store).id, store, timeout=120)
    assert done.status == "failed"
    assert "data.batch_size" in done.error and "lower it" in done.error
    assert "Traceback" in (done.folder / "logs" / "worker.log").read_text()


def test_cancel_and_resume_refuse_runs_in_the_wrong_state(store: RunStore) -> None:
    done = jobs.wait(jobs.start(FAMILIES["vae"].tiny_config(), store).id, store, timeout=180)
    with pytest.raises(GenLabError, match="only queued or running"):
        jobs.cancel(done.id, store)
    with pytest.raises(GenLabError, match="only interrupted"):
        jobs.resume(done.id, store)


@pytest.mark.parametrize("saved_at", [4, 6], ids=["epoch-end", "mid-epoch"])
def test_a_resume_finishes_at_exactly_max_steps_wherever_its_checkpoint_was_saved(
    store: RunStore, saved_at: int
) -> None:
    """A checkpoint written after a batch was counted (an epoch's end, the end of fit) resumed one batch
    ahead before: the kill test's run ended at step 121 of 120 when the kill came just after such a save."""
    first = store.create_run(long_config(steps=saved_at, every=0))
    assert train.fit(store, first.id) == "completed"
    run = store.create_run(long_config(steps=8, every=0))
    folder = store.run_folder(run.id) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(store.run_folder(first.id) / "checkpoints" / "last.ckpt", folder / "last.ckpt")
    assert train.fit(store, run.id, resume=True) == "completed"
    assert store.get(run.id).step == 8
    assert [s for s, _ in store.metric_series(run.id, "train/loss")][-1] == 7, "the 8th batch logs at step 7"
