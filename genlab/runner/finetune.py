"""Train a module that already holds weights (a pruned copy, a student beside its teacher) as a run of
the store, in this process, with the same Trainer, callbacks and checkpoints as every run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.registry import get_family
from genlab.runner.build import build_datamodule
from genlab.runner.train import build_trainer
from genlab.store.runs import RunStore


def finished_run(store: RunStore, run_id: str, what: str) -> Any:
    """The run, when it is completed; a clear error otherwise."""
    run = store.get(run_id)
    if run.status != "completed":
        raise GenLabError(f"run {run_id} is {run.status}; only a completed run can be {what}")
    return run


def train_given_module(
    store: RunStore,
    run_id: str,
    config: RunConfig,
    module: L.LightningModule,
    callbacks: Sequence[L.Callback] = (),
    datamodule: L.LightningDataModule | None = None,
) -> str:
    """Fit `module` on the config's data (or on `datamodule`: preference pairs) as run `run_id` (created with
    status running); its final status."""
    try:
        L.seed_everything(config.seed, workers=True, verbose=False)
        family = get_family(config.family)
        if datamodule is None:
            datamodule = build_datamodule(config)
        datamodule.setup("fit")
        trainer = build_trainer(
            config, family, store, run_id, list(callbacks), manual_optimization=not module.automatic_optimization
        )
        trainer.fit(module, datamodule=datamodule)
        trainer.save_checkpoint(store.run_folder(run_id) / "checkpoints" / "last.ckpt")
        best = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
        if best is not None and best.best_model_score is not None:
            store.update(run_id, best_value=float(best.best_model_score))
    except Exception as err:
        store.set_status(run_id, "failed", error=f"{type(err).__name__}: {err}")
        raise
    store.set_status(run_id, "completed")
    return "completed"
