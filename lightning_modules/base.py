"""What every GenLab LightningModule shares: config in hparams, optimizers from config, sample hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch

from genlab.config import RunConfig, parse_config
from genlab.optim import build_optimizer, build_scheduler
from lightning_modules.export_nets import ExportNet


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
        self.latest_step_metrics: dict[str, torch.Tensor | float] = {}

    # -- per-step training metrics ------------------------------------------------------------------

    def log_step(self, values: dict[str, torch.Tensor | float], batch_size: int | None = None) -> None:
        """Log training scalars of this step (on_step only) to every logger and the run store.

        Lightning writes step values to loggers only every `log_every_n_steps` (and on the step a stop is
        requested), yet each self.log call costs ~0.3 ms of bookkeeping on every step; so the values are
        handed to Lightning only on the steps it writes. The latest values stay in latest_step_metrics
        on every step (the NaN guard reads them).
        """
        self.latest_step_metrics = values
        trainer = self._trainer
        if trainer is None or trainer._logger_connector.should_update_logs:
            self.log_dict(values, on_step=True, on_epoch=False, batch_size=batch_size)

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


@runtime_checkable
class Exportable(Protocol):
    """A module whose networks leave GenLab (TFLite, ONNX, SavedModel): each named net is a plain
    nn.Module with fixed example inputs, input/output names and metadata (lightning_modules/export_nets)."""

    def export_nets(self) -> dict[str, ExportNet]: ...


@runtime_checkable
class HuggingFaceExportable(Protocol):
    """A language model that saves itself as a Hugging Face folder (weights, tokenizer, generation config)."""

    def export_hf(self, folder: str | Path) -> Path: ...
