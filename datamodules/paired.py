"""Two-domain image data for image-to-image translation (CycleGAN: unpaired, pix2pix: paired).

Sources: built-in offline pairs (Twemoji <-> OpenMoji, edges -> Twemoji), two folders or zips (pairs
matched by file name), or one folder of side-by-side A|B images (the pix2pix layout). Every source is
checked first into a PairedReport (counts per domain, unmatched names, mixed sizes, grey/colour mix, too
few images, skipped files) that the UI shows before training; errors stop training with that report.

Images are decoded once into uint8 tensors (N, C, L, L) with L = load_size or image_size; augmentation
(random crop, mirror) is applied per batch, with the same crop and flip for both images of a pair.
Batches are dicts {"A": (B, C_A, H, W), "B": (B, C_B, H, W)} of floats in [0, 1].
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from datamodules.images import _resize
from datamodules.paired_intake import PairedReport, apply_color_mode, inspect_paired
from genlab.core.config import RunConfig
from genlab.core.data_config import PairedDataConfig
from genlab.core.errors import DataError

# ---------------------------------------------------------------------------------------------------
# Batches


class PairBatches(Dataset):
    """Indexed by (a_indices, b_indices): returns one augmented batch dict at once."""

    def __init__(
        self, a: torch.Tensor, b: torch.Tensor, size: int, train: bool, paired: bool, hflip: bool, seed: int
    ) -> None:
        self.a, self.b, self.size, self.train, self.paired, self.hflip = a, b, size, train, paired, hflip
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.a)

    def _augment(self, x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        # x: (B, C, L, L) uint8 -> (B, C, size, size) float in [0, 1]
        s = self.size
        if x.shape[-1] != s:
            x = torch.stack(
                [img[:, int(oy) : int(oy) + s, int(ox) : int(ox) + s] for img, (oy, ox) in zip(x, offsets, strict=True)]
            )
        x = x.float().div_(255.0)
        if flips.any():
            x[flips] = x[flips].flip(-1)
        return x

    def _draw(self, n: int, load: int) -> tuple[torch.Tensor, torch.Tensor]:
        margin = load - self.size
        if self.train and margin > 0:
            offsets = torch.randint(0, margin + 1, (n, 2), generator=self.gen)
        else:
            offsets = torch.full((n, 2), margin // 2)
        flips = (
            (torch.rand(n, generator=self.gen) < 0.5)
            if (self.train and self.hflip)
            else torch.zeros(n, dtype=torch.bool)
        )
        return offsets, flips

    def __getitem__(self, item: tuple[list[int], list[int]]) -> dict[str, torch.Tensor]:
        ia, ib = item
        xa = self.a[torch.as_tensor(ia, dtype=torch.long)]  # (B, C_A, L, L) uint8
        xb = self.b[torch.as_tensor(ib, dtype=torch.long)]
        off_a, flip_a = self._draw(len(ia), xa.shape[-1])
        if self.paired:  # the same crop and flip for both images of a pair
            off_b, flip_b = off_a, flip_a
        else:
            off_b, flip_b = self._draw(len(ib), xb.shape[-1])
        return {"A": self._augment(xa, off_a, flip_a), "B": self._augment(xb, off_b, flip_b)}


class PairBatchSampler(Sampler[tuple[list[int], list[int]]]):
    """Seeded batches of (A indices, B indices): aligned when paired, B drawn independently otherwise."""

    def __init__(
        self, n_a: int, n_b: int, batch_size: int, shuffle: bool, paired: bool, seed: int, rank: int = 0, world: int = 1
    ) -> None:
        self.n_a, self.n_b, self.batch_size, self.shuffle, self.paired = n_a, n_b, batch_size, shuffle, paired
        self.seed, self.rank, self.world, self.epoch = seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _length(self) -> int:
        n = self.n_a if self.paired else max(self.n_a, self.n_b)
        return n // self.world

    def __len__(self) -> int:
        n = self._length()
        return n // self.batch_size if self.shuffle else math.ceil(n / self.batch_size)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        total = self._length() * self.world

        def order(n: int) -> list[int]:
            reps = math.ceil(total / n)
            if self.shuffle:
                return torch.cat([torch.randperm(n, generator=g) for _ in range(reps)]).tolist()[:total]
            return (list(range(n)) * reps)[:total]

        oa = order(self.n_a)
        ob = oa if self.paired else order(self.n_b)
        per = self._length()
        oa, ob = oa[self.rank * per : (self.rank + 1) * per], ob[self.rank * per : (self.rank + 1) * per]
        for start in range(0, per, self.batch_size):
            batch_a, batch_b = oa[start : start + self.batch_size], ob[start : start + self.batch_size]
            if self.shuffle and len(batch_a) < self.batch_size:
                return
            yield batch_a, batch_b


class PairedDataModule(L.LightningDataModule):
    """Seeded train/val split of two in-memory domains; true pairs (when known) are kept for evaluation."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.run_config = config
        self.cfg: PairedDataConfig = config.data  # type: ignore[assignment]
        self.a: torch.Tensor | None = None
        self.b: torch.Tensor | None = None
        self.aligned = False
        self.report = PairedReport()
        self.train_a: list[int] = []
        self.train_b: list[int] = []
        self.val_a: list[int] = []
        self.val_b: list[int] = []

    def setup(self, stage: str | None = None) -> None:
        if self.a is not None:
            return
        cfg = self.cfg
        found = inspect_paired(cfg, decode=True)
        self.report = found.report
        if found.report.errors or found.a is None or found.b is None:
            raise DataError("The two-domain data cannot be used:\n" + found.report.summary())
        a = apply_color_mode(found.a, cfg.color_mode_a)
        b = apply_color_mode(found.b, cfg.color_mode_b)
        self.aligned = found.aligned
        rng = np.random.default_rng(self.run_config.seed)
        if self.aligned:
            n = len(a)
            keep = np.sort(rng.permutation(n)[: cfg.max_items]) if cfg.max_items and n > cfg.max_items else np.arange(n)
            a, b = a[keep], b[keep]
        elif cfg.max_items:
            if len(a) > cfg.max_items:
                a = a[np.sort(rng.permutation(len(a))[: cfg.max_items])]
            if len(b) > cfg.max_items:
                b = b[np.sort(rng.permutation(len(b))[: cfg.max_items])]
        load = cfg.load_size or cfg.image_size
        self.a, self.b = _resize(a, load), _resize(b, load)  # uint8 (N, C, L, L)

        g = torch.Generator().manual_seed(self.run_config.seed)

        def split(n: int) -> tuple[list[int], list[int]]:
            order = torch.randperm(n, generator=g).tolist()
            n_val = max(1, int(round(n * cfg.val_fraction))) if cfg.val_fraction > 0 else 0
            n_val = min(n_val, n - 1)
            return sorted(order[n_val:]), sorted(order[:n_val])

        if self.aligned:
            self.train_a, self.val_a = split(len(self.a))
            self.train_b, self.val_b = list(self.train_a), list(self.val_a)
        else:
            self.train_a, self.val_a = split(len(self.a))
            self.train_b, self.val_b = split(len(self.b))
        smallest = min(len(self.train_a), len(self.train_b))
        if smallest < cfg.batch_size:
            raise DataError(
                f"data.batch_size: {cfg.batch_size} is larger than the {smallest} training images of a domain; "
                f"lower it to {max(1, smallest)} or less, or add images"
            )

    def info(self) -> dict[str, Any]:
        """Primitives the model needs (saved in the checkpoint)."""
        assert self.a is not None and self.b is not None, "call setup() first"
        return {
            "name": self.cfg.name if not self.cfg.path_a else f"{self.cfg.path_a} | {self.cfg.path_b}",
            "source": self.cfg.source,
            "domain_a": self.report.domain_a,
            "domain_b": self.report.domain_b,
            "channels_a": int(self.a.shape[1]),
            "channels_b": int(self.b.shape[1]),
            "channels": int(self.b.shape[1]),
            "image_size": int(self.cfg.image_size),
            "paired": bool(self.cfg.paired),
            "aligned_val": bool(self.aligned),
            "num_classes": 0,
            "class_names": [],
            "n_train_a": len(self.train_a),
            "n_train_b": len(self.train_b),
            "n_val": len(self.val_a),
            "n_train": max(len(self.train_a), len(self.train_b)),
        }

    # -- loaders -----------------------------------------------------------------------------------

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)

    def _dataset(self, ia: list[int], ib: list[int], train: bool) -> PairBatches:
        assert self.a is not None and self.b is not None
        a = self.a[torch.as_tensor(ia, dtype=torch.long)]
        b = self.b[torch.as_tensor(ib, dtype=torch.long)]
        paired = self.cfg.paired or not train
        return PairBatches(a, b, self.cfg.image_size, train, paired, self.cfg.hflip, self.run_config.seed)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        sampler = PairBatchSampler(
            len(self.train_a),
            len(self.train_b),
            self.cfg.batch_size,
            True,
            self.cfg.paired,
            self.run_config.seed,
            rank,
            world,
        )
        return DataLoader(
            self._dataset(self.train_a, self.train_b, True),
            sampler=sampler,
            batch_size=None,
            num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def _val_indices(self) -> tuple[list[int], list[int]]:
        va = self.val_a or self.train_a[: self.cfg.batch_size]
        vb = self.val_b or self.train_b[: self.cfg.batch_size]
        if not self.aligned:  # unpaired: cycle B to the length of A (no ground truth)
            vb = [vb[i % len(vb)] for i in range(len(va))]
        return va, vb

    def val_dataloader(self) -> DataLoader:
        va, vb = self._val_indices()
        rank, world = self._rank_world()
        sampler = PairBatchSampler(
            len(va), len(vb), self.cfg.batch_size, False, True, self.run_config.seed, rank, world
        )
        return DataLoader(self._dataset(va, vb, False), sampler=sampler, batch_size=None, num_workers=0)

    def fixed_batch(self, n: int) -> dict[str, torch.Tensor]:
        """n validation pairs spread evenly over the split, centre-cropped (fixed across steps: the panels)."""
        va, vb = self._val_indices()
        n = min(n, len(va))
        picks = np.linspace(0, len(va) - 1, n).round().astype(int).tolist() if n > 1 else [0]
        return self._dataset(va, vb, False)[(picks, picks)]
