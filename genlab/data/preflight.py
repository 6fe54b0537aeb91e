"""Pre-flight checks that need only the data's size: torch-free, so the Train page, the Sweeps page and the
CLI say them before a worker starts, in the same words the data module would fail with later.

A *problem* blocks the start (the run could only fail) and carries the one-click fix when there is one; a
*note* says something that works but will surprise (a sweep whose trials stop before any validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamodules.uploads import scan_image_folder
from genlab.core.catalogue import IMAGE_SETS
from genlab.core.config import RunConfig
from genlab.core.data_config import ImageDataConfig
from genlab.core.errors import DataError
from genlab.core.paths import uploads_dir


@dataclass(frozen=True)
class Problem:
    """Why a run cannot start, and the settings (dotted path -> value) that would fix it, if any."""

    message: str
    fix: dict[str, Any] = field(default_factory=dict)

    @property
    def fix_label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.fix.items())


def _upload_folder(data: ImageDataConfig) -> Path | None:
    """The stored upload behind a zip/folder source (a bare name), or None for a path or a built-in."""
    if data.source not in ("zip", "folder") or not data.name:
        return None
    folder = uploads_dir() / data.name
    return folder if "/" not in data.name and folder.is_dir() else None


def dataset_items(config: RunConfig) -> int | None:
    """How many examples the data set holds before the split (None when it cannot be told cheaply)."""
    data = config.data
    if not isinstance(data, ImageDataConfig):
        return None
    if data.source == "builtin":
        found = IMAGE_SETS.get(data.name)
        n = found.items if found else None
    else:
        folder = _upload_folder(data)
        if folder is None:
            return None
        try:
            n = len(scan_image_folder(folder, label=data.name)[0])
        except DataError:
            return None
    if n is not None and data.max_items:
        n = min(n, data.max_items)
    return n


def training_items(config: RunConfig, items: int | None = None) -> int | None:
    """Examples left for training after the validation split (the same split the image data module makes)."""
    n = dataset_items(config) if items is None else items
    if n is None:
        return None
    frac = config.data.val_fraction
    n_val = max(1, int(round(n * frac))) if frac > 0 else 0
    return n - n_val


def steps_per_epoch(config: RunConfig, items: int | None = None) -> int | None:
    """Optimizer steps in one epoch (full batches only, as training drops the last partial one)."""
    n = training_items(config, items)
    if not n:
        return None
    batches = n // config.data.batch_size
    if config.trainer.limit_train_batches:
        batches = min(batches, config.trainer.limit_train_batches)
    return batches // config.trainer.accumulate_grad_batches or None


def blocking_problems(config: RunConfig, items: int | None = None) -> list[Problem]:
    """What would make this run fail as soon as its data loads; [] when nothing is known to."""
    total = dataset_items(config) if items is None else items
    n = training_items(config, total)
    if total is None or n is None or n >= config.data.batch_size:
        return []
    if total < 2:
        return [
            Problem(f"The data set has {total} usable image(s); at least 2 are needed (one to train, one to validate)")
        ]
    return [
        Problem(
            f"data.batch_size: {config.data.batch_size} is larger than the {n} training images; "
            f"lower it to {n} or less, or add images",
            {"data.batch_size": n},
        )
    ]


def first_validation_step(config: RunConfig, items: int | None = None) -> int | None:
    """The step at which the first validation (and so the first monitored value) happens."""
    spe = steps_per_epoch(config, items)
    return spe * config.trainer.val_every_n_epochs if spe else None


def validation_note(config: RunConfig, metric: str, items: int | None = None) -> str | None:
    """A run (a sweep trial) whose max_steps ends before its first validation has no `metric` to compare."""
    first = first_validation_step(config, items)
    steps = config.trainer.max_steps
    if first is None or steps <= 0 or steps >= first:
        return None
    return (
        f"trainer.max_steps ({steps}) ends before the first validation at step {first} "
        f"({steps_per_epoch(config, items)} steps per epoch): {metric} would never be logged. "
        f"Raise trainer.max_steps to {first} or more, or lower data.max_items or trainer.limit_train_batches"
    )
