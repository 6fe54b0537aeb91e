"""Trained models for the Playground: loaded through the engine, cached per checkpoint file.

What a model can do is read from its capabilities through the engine's image API (genlab/use/sample.py),
never from the family's name, so a new image family shows up here without UI code. Inputs and
outputs are numpy arrays: the UI never imports torch itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from genlab.store.runs import RunStore


def checkpoint_of(store: RunStore, run_id: str) -> Path:
    from genlab.runner.checkpoints import checkpoint_path  # imports torch: only when a model is used

    return checkpoint_path(store, run_id)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(home: str, run_id: str, ckpt: str, mtime: float) -> Any:
    from genlab.runner.checkpoints import module_from_checkpoint

    return module_from_checkpoint(ckpt)


def load_model(store: RunStore, run_id: str) -> tuple[Any, Path]:
    """The run's serving checkpoint (its family's choice: best for images, last for text) as an eval-mode
    module, cached until the file changes."""
    ckpt = checkpoint_of(store, run_id)
    return _load(str(store.home), run_id, str(ckpt), ckpt.stat().st_mtime), ckpt


# -- capabilities and calls: the engine's image API (genlab/use/sample.py), imported when a model is used ------


def capabilities(module: Any) -> list[str]:
    from genlab.use import sample as engine

    return engine.capabilities(module)


def class_names(module: Any) -> list[str]:
    from genlab.use import sample as engine

    return engine.class_names(module)


def can_sample(module: Any) -> bool:
    return "ImageSampler" in capabilities(module)


def can_walk_latent(module: Any) -> bool:
    return "LatentWalker" in capabilities(module)


def can_truncate(module: Any) -> bool:
    return "Truncatable" in capabilities(module)


def can_reconstruct(module: Any) -> bool:
    return "Reconstructor" in capabilities(module)


def sample(module: Any, n: int, seed: int, label: int | None = None, truncation: float | None = None) -> np.ndarray:
    """n new images (N, C, H, W) in [0, 1] (at `truncation` for a model with the truncation trick)."""
    from genlab.use import sample as engine

    return engine.sample(module, n, seed=seed, labels=label, truncation=truncation)


def default_truncation(module: Any) -> float | None:
    """The run's own truncation for a model with the truncation trick; None otherwise."""
    from genlab.use import sample as engine

    return engine.default_truncation(module)


def latent_walk(module: Any, seed_a: int, seed_b: int, ts: np.ndarray, label: int | None = None) -> np.ndarray:
    """Images along the path between the latent codes drawn with two seeds."""
    from genlab.use import sample as engine

    return engine.interpolate(module, seed_a, seed_b, ts, labels=label)


def reconstruct(module: Any, images: np.ndarray) -> np.ndarray:
    """images float (N, C, H, W) in [0, 1] at the model's size -> reconstructions."""
    from genlab.use import sample as engine

    return engine.reconstruct(module, images)


def model_image_shape(module: Any) -> tuple[int, int]:
    from genlab.use import sample as engine

    return engine.image_shape(module)
