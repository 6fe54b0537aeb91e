"""The engine API for images: draw samples (with a seed, and a class for conditional models), walk the
latent space between two seeds, reconstruct an image. The Playground, the CLI (`genlab sample`) and the
REST server call these; what a model can do is read from its capabilities (lightning_modules/base.py),
never from its family's name.

Images come back as numpy arrays (N, C, H, W) of floats in [0, 1], so callers need no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genlab.core.errors import GenLabError
from genlab.core.imaging import save_grid
from genlab.core.registry import FAMILIES, get_family, names_that_can
from genlab.core.truncation import truncation_problem
from genlab.runner.checkpoints import load_module
from genlab.store.runs import RunStore
from genlab.use.translate import ImageInput, open_image, to_tensor
from lightning_modules.base import (
    PROTOCOLS,
    DenoisingSampler,
    Encoder,
    ImageSampler,
    Labels,
    LatentWalker,
    Reconstructor,
    Truncatable,
    slerp,
)

MAX_SAMPLES = 256  # one call; the grid of 256 64-px images is already 1 megapixel


def capabilities(module: Any) -> list[str]:
    """The capability protocols a loaded model implements (ImageSampler, LatentWalker, ...)."""
    return [name for name, proto in PROTOCOLS.items() if isinstance(module, proto)]


def load_image_model(store: RunStore, run_id: str, which: str | None = None) -> Any:
    """The trained module of a run whose family samples or reconstructs images; a clear error otherwise."""
    run = store.get(run_id)
    family = get_family(run.family)
    if not (family.can("ImageSampler") or family.can("Reconstructor")):
        able = ", ".join(f.name for f in FAMILIES.values() if f.can("ImageSampler"))
        raise GenLabError(f"Run {run_id} is a {run.family} run, which does not generate images; pick a run of {able}")
    return load_module(store, run_id, which)


def class_names(module: Any) -> list[str]:
    """The classes a conditional model can draw ([] for unconditional models)."""
    return list(module.class_names()) if isinstance(module, ImageSampler) else []


def image_shape(module: Any) -> tuple[int, int]:
    """(channels, side) of the images the model works on."""
    info = module.data_info  # GenLabModule: the data module's primitives
    return int(info.get("channels", 1)), int(info.get("image_size", 28))


def _check_labels(module: Any, labels: Labels, n: int) -> Labels:
    names = class_names(module)
    if labels is None:
        return None
    if not names:
        raise GenLabError("This model is not conditional: it cannot draw a chosen class (leave the class out)")
    values = [labels] if isinstance(labels, int) else list(labels)
    bad = [v for v in values if not 0 <= int(v) < len(names)]
    if bad:
        raise GenLabError(f"class {bad[0]} is not one of this model's classes 0..{len(names) - 1} ({', '.join(names)})")
    if not isinstance(labels, int) and len(values) not in (1, n):
        raise GenLabError(f"give one class for all {n} images or one per image, not {len(values)}")
    return int(values[0]) if len(values) == 1 else [int(v) for v in values]


def _numpy(images: torch.Tensor) -> np.ndarray:
    return images.detach().float().clamp(0, 1).cpu().numpy()


def sampling_settings(module: Any) -> dict[str, Any]:
    """The sampling knobs a model offers (samplers, default steps and guidance); {} for none."""
    settings = getattr(module, "sampling_settings", None)
    return dict(settings()) if callable(settings) else {}


def _options(module: Any, options: dict[str, Any] | None) -> dict[str, Any]:
    """The sampling knobs given (None: the run's default), or a GenLabError for a model without them."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if options and not sampling_settings(module):
        raise GenLabError(f"this model has no sampling settings ({', '.join(sorted(options))})")
    return options


def check_sampling(module: Any, options: dict[str, Any] | None) -> tuple[str, int, float]:
    """The (sampler, steps, guidance) one call would use, or the GenLabError `genlab sample` prints for them."""
    if not isinstance(module, DenoisingSampler):
        raise GenLabError("This model does not sample by denoising: it has no sampler, steps or guidance")
    knobs = _options(module, options)
    return module.check_sampling(knobs.get("sampler"), knobs.get("steps"), knobs.get("guidance_scale"))


def default_truncation(module: Any) -> float | None:
    """The run's own truncation for a model that offers the truncation trick (Truncatable); None otherwise."""
    return float(module.default_truncation) if isinstance(module, Truncatable) else None


def check_truncation(module: Any, truncation: float) -> float:
    """A truncation in [0, 1] for a Truncatable model; the config's words otherwise."""
    if not isinstance(module, Truncatable):
        raise GenLabError(
            f"This model has no truncation setting (a {names_that_can('Truncatable')} run has); leave truncation out"
        )
    problem = truncation_problem(truncation)
    if problem:
        raise GenLabError(f"{problem} (got {truncation!r})")
    return float(truncation)


@torch.no_grad()
def sample(
    module: Any,
    n: int,
    *,
    seed: int = 0,
    labels: Labels = None,
    options: dict[str, Any] | None = None,
    truncation: float | None = None,
) -> np.ndarray:
    """n new images (N, C, H, W) in [0, 1]; the same seed (and labels) gives the same images. `options`
    (sampler, steps, guidance_scale) reach models whose sampling_settings() offer them; `truncation`
    (0..1) reaches Truncatable models."""
    if not isinstance(module, ImageSampler):
        raise GenLabError("This model does not draw new images")
    if not 1 <= n <= MAX_SAMPLES:
        raise GenLabError(f"n must be between 1 and {MAX_SAMPLES}, got {n}")
    labels = _check_labels(module, labels, n)
    module.eval()
    if truncation is not None:
        t = check_truncation(module, truncation)
        return _numpy(module.sample_truncated(n, seed=seed, labels=labels, truncation=t))
    options = _options(module, options)
    if options:
        return _numpy(module.sample(n, seed=seed, labels=labels, **options))
    return _numpy(module.sample_images_n(n, seed=seed, labels=labels))


MAX_STRIP_FRAMES = 32


@torch.no_grad()
def denoising_strip(
    module: Any, *, seed: int = 0, label: int | None = None, options: dict[str, Any] | None = None, frames: int = 8
) -> tuple[list[int], np.ndarray]:
    """One image from noise to sample: the sampling steps shown (0 = the noise) and the images there
    (frames, C, H, W) in [0, 1]; its last frame is sample()'s image for the same seed, class and knobs."""
    if not isinstance(module, DenoisingSampler):
        raise GenLabError("This model does not sample by denoising: it has no denoising strip")
    if not 2 <= frames <= MAX_STRIP_FRAMES:
        raise GenLabError(f"frames must be between 2 and {MAX_STRIP_FRAMES}, got {frames}")
    checked = _check_labels(module, label, 1)
    module.eval()
    at, images = module.denoising_strip(seed=seed, label=checked, frames=frames, **_options(module, options))
    return [int(s) for s in at], _numpy(images)


@torch.no_grad()
def interpolate(
    module: Any,
    seed_a: int,
    seed_b: int,
    ts: list[float] | np.ndarray,
    labels: Labels = None,
    options: dict[str, Any] | None = None,
) -> np.ndarray:
    """Images along the spherical path between the latent codes drawn with two seeds, at fractions ts.
    A denoising model's latent is its starting noise; `options` (sampler, steps, guidance) then apply."""
    if not isinstance(module, LatentWalker):
        raise GenLabError("This model has no latent space to walk")
    ts = np.asarray(ts, dtype=np.float32).reshape(-1)
    if not 1 <= len(ts) <= MAX_SAMPLES or ((ts < 0) | (ts > 1)).any():
        raise GenLabError(f"give 1 to {MAX_SAMPLES} positions between 0 and 1")
    d = module.latent_dim
    za = torch.randn(1, d, generator=torch.Generator().manual_seed(int(seed_a)))
    zb = torch.randn(1, d, generator=torch.Generator().manual_seed(int(seed_b)))
    t = torch.from_numpy(ts).unsqueeze(1)  # (T, 1)
    z = slerp(za.expand(len(ts), d), zb.expand(len(ts), d), t)  # (T, D)
    param = next(module.parameters())
    module.eval()
    labels = _check_labels(module, labels, len(ts))
    knobs = _options(module, options)
    if knobs:
        channels, side = image_shape(module)
        noise = z.reshape(len(ts), channels, side, side).to(param.device, param.dtype)
        return _numpy(module.denoise(noise, labels=labels, **knobs)[0])
    return _numpy(module.images_from_latents(z.to(param.device, param.dtype), labels))


@torch.no_grad()
def reconstruct(module: Any, images: np.ndarray) -> np.ndarray:
    """images (N, C, H, W) floats in [0, 1] at the model's size -> the model's reconstructions."""
    if not isinstance(module, Reconstructor):
        raise GenLabError("This model does not reconstruct images")
    x = _as_input(module, images)
    module.eval()
    return _numpy(module.reconstruct(x))


def _as_input(module: Any, images: np.ndarray) -> torch.Tensor:
    channels, size = image_shape(module)
    if images.ndim != 4 or images.shape[1:] != (channels, size, size):
        raise GenLabError(f"images must be (N, {channels}, {size}, {size}); got {tuple(images.shape)}")
    param = next(module.parameters())
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(param.device, param.dtype)


@torch.no_grad()
def encode(module: Any, images: np.ndarray) -> np.ndarray:
    """images (N, C, H, W) floats in [0, 1] at the model's size -> latent codes (N, latent_dim)."""
    if not isinstance(module, Encoder):
        raise GenLabError(f"This model has no encoder (a {names_that_can('Encoder')} run encodes images)")
    module.eval()
    return module.encode_images(_as_input(module, images)).detach().float().cpu().numpy()


@torch.no_grad()
def encode_image(module: Any, image: ImageInput) -> np.ndarray:
    """One image (a path, bytes or PIL image, any size) -> its latent code (latent_dim,): resized to the
    model's square side after the same checks as translation uploads."""
    channels, size = image_shape(module)
    x = to_tensor(open_image(image), channels)  # (1, C, H, W)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return encode(module, x.numpy())[0]


@torch.no_grad()
def decode(module: Any, latents: np.ndarray | list[list[float]], labels: Labels = None) -> np.ndarray:
    """Latent codes (N, latent_dim) -> images (N, C, H, W) in [0, 1]."""
    if not isinstance(module, LatentWalker):
        raise GenLabError("This model has no latent space to decode from")
    try:
        z = np.asarray(latents, dtype=np.float32)
    except ValueError:
        raise GenLabError(
            f"latents must be codes of {module.latent_dim} numbers each (got rows of different lengths)"
        ) from None
    if z.ndim != 2 or z.shape[1] != module.latent_dim or not 1 <= len(z) <= MAX_SAMPLES:
        raise GenLabError(f"latents must be 1 to {MAX_SAMPLES} codes of {module.latent_dim} numbers; got {z.shape}")
    if not np.isfinite(z).all():
        raise GenLabError("latents must be finite numbers")
    param = next(module.parameters())
    module.eval()
    out = module.images_from_latents(
        torch.from_numpy(z).to(param.device, param.dtype), _check_labels(module, labels, len(z))
    )
    return _numpy(out)


def sample_grid(
    store: RunStore,
    run_id: str,
    out: str | Path,
    *,
    n: int = 16,
    seed: int = 0,
    labels: Labels = None,
    which: str | None = None,
    options: dict[str, Any] | None = None,
    truncation: float | None = None,
) -> Path:
    """Sample n images of a run and save them as one PNG grid (the CLI's `genlab sample`)."""
    module = load_image_model(store, run_id, which)
    images = torch.from_numpy(sample(module, n, seed=seed, labels=labels, options=options, truncation=truncation))
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GenLabError(f"--out must name a .png file, got {out.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, out, nrow=max(1, int(np.ceil(np.sqrt(n)))))
    return out
