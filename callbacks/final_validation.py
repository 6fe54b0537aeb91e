"""Every run ends with its monitored metric: the batch that ends training is followed by a validation.

Lightning validates at the end of every `check_val_every_n_epoch`-th epoch, so a run stopped by
`max_steps` mid-epoch, by a cancel, by a prune from outside, or one whose last epoch is not a validation
epoch ended without a value of its monitored metric (no best checkpoint, no sweep objective, nothing to
compare by). At the batch that ends training this callback sets `trainer.should_stop` (which makes
Lightning's own epoch loop validate before it stops) and, when the epoch is not a validation epoch,
lets this one validation happen. So the last validation is an ordinary one: the same metrics, logged at
the same step as any validation after that batch, and the same checkpoint choice (ModelCheckpoint,
EarlyStopping) as always. A batch after which Lightning validates anyway changes nothing.
"""

from __future__ import annotations

from typing import Any

import lightning as L


def ends_training(trainer: L.Trainer) -> bool:
    """Whether the batch that just ran is the run's last (stop requested, step limit, last epoch's end)."""
    loop = trainer.fit_loop.epoch_loop
    if trainer.should_stop and trainer.fit_loop._can_stop_early:
        return True
    if trainer.max_steps is not None and trainer.max_steps > 0 and loop.global_step >= trainer.max_steps:
        return True
    last_epoch = trainer.max_epochs is not None and trainer.max_epochs > 0
    return last_epoch and trainer.current_epoch + 1 >= trainer.max_epochs and loop._num_ready_batches_reached()


class FinalValidation(L.Callback):
    def __init__(self) -> None:
        self._every: int | None = None
        self._changed = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if not trainer.enable_validation or not ends_training(trainer):
            return
        trainer.should_stop = True  # Lightning validates after a batch that stops the run
        every = trainer.check_val_every_n_epoch
        if every is not None and (trainer.current_epoch + 1) % every:
            self._every, self._changed = every, True
            trainer.check_val_every_n_epoch = None  # this epoch validates once, at this last batch

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._changed:
            trainer.check_val_every_n_epoch = self._every
            self._changed = False
