"""Checks of a two-domain source before training: counts per domain, unmatched names, mixed sizes, the
grey/colour mix, too few images, skipped files, all gathered in a PairedReport the UI shows; then the
decoded arrays (TwoDomains) the data module batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from datamodules.emoji_pairs import load_edges2emoji, load_emoji_pairs
from datamodules.images import _decode_files, resolve_image_source
from datamodules.uploads import scan_image_folder
from genlab.core.catalogue import PAIR_SETS
from genlab.core.data_config import ImageDataConfig, PairedDataConfig
from genlab.core.errors import DataError

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
DOMAIN_FOLDERS = (("A", "B"), ("trainA", "trainB"), ("a", "b"), ("domainA", "domainB"))
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
        info = PAIR_SETS[cfg.name]
        report = PairedReport(domain_a=info.domains[0], domain_b=info.domains[1], paired=cfg.paired)  # type: ignore[index]
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


def apply_color_mode(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "grey" and x.shape[-1] == 3:
        w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return (x.astype(np.float32) @ w).round().clip(0, 255).astype(np.uint8)[..., None]
    if mode == "rgb" and x.shape[-1] == 1:
        return np.repeat(x, 3, axis=-1)
    return x
