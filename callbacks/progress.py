"""Writes step, epoch, total steps and ETA into the run store, and honours cancel requests.

A cancel from the UI or CLI sets a flag in the store; this callback reads it (at most twice a second)
and asks the trainer to stop after the current step, so the run ends with a checkpoint.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from callbacks.steps import batches_done, planned_batches
from genlab.runs import RunStore


class ProgressCallback(L.Callback):
    def __init__(self, store: RunStore, run_id: str, min_interval_s: float = 0.5) -> None:
        self.store = store
        self.run_id = run_id
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._t0 = 0.0
        self._step0 = 0
        self._planned: int | None = None
        self.cancelled = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.monotonic()
        self._step0 = batches_done(trainer)
        self._planned = self._total(trainer)
        if trainer.is_global_zero:
            self.store.update(self.run_id, total_steps=self._planned, step=self._step0, epoch=trainer.current_epoch)

    @staticmethod
    def _total(trainer: L.Trainer) -> int | None:
        """Training batches planned (trainer.max_steps of a GenLab config counts batches in every family)."""
        config = getattr(trainer.lightning_module, "run_config", None)
        return planned_batches(trainer, config.trainer.max_steps if config is not None else -1)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # Checked before the step, so the module knows this is the last step and its metrics get written.
        now = time.monotonic()
        if now - self._last < self.min_interval_s:
            return
        self._last = now
        if trainer.is_global_zero:
            step, total = batches_done(trainer), self._planned
            done = step - self._step0
            eta = (now - self._t0) / done * (total - step) if done > 0 and total else None
            self.store.update(self.run_id, step=step, epoch=trainer.current_epoch, eta_s=eta)
            self.cancelled = self.store.cancel_requested(self.run_id)
        if trainer.world_size > 1:
            self.cancelled = bool(trainer.strategy.broadcast(self.cancelled, src=0))
        if self.cancelled:
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.store.update(self.run_id, step=batches_done(trainer), epoch=trainer.current_epoch, eta_s=0.0)
