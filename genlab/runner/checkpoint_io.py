"""Lightning checkpoints written atomically: temp file in the checkpoint folder, fsync, rename.

Lightning's own writer goes through fsspec, which writes the final file in place (or copies it across
disks from a temp folder); a kill during that write leaves a truncated last.ckpt that every resume then
trips on. Here a checkpoint on disk is always whole: the old one or the new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins import TorchCheckpointIO

from genlab.core.atomic import atomic_write_with


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_with(path, lambda f: torch.save(checkpoint, f))
