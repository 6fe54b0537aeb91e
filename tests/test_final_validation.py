"""Every run ends with its monitored metric: a run stopped by max_steps, by a cancel, or whose last epoch is
not a validation epoch still validates once at its last batch, through Lightning's own loop (the same
metric, logged at the same step as any validation after that batch, and the best checkpoint chosen by it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.cli.main import main
from genlab.core.parsing import load_config
from genlab.core.registry import FAMILIES
from genlab.runner.train import fit_module
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

PRESETS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


def vae(**trainer):
    cfg = FAMILIES["vae"].tiny_config()
    return cfg.model_copy(
        update={
            "trainer": cfg.trainer.model_copy(update=trainer),
            "logging": cfg.logging.model_copy(update={"sample_every_n_steps": 0}),
        }
    )


def test_a_run_stopped_by_max_steps_mid_epoch_ends_with_its_metric_and_best_checkpoint(home: Path) -> None:
    store = RunStore(home)
    run_id, _ = train_tiny(store, FAMILIES["vae"], vae(max_epochs=10, limit_train_batches=8, max_steps=3))
    run = store.get(run_id)
    assert run.status == "completed" and run.step == 3
    series = store.metric_series(run_id, "val/loss")
    # one validation, logged at the step of the batch it follows (as the train metrics of that batch are)
    assert [s for s, _ in series] == [2] == [s for s, _ in store.metric_series(run_id, "train/loss")][-1:]
    assert run.best_value == pytest.approx(series[0][1])
    assert [p.name for p in (run.folder / "checkpoints").glob("best-*.ckpt")] == ["best-step3.ckpt"]


def test_a_last_epoch_that_is_not_a_validation_epoch_still_validates_once_at_its_end(home: Path) -> None:
    store = RunStore(home)
    cfg = vae(max_epochs=3, limit_train_batches=2, val_every_n_epochs=2)
    run_id, _ = train_tiny(store, FAMILIES["vae"], cfg)
    # epoch 2 validates as configured (after batch 4), epoch 3 only because the run ends there
    assert [s for s, _ in store.metric_series(run_id, "val/loss")] == [3, 5]


def test_a_run_whose_validation_epoch_ends_it_validates_once_not_twice(home: Path) -> None:
    store = RunStore(home)
    run_id, _ = train_tiny(store, FAMILIES["vae"], vae(max_epochs=2, limit_train_batches=2, max_steps=4))
    assert [s for s, _ in store.metric_series(run_id, "val/loss")] == [1, 3]


def test_a_cancelled_run_validates_at_the_batch_it_stops_after(home: Path) -> None:
    store = RunStore(home)
    run = store.create_run(vae(max_epochs=10, limit_train_batches=8), status="running", monitor="val/loss")
    assert store.request_cancel(run.id)  # read by the progress callback before the first batch
    status, _ = fit_module(store, run.id)
    assert status == "cancelled"
    assert [s for s, _ in store.metric_series(run.id, "val/loss")] == [0]
    assert store.get(run.id).best_value is not None


def test_a_gan_stopped_by_max_steps_measures_its_monitored_fid(home: Path) -> None:
    store = RunStore(home)
    family = FAMILIES["dcgan"]
    cfg = family.tiny_config()
    cfg = cfg.model_copy(update={"trainer": cfg.trainer.model_copy(update={"max_epochs": 5, "max_steps": 2})})
    run_id, _ = train_tiny(store, family, cfg)
    assert store.get(run_id).step == 2
    assert [s for s, _ in store.metric_series(run_id, family.monitor)] == [1]


@pytest.mark.slow  # the GAN presets measure FID on 500 Inception samples: minutes each on a CPU
@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_a_10_step_run_of_every_preset_shows_its_monitored_metric(home: Path, path: Path, capsys) -> None:
    config = load_config(str(path), ["trainer.max_steps=10"])
    family = FAMILIES[config.family]
    store = RunStore(home)
    run_id, _ = train_tiny(store, family, config)
    assert store.get(run_id).status == "completed" and store.metric_series(run_id, family.monitor)
    capsys.readouterr()
    assert main(["runs", "show", run_id]) == 0
    assert f"{family.monitor}=" in capsys.readouterr().out
