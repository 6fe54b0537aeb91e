"""Stops a run whose loss became NaN or infinite, before a bad checkpoint can overwrite the last good one.

Training losses are checked after every step, validation metrics after every validation (before the
checkpoint callbacks, which Lightning runs last, could save the diverged weights). The message says
whether a good checkpoint exists to resume from.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import torch

from genlab.core.checkpoint_files import find_resume_checkpoint
from genlab.core.errors import GenLabError


class NonFiniteLossError(GenLabError, RuntimeError):
    """Training diverged; the message says which metric and what to try."""


def _kept(trainer: L.Trainer) -> str:
    """What the user still has: the checkpoint a resume would start from, or nothing."""
    folder = getattr(trainer.checkpoint_callback, "dirpath", None)
    point = find_resume_checkpoint(Path(folder)) if folder else None
    if point is None:
        return "No checkpoint had been saved yet, so the run has to start again."
    return f"The last good checkpoint ({point.path.name}) is kept."


class NaNGuard(L.Callback):
    def _check(self, trainer: L.Trainer, values: dict[str, Any], stage: str = "train/") -> None:
        for key, value in values.items():
            if not key.startswith(stage):
                continue
            v = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                where = "in validation " if stage == "val/" else ""
                raise NonFiniteLossError(
                    f"{key} became {v} {where}at step {trainer.global_step}: training diverged. {_kept(trainer)} "
                    "Try a lower optim.lr (e.g. half), gradient clipping (trainer.gradient_clip_val: 1.0) or "
                    "precision 32."
                )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._check(trainer, dict(trainer.callback_metrics), stage="val/")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any) -> None:
        # The returned loss is enough under automatic optimisation (one check, no scan of every metric);
        # manual-optimisation modules (GANs) return nothing, so this step's train/* metrics are checked
        # (GenLabModule keeps them on every step, even those Lightning does not write).
        if isinstance(outputs, torch.Tensor):
            self._check(trainer, {"train/loss": outputs})
        elif isinstance(outputs, dict) and "loss" in outputs:
            self._check(trainer, {"train/loss": outputs["loss"]})
        else:
            self._check(trainer, dict(getattr(pl_module, "latest_step_metrics", None) or trainer.callback_metrics))
