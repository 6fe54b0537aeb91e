"""Translate a user's image with a trained translation run: in a chosen direction (AtoB/BtoA) or, for a
multi-domain run, into a chosen target domain (its directions are its domain names), or into every domain.

The image may have any size: it is padded to a square (with its border's median colour), resized to the model's
side, translated, resized back and cropped, so the output has exactly the input's width and height.
Bad inputs (not an image, corrupt, an unsupported mode such as 16-bit or float, huge, tiny) raise a
DataError that says what to do.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from genlab.core.errors import DataError, GenLabError
from genlab.core.registry import FAMILIES, get_family
from genlab.runner.build import build_datamodule
from genlab.runner.checkpoints import load_module
from genlab.store.runs import RunStore
from lightning_modules.base import MultiDomainTranslator, Translator
from lightning_modules.translation_nets import TranslationEval

MAX_PIXELS = 40_000_000  # the same cap as uploads
MAX_SIDE = 4096  # the image is padded to a square float tensor: side^2 x channels x 4 bytes, several times over
MAX_ASPECT = 8.0  # a 4000x4 strip would pad to a 4000x4000 square (hundreds of MB) from a few bytes
MIN_SIDE = 4
SUPPORTED_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "La", "CMYK", "YCbCr", "LAB", "HSV")

ImageInput = str | Path | bytes | Image.Image


def header_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from the image header alone, nothing decoded: a tiny file that would decode
    to a huge image is refused before it costs memory."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Image.DecompressionBombError:
        raise DataError("the image is far too large to decode safely") from None
    except (UnidentifiedImageError, OSError):
        raise DataError("the upload is not an image Pillow can read; use a PNG or JPEG file") from None


def open_image(source: ImageInput, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A decoded PIL image from a path, raw bytes or a PIL image; DataError with the reason otherwise."""
    label = "the image"
    if isinstance(source, Image.Image):
        im = source
    else:
        if isinstance(source, bytes):
            stream: Any = io.BytesIO(source)
        else:
            path = Path(source)
            label = path.name
            if not path.is_file():
                raise DataError(f"{path}: no such file")
            stream = path
        try:
            im = Image.open(stream)
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(
                f"{label} is not an image Pillow can read ({type(err).__name__}); use a PNG or JPEG file"
            ) from None
        except Image.DecompressionBombError:
            raise DataError(
                f"{label} is far too large to decode safely; resize it below {max_pixels // 1_000_000} megapixels"
            ) from None
    w, h = im.size  # from the header: nothing is decoded before these checks
    if max(w, h) > MAX_SIDE:
        raise DataError(f"{label} is {w}x{h}; the longest side may be at most {MAX_SIDE} pixels. Resize it first.")
    if min(w, h) >= 1 and max(w, h) / min(w, h) > MAX_ASPECT:
        raise DataError(
            f"{label} is {w}x{h}; images may be at most {MAX_ASPECT:.0f} times longer than wide. Crop it first."
        )
    if w * h > max_pixels:
        raise DataError(
            f"{label} is {w}x{h} = {w * h / 1e6:.1f} megapixels; the limit is {max_pixels / 1e6:.0f}. Resize it first."
        )
    if min(w, h) < MIN_SIDE:
        raise DataError(f"{label} is {w}x{h}; images need at least {MIN_SIDE} pixels on each side")
    if im.mode not in SUPPORTED_MODES:
        raise DataError(
            f"{label} has the pixel mode {im.mode!r} (16-bit, 32-bit or floating point), which GenLab does not translate; "
            "save it as an 8-bit grey or colour PNG/JPEG"
        )
    try:
        im.load()
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"{label} is corrupt or truncated ({type(err).__name__}: {err}); re-export it and try again"
        ) from None
    return im


def to_tensor(im: Image.Image, channels: int) -> torch.Tensor:
    """PIL image -> (1, channels, H, W) float in [0, 1]; transparency is composited on white."""
    if im.mode in ("P", "PA", "LA", "La", "RGBa", "RGBA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    im = im.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[..., None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255.0


def to_pil(x: torch.Tensor) -> Image.Image:
    """(1, C, H, W) in [0, 1] -> PIL L or RGB."""
    arr = x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr[..., 0], "L") if arr.shape[-1] == 1 else Image.fromarray(arr, "RGB")


def _channels(module: Any, direction: str) -> tuple[int, int]:
    if isinstance(module, MultiDomainTranslator):  # one generator: the same channels in and out
        return int(module.channels), int(module.channels)
    info = module.data_info
    ca, cb = int(info.get("channels_a", 3)), int(info.get("channels_b", 3))
    return (ca, cb) if direction == "AtoB" else (cb, ca)


def available_directions(module: Any) -> tuple[str, ...]:
    return tuple(module.directions()) if isinstance(module, Translator) else ()


