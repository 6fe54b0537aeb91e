"""last.ckpt at every epoch end when no step interval is set (trainer.checkpoint_every_n_steps: 0).

Lightning's ModelCheckpoint writes its `last` file only on an epoch in which it also saved a top-k file,
so with save_top_k=0 a run had no last.ckpt until it ended and a kill mid-run could not be resumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class EpochEndLastCheckpoint(L.Callback):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.should_stop:
            return  # a stopping run saves its final state once, after fit
        trainer.save_checkpoint(self.path)  # every rank calls it; the strategy writes on rank zero


class StepLastCheckpoint(ModelCheckpoint):
    """last.ckpt every n training steps (trainer.checkpoint_every_n_steps), except that a step which ends an
    epoch saves at that epoch's end, after its validation, instead of in on_train_batch_end before it.

    Lightning resumes a checkpoint saved at the end of an epoch's last batch as if that epoch were over,
    validation included: a kill between that save and the validation's metrics reaching the store lost the
    epoch's validation metrics for good (the fault suite's intermittent `val/kl` gap). Saved after the
    validation, the checkpoint resumes like the epoch-end checkpoints of EpochEndLastCheckpoint.
    """

    def __init__(self, path: Path, every_n_train_steps: int) -> None:
        super().__init__(dirpath=path.parent, save_top_k=0, save_last=True, every_n_train_steps=every_n_train_steps)
        self.path = Path(path)
        self._deferred = False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        every = self._every_n_train_steps
        if every >= 1 and trainer.global_step % every == 0 and trainer.fit_loop.epoch_loop._num_ready_batches_reached():
            self._deferred = True  # this step ends the epoch: save once its validation has run
            return
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        deferred, self._deferred = self._deferred, False
        if deferred and not trainer.sanity_checking and not trainer.should_stop:
            trainer.save_checkpoint(self.path)  # a stopping run saves its final state once, after fit
