"""The step a user sees: training batches done (Lightning's own logging step).

With manual optimisation (GANs) trainer.global_step counts optimizer steps, two or more per batch, so
progress, ETA and sample schedules use the batch count, which is also the step metrics are logged at.
"""

from __future__ import annotations

import lightning as L


def batches_done(trainer: L.Trainer) -> int:
    return int(trainer.fit_loop.epoch_loop._batches_that_stepped)
