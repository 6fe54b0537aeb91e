"""Image grids: tile arrays into one picture, and show a run's sample grids."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image


def to_uint8_images(batch: Any) -> np.ndarray:
    """(N, H, W, C) uint8 from a numpy-convertible batch: uint8 HWC/CHW or float in [0, 1].

    Tensors from the engine are accepted through their `.numpy()` (no torch import here).
    """
    if hasattr(batch, "detach"):
        batch = batch.detach().cpu().float().numpy()
    arr = np.asarray(batch)
    if arr.ndim == 3:  # (N, H, W) grey
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"expected a batch of images (N, H, W, C) or (N, C, H, W), got shape {arr.shape}")
    if arr.shape[1] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return arr


def tile(images: Any, columns: int | None = None, pad: int = 2, scale: int = 1) -> Image.Image:
    """One PIL image of the batch laid out on a grid with a light separator."""
    arr = to_uint8_images(images)
    n, h, w, c = arr.shape
    if c == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif c == 4:
        arr = arr[..., :3]
    cols = columns or max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / cols))
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 235, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[y : y + h, x : x + w] = arr[i]
    img = Image.fromarray(canvas)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def auto_scale(side: int, target: int = 360) -> int:
    """A nearest-neighbour zoom so that tiny images (8-32 px grids) are not blurred by the browser."""
    return max(1, min(8, target // max(1, side)))


def show_grid(
    images: Any,
    *,
    caption: str | None = None,
    columns: int | None = None,
    width: int | str = "stretch",
    target: int = 360,
) -> None:
    grid = tile(images, columns=columns)
    grid = grid.resize(
        (grid.width * auto_scale(grid.width, target), grid.height * auto_scale(grid.width, target)),
        Image.Resampling.NEAREST,
    )
    st.image(grid, caption=caption, width=width)


def show_image_file(
    path: str | Path, *, caption: str | None = None, width: int | str = "stretch", target: int = 360
) -> None:
    """Show a PNG artifact, zoomed without blur when it is small; a clear note when it is missing."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            img = im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
    except (OSError, ValueError):
        st.warning(f"The image {path.name} is missing or unreadable (the run folder may have been cleaned).")
        return
    factor = auto_scale(img.width, target)
    if factor > 1:
        img = img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)
    st.image(img, caption=caption, width=width)


INLINE_MAX_BYTES = 1_500_000


def show_image_inline(path: str | Path, *, alt: str = "sample grid", caption: str | None = None) -> None:
    """Show a sample PNG embedded in the page (a data URI), scaled up crisply by the browser.

    Live views redraw every few seconds while new grids arrive; an embedded image cannot be fetched
    after the server has already replaced it (Streamlit's media files are dropped on the next rerun,
    which made a loading <img> fail with 404 on a busy machine). Large files fall back to st.image.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError:
        st.warning(f"The image {path.name} is missing (the run folder may have been cleaned).")
        return
    if len(data) > INLINE_MAX_BYTES:
        show_image_file(path, caption=caption)
        return
    if not data.startswith(b"\x89PNG"):
        try:
            with Image.open(io.BytesIO(data)) as im:
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
                data = buf.getvalue()
        except (OSError, ValueError):
            st.warning(f"The image {path.name} is unreadable.")
            return
    b64 = base64.b64encode(data).decode("ascii")
    st.markdown(
        f'<img class="genlab-sample" alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" '
        'style="width:100%;image-rendering:pixelated;border-radius:4px">',
        unsafe_allow_html=True,
    )
    if caption:
        st.caption(caption)


def side_by_side(items: Sequence[tuple[str, str | Path | None]], columns: int = 3) -> None:
    """Several labelled image files in columns (None: 'no image')."""
    cols = st.columns(min(columns, max(1, len(items))))
    for i, (label, path) in enumerate(items):
        with cols[i % len(cols)]:
            st.markdown(f"**{label}**")
            if path is None:
                st.caption("No sample at this step.")
            else:
                show_image_inline(path, alt=f"{label} sample grid")
