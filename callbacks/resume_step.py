"""A resumed run continues at exactly the batch count its checkpoint was saved at, wherever it was saved.

Lightning restores `_batches_that_stepped` (the logging step, and GenLab's "step") assuming the checkpoint
was written before the batch's count moved on (in on_train_batch_end), and adds one on restore. A
checkpoint written after the count moved on (at an epoch's end, after its validation, or after fit) then
resumed one batch ahead: the run trained 121 of 120 batches. This callback writes the true count into
each checkpoint and sets it back before the first resumed batch, so every save point resumes the same.
"""

from __future__ import annotations

from typing import Any

import lightning as L

KEY = "genlab_batches_done"


def batches_done_in(checkpoint: dict[str, Any]) -> int | None:
    """Batches finished when the checkpoint was saved (None for checkpoints from before this callback)."""
    value = checkpoint.get(KEY)
    return int(value) if isinstance(value, int) else None


class ResumeAtSavedStep(L.Callback):
    """Must come first among the callbacks: others read the count in on_train_batch_start."""

    def __init__(self) -> None:
        self._pending = False  # this batch ended but Lightning has not counted it yet
        self._restored: int | None = None

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._pending = False
        if self._restored is not None:
            trainer.fit_loop.epoch_loop._batches_that_stepped = self._restored
            self._restored = None

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self._pending = not trainer.fit_loop.epoch_loop._should_accumulate()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pending = False  # the count moved on in the batch's on_advance_end, before this hook

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pending = False

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[KEY] = int(trainer.fit_loop.epoch_loop._batches_that_stepped) + int(self._pending)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._restored = batches_done_in(checkpoint)
