"""last.ckpt at every epoch end when no step interval is set (trainer.checkpoint_every_n_steps: 0).

Lightning's ModelCheckpoint writes its `last` file only on an epoch in which it also saved a top-k file,
so with save_top_k=0 a run had no last.ckpt until it ended and a kill mid-run could not be resumed.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L


class EpochEndLastCheckpoint(L.Callback):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.should_stop:
            return  # a stopping run saves its final state once, after fit
        trainer.save_checkpoint(self.path)  # every rank calls it; the strategy writes on rank zero
