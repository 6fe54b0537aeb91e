"""The step a user sees: training batches done (Lightning's own logging step), for every family.

With manual optimisation (GANs) trainer.global_step counts optimizer steps, two or more per batch, and
with gradient accumulation fewer than one per batch. So `trainer.max_steps` of a GenLab config counts
batches: the Trainer gets the equivalent optimizer-step limit under automatic optimisation, and
BatchLimit stops manual-optimisation runs; progress, ETA, sample schedules and metrics use batches.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L


def batches_done(trainer: L.Trainer) -> int:
    return int(trainer.fit_loop.epoch_loop._batches_that_stepped)


def planned_batches(trainer: L.Trainer, max_batches: int) -> int | None:
    """Training batches the run will see: max_epochs x batches per epoch, capped by max_batches (> 0)."""
    try:
        _ = trainer.estimated_stepping_batches  # makes the Trainer load the train loader and count its batches
        per_epoch = trainer.num_training_batches
    except (RuntimeError, AttributeError, TypeError):
        per_epoch = 0
    limits = []
    if trainer.max_epochs and trainer.max_epochs > 0 and per_epoch and per_epoch != float("inf"):
        limits.append(trainer.max_epochs * int(per_epoch))
    if max_batches > 0:
        limits.append(max_batches)
    return max(1, min(limits)) if limits else None


def lightning_max_steps(max_batches: int, accumulate: int, manual: bool) -> int:
    """The Trainer's max_steps (optimizer steps) for a limit in batches; manual runs stop by BatchLimit."""
    if max_batches <= 0 or manual:
        return -1
    return math.ceil(max_batches / max(1, accumulate))


class BatchLimit(L.Callback):
    """Stops a manual-optimisation run after `max_batches` training batches."""

    def __init__(self, max_batches: int) -> None:
        self.max_batches = max_batches

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if batches_done(trainer) + 1 >= self.max_batches:  # the count moves on after this hook
            trainer.should_stop = True
