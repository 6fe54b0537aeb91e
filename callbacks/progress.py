"""Writes step, epoch, total steps and ETA into the run store, and honours cancel requests.

A cancel from the UI or CLI sets a flag in the store; this callback reads it (at most twice a second)
and asks the trainer to stop after the current step, so the run ends with a checkpoint. Its writes are
the run's heartbeat: they come from training and validation batches, so a hung data loader shows up as
a stalled run instead of a live one. It also prints training's own progress lines into the worker log (every
log_every_n_steps batches and after each validation), which the Logs tab and `runs logs` show. With an owner pid, a write that finds the run no longer owned
(force-stopped, resumed elsewhere, deleted) stops training at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import lightning as L

from callbacks.steps import batches_done, planned_batches
from genlab.store.runs import RunStore


class ProgressCallback(L.Callback):
    def __init__(
        self,
        store: RunStore,
        run_id: str,
        min_interval_s: float = 0.5,
        owner_pid: int | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.min_interval_s = min_interval_s
        self.owner_pid = owner_pid
        self.stop_event = stop_event
        self._last = 0.0
        self._t0 = 0.0
        self._step0: int | None = None  # the first batch this process trains: the ETA's rate starts there
        self._planned: int | None = None
        self._last_val_beat = 0.0
        self._last_step = 0
        self.cancelled = False
        self.lost = False

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "stop_event"} | {"stop_event": None}

    def _beat(self, **progress: Any) -> None:
        if self.owner_pid is None:
            self.store.heartbeat(self.run_id, **progress)
            self.cancelled = self.cancelled or self.store.cancel_requested(self.run_id)
        else:
            owned, cancel = self.store.beat(self.run_id, self.owner_pid, **progress)
            self.lost = self.lost or not owned
            self.cancelled = self.cancelled or cancel
        if self.stop_event is not None and self.stop_event.is_set():
            self.cancelled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._step0 = None
        self._planned = self._total(trainer)
        if trainer.is_global_zero:
            # a resumed run still holds its last run's "0 s left": no ETA until this process has a rate
            self.store.update(
                self.run_id,
                total_steps=self._planned,
                step=batches_done(trainer),
                epoch=trainer.current_epoch,
                eta_s=None,
            )

    @staticmethod
    def _total(trainer: L.Trainer) -> int | None:
        """Training batches planned (trainer.max_steps of a GenLab config counts batches in every family)."""
        config = getattr(trainer.lightning_module, "run_config", None)
        return planned_batches(trainer, config.trainer.max_steps if config is not None else -1)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # Checked before the step, so the module knows this is the last step and its metrics get written.
        now = time.monotonic()
        if self._step0 is None:
            # counted from the first batch here, after any checkpoint restore has moved the step on, so the
            # steps a resume skipped (and the start-up before it) never count as speed
            self._step0, self._t0 = batches_done(trainer), now
        if trainer.is_global_zero and now - self._last >= self.min_interval_s:
            self._last = now
            step, total = batches_done(trainer), self._planned
            done = step - self._step0
            eta = (now - self._t0) / done * (total - step) if done > 0 and total else None
            self._beat(step=step, epoch=trainer.current_epoch, eta_s=eta)
        if trainer.world_size > 1:
            # Every rank takes part at every batch: a broadcast some ranks skip (each rank's own clock
            # decides differently) deadlocks the run. One bool per step beside DDP's gradient all-reduce.
            self.cancelled = bool(trainer.strategy.broadcast(self.cancelled or self.lost, src=0))
        if self.cancelled or self.lost:
            trainer.should_stop = True

    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # Long validations (FID, BLEU) are progress too: beat, so they are not taken for a stall.
        now = time.monotonic()
        if now - self._last_val_beat < max(self.min_interval_s, 2.0) or not trainer.is_global_zero:
            return
        self._last_val_beat = now
        self._beat()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        config = getattr(pl_module, "run_config", None)
        every = config.trainer.log_every_n_steps if config is not None else 50
        step = self._last_step = batches_done(trainer) + 1  # the count moves on after this hook
        if not trainer.is_global_zero or (step % every and step != self._planned):
            return
        total = f"/{self._planned}" if self._planned else ""
        parts = [f"step {step}{total}", f"epoch {trainer.current_epoch}"]
        if values := _metrics(trainer, "train/"):
            parts.append(values)
        done = step - (self._step0 or 0)
        if done > 0 and self._t0:
            per_step = (time.monotonic() - self._t0) / done
            parts.append(f"{per_step:.3g} s/step")
            if self._planned and self._planned > step:
                parts.append(f"ETA {_duration(per_step * (self._planned - step))}")
        print(" · ".join(parts), flush=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        values = _metrics(trainer, "val/")
        step = max(batches_done(trainer), self._last_step)  # an epoch-end validation runs inside the last batch
        print(f"validation at step {step}: {values or 'no metrics'}", flush=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not self.lost:
            self._beat(step=batches_done(trainer), epoch=trainer.current_epoch, eta_s=0.0)
        if trainer.is_global_zero:
            why = "cancelled" if self.cancelled else "finished"
            print(f"training {why} at step {batches_done(trainer)}", flush=True)


def _metrics(trainer: L.Trainer, prefix: str) -> str:
    """The current values of one stage's metrics, e.g. 'train/loss 123.4, train/kl 3.2'."""
    shown = []
    for key, value in sorted(trainer.callback_metrics.items()):
        if key.startswith(prefix):
            try:
                shown.append(f"{key} {float(value):.4g}")
            except (TypeError, ValueError):
                continue
    return ", ".join(shown)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
