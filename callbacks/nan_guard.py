"""Stops a run whose loss became NaN or infinite, before a bad checkpoint can overwrite the last good one."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from genlab.errors import GenLabError


class NonFiniteLossError(GenLabError, RuntimeError):
    """Training diverged; the message says which metric and what to try."""


class NaNGuard(L.Callback):
    def _check(self, trainer: L.Trainer, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not key.startswith("train/"):
                continue
            v = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                raise NonFiniteLossError(
                    f"{key} became {v} at step {trainer.global_step}: training diverged. The last good checkpoint is "
                    "kept. Try a lower optim.lr (e.g. half), gradient clipping (trainer.gradient_clip_val: 1.0) or "
                    "precision 32."
                )

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
