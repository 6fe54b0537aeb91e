"""Carries a step's training metrics inside the checkpoint saved at that step's end.

Lightning saves a step-interval checkpoint in on_train_batch_end, before it hands the step's metrics to
the loggers; a kill between the two (the fault suite finds it) would lose that step's metrics for good,
because a resume starts after the checkpoint's step. The values ride in the checkpoint, and a resume
writes them to the run store again (same step, same values: nothing doubles).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.trainer.states import RunningStage

KEY = "genlab_step_metrics"


class CheckpointStepMetrics(L.Callback):
    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if trainer.state.stage != RunningStage.TRAINING:
            return
        step = int(trainer.fit_loop.epoch_loop._batches_that_stepped)
        values = getattr(pl_module, "latest_step_metrics", None) or {}
        if not values or not trainer.log_every_n_steps or step % trainer.log_every_n_steps:
            return  # Lightning would not write this step's metrics either
        checkpoint[KEY] = {
            "step": step,
            "epoch": int(trainer.current_epoch),
            "values": {
                k: float(v.detach().float().mean()) if hasattr(v, "detach") else float(v) for k, v in values.items()
            },
        }