@torch.no_grad()
def translate_image(module: Any, image: ImageInput, direction: str | None = None) -> Image.Image:
    """Translate one image with a loaded CycleGAN/pix2pix module; the output has the input's size."""
    directions = available_directions(module)
    if not directions:
        raise GenLabError(f"This model does not translate images; pick a run of {_translator_families()}")
    direction = direction or directions[0]
    check_direction(module, direction)
    im = open_image(image)
    c_in, _ = _channels(module, direction)
    x = to_tensor(im, c_in)  # (1, C_in, H, W)
    _, _, h, w = x.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    if side != h or side != w:  # pad to a square with the background: the median colour of the border
        border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (1, C, 2W+2H)
        square = border.median(dim=-1).values[..., None, None].expand(1, x.shape[1], side, side).clone()
        square[..., top : top + h, left : left + w] = x
        x = square
    size = int(module.image_size)
    small = F.interpolate(x, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False)
    module.eval()
    param = next(module.parameters())
    y = module.translate(small.to(param.device, param.dtype), direction).float().cpu()  # (1, C_out, S, S)
    if side != size:
        y = F.interpolate(y, size=(side, side), mode="bicubic", antialias=side < size, align_corners=False)
    y = y[..., top : top + h, left : left + w].clamp(0, 1)
    return to_pil(y)


def check_direction(module: Any, direction: str) -> None:
    """A GenLabError naming what the run offers when `direction` (or target domain) is not one of them."""
    directions = available_directions(module)
    if direction in directions:
        return
    if isinstance(module, MultiDomainTranslator):
        raise GenLabError(f"unknown target domain {direction!r}: this run knows the domains {', '.join(directions)}")
    raise GenLabError(f"This model translates {' and '.join(directions)}; {direction!r} is not available")


def domains_of(module: Any) -> list[str]:
    """The target domains of a multi-domain run ([] for any other model)."""
    return list(module.domains()) if isinstance(module, MultiDomainTranslator) else []


def translate_into_every_domain(module: Any, image: ImageInput) -> list[tuple[str, Image.Image]]:
    """One image into each of a multi-domain run's domains, in the run's order: the Playground's row."""
    domains = domains_of(module)
    if not domains:
        raise GenLabError(f"This model has no target domains; pick a run of {_families_that('MultiDomainTranslator')}")
    im = open_image(image)  # decoded and checked once
    return [(d, translate_image(module, im, d)) for d in domains]


def load_translator(store: RunStore, run_id: str, which: str = "best") -> Any:
    """The trained module of a run whose family translates (a clear error for any other family)."""
    run = store.get(run_id)
    if not get_family(run.family).can("Translator"):
        raise GenLabError(f"Run {run_id} is a {run.family} run; translation needs a run of {_translator_families()}")
    return load_module(store, run_id, which)


def _translator_families() -> str:
    return _families_that("Translator")


def _families_that(capability: Any) -> str:
    return " or ".join(f.name for f in FAMILIES.values() if f.can(capability))


def translate(
    store: RunStore, run_id: str, image: ImageInput, direction: str | None = None, which: str = "best"
) -> Image.Image:
    """Translate an image with a run's checkpoint (best by default) in the given direction (AtoB/BtoA)."""
    return translate_image(load_translator(store, run_id, which), image, direction)


def translate_files(
    store: RunStore,
    run_id: str,
    inputs: list[str | Path],
    output_dir: str | Path,
    direction: str | None = None,
    which: str = "best",
) -> list[Path]:
    """Translate several files; writes <stem>_<direction>.png into output_dir and returns the paths. A
    multi-domain run without a direction translates each file into every domain (<stem>_<domain>.png)."""
    module = load_translator(store, run_id, which)
    if direction is not None:
        check_direction(module, direction)  # before any file is read
        targets = [direction]
    else:
        targets = domains_of(module) or [available_directions(module)[0]]
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in inputs:
        for target_name in targets:
            result = translate_image(module, path, target_name)
            target = out_dir / f"{Path(path).stem}_{target_name}.png"
            result.save(target)
            written.append(target)
    return written


@torch.no_grad()
def evaluate(
    store: RunStore, run_id: str, fid_features: str = "inception", which: str = "best", max_batches: int | None = None
) -> dict[str, float]:
    """Score a translation run on its validation split: L1/PSNR/SSIM (with true pairs) and FID/KID per direction
    (per target domain, with the domain classifier's accuracy, for a multi-domain run).

    The same metric code as validation (lightning_modules.translation_nets.TranslationEval) with FID/KID
    switched on; FID/KID use genlab.metrics' Inception features (or 16x16 pixels).
    """
    module = load_translator(store, run_id, which)
    config = module.run_config
    dm = build_datamodule(config)
    dm.setup("fit")
    if isinstance(module, MultiDomainTranslator):  # FID/KID per target domain, domain accuracy, cycle L1
        return module.evaluate_translations(dm.val_dataloader(), fid_features, max_batches)
    directions = module.directions()
    two_way = len(directions) == 2  # both ways: per-direction metrics and the cycle loss
    suffixes = directions if two_way else [""]
    ev = TranslationEval(suffixes, bool(dm.info()["aligned_val"]), True, int(module.image_size), fid_features)
    cycle, n = 0.0, 0
    for i, batch in enumerate(dm.val_dataloader()):
        if max_batches is not None and i >= max_batches:
            break
        for direction, suffix in zip(directions, suffixes, strict=True):
            src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
            fake = module.translate(batch[src], direction)
            ev.update(suffix, fake, batch[dst])
            if two_way:
                back = "BtoA" if direction == "AtoB" else "AtoB"
                cycle += float((module.translate(fake, back) - batch[src]).abs().mean()) * len(fake)
                n += len(fake)
    out = ev.compute_and_reset()
    if n:
        out["val/cycle_l1"] = cycle / n
    return out
