"""Saves the module's sample images (PNG grids) and text samples as run-store artifacts every N steps, and
once after the first validation when that comes earlier (so the first picture is not a long wait).

Text samples are generated text: each passes genlab.safety.gate's gate (the run's safety section) before it is
written, so samples/*.txt, the Run page and any tracker only ever hold what the gate released."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from callbacks.final_validation import ends_training
from callbacks.steps import batches_done
from genlab.core.imaging import save_grid
from genlab.safety.gate import Gate, policy_of, sample_meta
from genlab.store.runs import RunStore
from lightning_modules.base import GenLabModule


class SamplesCallback(L.Callback):
    def __init__(self, store: RunStore, run_id: str, every_n_steps: int) -> None:
        self.store = store
        self.run_id = run_id
        self.every_n_steps = every_n_steps
        self._last_step = -1

    def _save(self, trainer: L.Trainer, pl_module: GenLabModule) -> None:
        step = batches_done(trainer)
        if step == self._last_step or not trainer.is_global_zero:
            return
        self._last_step = step
        folder = self.store.run_folder(self.run_id) / "samples"
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                images = pl_module.sample_images()
                texts = pl_module.sample_texts()
        finally:
            pl_module.train(was_training)
        rows = pl_module.sample_grid_rows()
        for name, batch in images.items():
            scale = max(1, 128 // max(1, batch.shape[-1]))
            path = save_grid(batch, folder / f"{name}_step{step:08d}.png", nrow=rows.get(name), scale=min(scale, 4))
            self.store.add_artifact(self.run_id, "samples", path, name=name, step=step)
        if texts:
            gate = Gate(policy_of(pl_module), store=self.store, run_id=self.run_id, path="training.samples")
            for name, verdict in gate.release_many(texts).items():
                path = folder / f"{name}_step{step:08d}.txt"
                path.write_text(verdict.text, encoding="utf-8")
                self.store.add_artifact(self.run_id, "text", path, name=name, step=step, meta=sample_meta(verdict))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = batches_done(trainer)
        if self.every_n_steps and step % self.every_n_steps == 0 and step > 0:
            self._save(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the first picture should not wait for sample_every_n_steps: a newcomer sees one after the first
        # validation (the end of the first epoch for most presets) when that comes earlier, then every N
        # steps. Not with periodic samples off (0), nor at the validation that ends training (its samples
        # are saved at the end anyway).
        step = batches_done(trainer)
        if (
            self._last_step < 0
            and not trainer.sanity_checking
            and 0 < step < self.every_n_steps
            and not ends_training(trainer)
        ):
            self._save(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.every_n_steps:
            self._save(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, pl_module)
