"""Image data for every image family: built-ins, a folder, an uploaded zip or a Hugging Face dataset.

Images are decoded once, resized to the run's size and held in memory as uint8 (N, C, H, W); batches
are sliced by index lists, which is several times faster than per-item Dataset access on a small CPU.
Batches are `(x, y)`: x float in [0, 1] (B, C, H, W), y long (B,) with -1 where there is no label.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from datamodules.builtin import load_builtin_images
from datamodules.hf import load_hf_dataset
from datamodules.uploads import IntakeReport, extract_zip, scan_image_folder
from genlab.core.atomic import atomic_folder
from genlab.core.catalogue import IMAGE_SETS
from genlab.core.config import RunConfig
from genlab.core.data_config import ImageDataConfig
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir, uploads_dir


class InMemoryImages(Dataset):
    """Indexable by a list of indices: returns a whole batch at once."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, hflip: bool = False) -> None:
        self.images, self.labels, self.hflip = images, labels, hflip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(idx, dtype=torch.long)
        x = self.images[index].float().div_(255.0)  # (B, C, H, W)
        if self.hflip:
            flip = torch.rand(len(index)) < 0.5
            x[flip] = x[flip].flip(-1)
        return x, self.labels[index]


class BatchIndexSampler(Sampler[list[int]]):
    """Seeded shuffled index batches, sharded across DDP ranks; set_epoch reshuffles (Lightning calls it)."""

    def __init__(
        self, n: int, batch_size: int, shuffle: bool, seed: int, rank: int = 0, world: int = 1, drop_last: bool = True
    ) -> None:
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world, self.drop_last, self.epoch = rank, world, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        per_rank = self.n // self.world if self.world > 1 else self.n
        return order[self.rank * per_rank : (self.rank + 1) * per_rank] if self.world > 1 else order

    def __iter__(self):
        order = self._indices()
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        n = self.n // self.world if self.world > 1 else self.n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _resize(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (N, H, W, C) -> uint8 (N, C, size, size), antialiased."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.contiguous()
    out = []
    for chunk in x.split(1024):
        y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def _to_color_mode(images: np.ndarray, mode: str) -> np.ndarray:
    channels = images.shape[-1]
    if mode == "grey" and channels == 3:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return (images.astype(np.float32) @ weights).round().clip(0, 255).astype(np.uint8)[..., None]
    if mode == "rgb" and channels == 1:
        return np.repeat(images, 3, axis=-1)
    return images


def _decode_files(paths: list[Path], size: int, mode: str) -> np.ndarray:
    """Decode image files to uint8 (N, size, size, C); C from the mode or from the majority of files."""
    if mode == "auto":
        grey = 0
        for p in paths[:200]:
            with Image.open(p) as im:
                grey += im.mode in ("1", "L", "LA", "I", "I;16", "F")
        mode = "grey" if grey * 2 > min(len(paths), 200) else "rgb"
    out = np.empty((len(paths), size, size, 1 if mode == "grey" else 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGBA") if im.mode in ("P", "LA", "RGBA") or "transparency" in im.info else im
            if im.mode == "RGBA":
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            im = im.convert("L" if mode == "grey" else "RGB").resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8)
        out[i] = arr[..., None] if arr.ndim == 2 else arr
    return out


def resolve_image_source(cfg: ImageDataConfig) -> Path:
    """The folder behind a folder/zip source: a path, or an upload stored under GENLAB_HOME/uploads."""
    if cfg.source == "folder":
        candidate = Path(cfg.name).expanduser()
        if not candidate.is_dir():
            candidate = uploads_dir() / cfg.name
        if not candidate.is_dir():
            raise DataError(f"data.name: no folder {cfg.name!r} (neither a path nor an upload name)")
        return candidate
    zip_path = Path(cfg.name).expanduser()
    if not zip_path.is_file():
        stored = uploads_dir() / cfg.name
        if stored.is_dir():
            return stored
        raise DataError(f"data.name: no zip file {cfg.name!r}")
    target = cache_dir("zips") / f"{zip_path.stem}-{zip_path.stat().st_size}-{int(zip_path.stat().st_mtime)}"
    if not target.is_dir():
        with atomic_folder(target) as staging:  # a failed extraction is never reused half-filled
            extract_zip(zip_path, staging)
    return target


def load_hf_images(cfg: ImageDataConfig) -> tuple[list[Image.Image], list[int] | None, list[str]]:
    """A Hugging Face image dataset by id (or a folder saved with save_to_disk); clear message offline."""
    ds = load_hf_dataset(cfg.name, cfg.hf_split, "use a built-in set or an uploaded zip")
    if cfg.hf_image_column not in ds.column_names:
        raise DataError(
            f"data.hf_image_column: {cfg.hf_image_column!r} is not a column of {cfg.name}; columns: {ds.column_names}"
        )
    labels = ds[cfg.hf_label_column] if cfg.hf_label_column in ds.column_names else None
    names: list[str] = []
    feature = ds.features.get(cfg.hf_label_column) if labels is not None else None
    if feature is not None and hasattr(feature, "names"):
        names = list(feature.names)
    return list(ds[cfg.hf_image_column]), labels, names


class InMemorySplits(L.LightningDataModule):
    """Train/val loaders over tensors held in memory (`images`, `labels`, `train_idx`, `val_idx` and the data
    config `cfg`, set by a subclass): seeded batches of indices, one shard per DDP rank, for every in-memory
    image set (single-domain and multi-domain alike)."""

    images: torch.Tensor | None
    labels: torch.Tensor | None
    train_idx: list[int]
    val_idx: list[int]

    def _subset(self, idx: list[int], hflip: bool) -> InMemoryImages:
        index = torch.as_tensor(idx, dtype=torch.long)
        return InMemoryImages(self.images[index], self.labels[index], hflip=hflip)

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, idx: list[int], shuffle: bool, hflip: bool) -> DataLoader:
        rank, world = self._rank_world()
        sampler = BatchIndexSampler(
            len(idx), self.cfg.batch_size, shuffle, self.run_config.seed, rank, world, drop_last=shuffle
        )
        return DataLoader(
            self._subset(idx, hflip),
            sampler=sampler,
            batch_size=None,
            num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_idx, shuffle=True, hflip=self.cfg.hflip)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_idx or self.train_idx[: self.cfg.batch_size], shuffle=False, hflip=False)


