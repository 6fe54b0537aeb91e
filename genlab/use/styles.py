"""The engine API of style-based generators (the StyleMixer capability): samples at a truncation psi, a
style-mixing grid (coarse styles from one set of seeds, fine styles from another) and a walk in W. The
Playground calls these; images come back as numpy arrays (N, C, H, W) of floats in [0, 1].

A psi outside [0, 1] or a crossover outside the model's style layers is a GenLabError with the model's own
words (the same as the config check at load time says for `model.truncation_psi`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlab.core.errors import GenLabError
from lightning_modules.base import StyleMixer

MAX_SEEDS = 8  # per side of the mixing grid


def _mixer(module: Any) -> StyleMixer:
    if not isinstance(module, StyleMixer):
        raise GenLabError("This model has no style layers (no truncation, style mixing or walk in W)")
    module.eval()
    return module


def _call(fn: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    try:
        with torch.no_grad():
            out = fn(*args, **kwargs)
    except ValueError as err:
        raise GenLabError(str(err)) from None
    return out.detach().float().clamp(0, 1).cpu().numpy()


def truncated(module: Any, n: int, *, seed: int = 0, psi: float = 1.0) -> np.ndarray:
    """n images from seeded z at truncation psi (1: full variety, 0: the mean w's image)."""
    if not 1 <= n <= 64:
        raise GenLabError(f"n must be between 1 and 64, got {n}")
    return _call(_mixer(module).truncated_samples, n, seed=int(seed), psi=float(psi))


def style_mix(
    module: Any, coarse_seeds: list[int], fine_seeds: list[int], *, psi: float = 1.0, crossover: int | None = None
) -> np.ndarray:
    """Row i, column j: coarse styles of coarse_seeds[i], fine styles of fine_seeds[j]; row-major."""
    if not (1 <= len(coarse_seeds) <= MAX_SEEDS and 1 <= len(fine_seeds) <= MAX_SEEDS):
        raise GenLabError(f"give 1 to {MAX_SEEDS} seeds on each side of the mixing grid")
    mixer = _mixer(module)
    return _call(
        mixer.style_mix,
        [int(s) for s in coarse_seeds],
        [int(s) for s in fine_seeds],
        psi=float(psi),
        crossover=crossover,
    )


def w_walk(module: Any, seed_a: int, seed_b: int, steps: int = 8, *, psi: float = 1.0) -> np.ndarray:
    """`steps` images on the straight line in W between two seeds' w."""
    if not 2 <= steps <= 64:
        raise GenLabError(f"steps must be between 2 and 64, got {steps}")
    return _call(_mixer(module).w_walk, int(seed_a), int(seed_b), int(steps), psi=float(psi))


def style_layers(module: Any) -> int:
    """How many layers read a style at the model's current resolution (the crossover's range)."""
    return int(_mixer(module).num_style_layers)
