"""What every GenLab LightningModule shares: config in hparams, optimizers from config, sample hooks."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from genlab.config import RunConfig, parse_config
from genlab.optim import build_optimizer, build_scheduler


class GenLabModule(L.LightningModule):
    """Base class of family modules.

    `config` is RunConfig.model_dump(mode="json") and `data_info` a dict of primitives from the data
    module (channels, image_size, num_classes, ...). Both go into the checkpoint's hyper_parameters,
    so a checkpoint loads with torch.load(weights_only=True) and rebuilds the same module.
    """

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config, "data_info": data_info})
        self.run_config: RunConfig = parse_config(config)
        self.data_info = dict(data_info)

    # -- hooks the sample callback calls ------------------------------------------------------------

    def sample_images(self) -> dict[str, torch.Tensor]:
        """Named image batches (N, C, H, W) in [0, 1] to save as grids; fixed inputs across steps."""
        return {}

    def sample_texts(self) -> dict[str, str]:
        """Named text samples to store (text families)."""
        return {}

    def reference_output(self) -> torch.Tensor:
        """A deterministic output from fixed inputs (eval mode): what reload and export parity compare."""
        raise NotImplementedError(f"{type(self).__name__} must implement reference_output()")

    # -- optimisation -------------------------------------------------------------------------------

    def total_training_steps(self) -> int:
        try:
            return int(self.trainer.estimated_stepping_batches)
        except (RuntimeError, AttributeError):
            return max(1, self.run_config.trainer.max_steps)

    def configure_optimizers(self) -> Any:
        from genlab.registry import get_family

        opt = build_optimizer(self.parameters(), self.run_config.optim)
        sched = build_scheduler(
            opt, self.run_config.optim, self.total_training_steps(), get_family(self.run_config.family).monitor
        )
        return opt if sched is None else {"optimizer": opt, "lr_scheduler": sched}