class ImageDataModule(InMemorySplits):
    """Seeded train/val split of an in-memory image set, for every image family."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.run_config = config
        self.cfg: ImageDataConfig = config.data
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.class_names: list[str] = []
        self.report = IntakeReport()
        self.train_idx: list[int] = []
        self.val_idx: list[int] = []

    # -- loading -----------------------------------------------------------------------------------

    def _load_raw(self) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        cfg = self.cfg
        if cfg.source == "builtin":
            if cfg.name not in IMAGE_SETS:
                raise DataError(
                    f"data.name: unknown built-in image set {cfg.name!r}; choose one of: {', '.join(IMAGE_SETS)}"
                )
            images, labels, classes = load_builtin_images(cfg.name)
            return _to_color_mode(images, cfg.color_mode), labels, classes
        if cfg.source == "hf":
            pil, labels, classes = load_hf_images(cfg)
            tmp = [np.asarray(im.convert("RGB").resize((cfg.image_size, cfg.image_size))) for im in pil]
            images = _to_color_mode(np.stack(tmp), "grey" if cfg.color_mode == "grey" else "rgb")
            return images, None if labels is None else np.asarray(labels, dtype=np.int64), classes
        folder = resolve_image_source(cfg)
        paths, labels, classes, self.report = scan_image_folder(folder)
        images = _decode_files(paths, cfg.image_size, cfg.color_mode)
        return images, None if labels is None else np.asarray(labels, dtype=np.int64), classes

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        images, labels, classes = self._load_raw()
        n = len(images)
        if self.cfg.max_items and n > self.cfg.max_items:
            keep = np.random.default_rng(self.run_config.seed).permutation(n)[: self.cfg.max_items]
            keep.sort()
            images = images[keep]
            labels = labels[keep] if labels is not None else None
            n = len(images)
        if n < 2:
            raise DataError(
                f"The data set has {n} usable image(s); at least 2 are needed (one to train, one to validate)"
            )
        self.images = _resize(images, self.cfg.image_size)
        self.labels = torch.as_tensor(labels if labels is not None else np.full(n, -1), dtype=torch.long)
        self.class_names = list(classes)
        g = torch.Generator().manual_seed(self.run_config.seed)
        order = torch.randperm(n, generator=g).tolist()
        n_val = max(1, int(round(n * self.cfg.val_fraction))) if self.cfg.val_fraction > 0 else 0
        self.val_idx, self.train_idx = (
            order[:n_val],
            sorted(order[n_val:]),
        )  # val keeps the seeded order: fixed batches mix classes
        if len(self.train_idx) < self.cfg.batch_size:
            raise DataError(
                f"data.batch_size: {self.cfg.batch_size} is larger than the {len(self.train_idx)} training images; "
                f"lower it to {max(1, len(self.train_idx))} or less, or add images"
            )

    def info(self) -> dict[str, Any]:
        """Primitives the model needs (saved in the checkpoint)."""
        assert self.images is not None, "call setup() first"
        labelled = bool((self.labels >= 0).any())
        num_classes = int(self.labels.max().item()) + 1 if labelled else 0
        return {
            "name": self.cfg.name,
            "source": self.cfg.source,
            "channels": int(self.images.shape[1]),
            "image_size": int(self.images.shape[-1]),
            "num_classes": max(num_classes, len(self.class_names)) if labelled else 0,
            "class_names": self.class_names if labelled else [],
            "n_train": len(self.train_idx),
            "n_val": len(self.val_idx),
        }

    def fixed_batch(self, n: int, split: str = "val") -> tuple[torch.Tensor, torch.Tensor]:
        """The first n images of a split (fixed across steps: reconstructions, translation panels)."""
        idx = (self.val_idx if split == "val" and self.val_idx else self.train_idx)[:n]
        return self._subset(idx, False)[list(range(len(idx)))]
