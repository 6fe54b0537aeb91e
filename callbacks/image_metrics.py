"""Measures generated-image quality (FID, KID, precision/recall, class scores) during validation.

One job: every `fid_every_n_epochs` epochs (and at the last one) it draws `fid_samples` images from the
module (its `images_for_metrics` hook, from seeded noise), scores them against the training images and logs `val/fid`, `val/kid`, ... with the
sample count as `val/fid_samples`. Validations in between log the last measured values again, so the
family's monitor (`val/fid`) exists at every validation and "best" stays the measured best. The first
validation always measures, so the monitor is never missing. Rank zero measures and broadcasts the
values to the other ranks; nothing here runs inside the training step.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from callbacks.steps import batches_done
from genlab.metrics.config import ImageMetricsConfig


def _real_data(trainer: L.Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 training images (N, C, H, W) and labels (N,) from the data module."""
    dm = getattr(trainer, "datamodule", None)
    images = getattr(dm, "images", None)
    if images is not None:
        idx = torch.as_tensor(getattr(dm, "train_idx", None) or range(len(images)), dtype=torch.long)
        labels = getattr(dm, "labels", None)
        return images[idx], labels[idx] if labels is not None else None
    xs, ys = [], []
    for x, y in trainer.train_dataloader if trainer.train_dataloader is not None else []:
        xs.append((x * 255).round().clamp(0, 255).to(torch.uint8).cpu())
        ys.append(y.cpu())
    if not xs:
        raise RuntimeError("image metrics: no training images to compare with")
    return torch.cat(xs), torch.cat(ys)


class ImageMetricsCallback(L.Callback):
    def __init__(self, cfg: ImageMetricsConfig) -> None:
        self.cfg = cfg
        self.last: dict[str, float] | None = None
        self._real: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"last": dict(self.last) if self.last else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last = state_dict.get("last")

    def _due(self, trainer: L.Trainer, max_batches: int) -> bool:
        if self.last is None:
            return True
        epoch = trainer.current_epoch + 1
        if epoch % self.cfg.fid_every_n_epochs == 0:
            return True
        if trainer.max_epochs is not None and trainer.max_epochs > 0 and epoch >= trainer.max_epochs:
            return True
        if max_batches > 0:  # a step-limited run: measure in the epoch that reaches the limit
            done = batches_done(trainer)
            return done + done / max(1, epoch) > max_batches or trainer.should_stop
        return False

    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        from genlab.metrics.images import measure

        if self._real is None:
            self._real = _real_data(trainer)
        images, labels = self._real
        seed = int(pl_module.run_config.seed) + trainer.current_epoch
        gen = torch.Generator().manual_seed(seed)

        def generate(n: int, y: torch.Tensor | None) -> torch.Tensor:
            return pl_module.images_for_metrics(n, None if y is None else y.tolist(), gen)  # seeded: same every epoch

        return measure(
            generate,
            images,
            labels,
            int(pl_module.data_info.get("num_classes") or 0),
            self.cfg,
            conditional=pl_module.conditional,
            device=pl_module.device,
            seed=seed,
        )

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        due = self._due(trainer, pl_module.run_config.trainer.max_steps)  # same answer on every rank
        if due and trainer.is_global_zero:
            was_training = pl_module.training
            pl_module.eval()
            try:
                self.last = self.measure(trainer, pl_module)
            finally:
                pl_module.train(was_training)
        if due and trainer.world_size > 1:  # every rank logs the same values, so the monitor exists on each
            self.last = trainer.strategy.broadcast(self.last, src=0)
        if self.last is None:
            return
        for name, value in self.last.items():
            pl_module.log(f"val/{name}", float(value), on_step=False, on_epoch=True, prog_bar=name == "fid")
