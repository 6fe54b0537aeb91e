"""A Lightning Logger that writes every logged metric and the hyperparameters into the run store.

Anything a LightningModule logs with self.log is tracked without extra code.
"""

from __future__ import annotations

import math
from argparse import Namespace
from typing import Any

from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from genlab.store.runs import RunStore


class RunStoreLogger(Logger):
    def __init__(self, store: RunStore, run_id: str) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id

    @property
    def name(self) -> str:
        return "genlab"

    @property
    def version(self) -> str:
        return self.run_id

    @property
    def save_dir(self) -> str:
        return str(self.store.run_folder(self.run_id))

    @property
    @rank_zero_experiment
    def experiment(self) -> RunStore:
        return self.store

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params)
        self.store.update(self.run_id, hparams=params)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        values = {}
        for key, value in metrics.items():
            value = float(value)
            values[key] = value if math.isfinite(value) else None
        self.store.log_metrics(self.run_id, int(step or 0), values, None if epoch is None else int(epoch))
