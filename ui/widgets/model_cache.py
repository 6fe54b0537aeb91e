"""Trained models for the Playground: loaded through the engine, cached per checkpoint file.

What a model can do is read from the methods its family module exposes (generate / generate_images,
decode, reconstruct, translate), never from the family's name, so a new image family shows up here
without UI code. Inputs are built as numpy arrays and handed to the model with `new_tensor` on one
of its own parameters: the UI never imports torch itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from genlab.runs import RunStore


def checkpoint_of(store: RunStore, run_id: str) -> Path:
    from genlab.checkpoints import checkpoint_path  # imports torch: only when a model is used

    return checkpoint_path(store, run_id)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(home: str, run_id: str, ckpt: str, mtime: float) -> Any:
    from genlab.checkpoints import module_from_checkpoint

    return module_from_checkpoint(ckpt)


def load_model(store: RunStore, run_id: str) -> tuple[Any, Path]:
    """The run's serving checkpoint (its family's choice: best for images, last for text) as an eval-mode
    module, cached until the file changes."""
    ckpt = checkpoint_of(store, run_id)
    return _load(str(store.home), run_id, str(ckpt), ckpt.stat().st_mtime), ckpt


# -- capabilities ------------------------------------------------------------------------------------------


def latent_dim(module: Any) -> int | None:
    model = getattr(getattr(module, "run_config", None), "model", None)
    return getattr(model, "latent_dim", None)


def class_names(module: Any) -> list[str]:
    """Class names when the model generates a chosen class (conditional models), else []."""
    n = int(getattr(module, "num_classes", 0) or 0)
    if not getattr(module, "conditional", False) or n < 2:
        return []
    names = list((getattr(module, "data_info", {}) or {}).get("class_names") or [])
    return names if len(names) == n else [str(i) for i in range(n)]


def can_sample(module: Any) -> bool:
    return hasattr(module, "generate") or hasattr(module, "generate_images")


def can_walk_latent(module: Any) -> bool:
    return latent_dim(module) is not None and (hasattr(module, "generate") or hasattr(module, "decode"))


def can_reconstruct(module: Any) -> bool:
    return hasattr(module, "reconstruct")


# -- calls -----------------------------------------------------------------------------------------------


def _param(module: Any) -> Any:
    return next(module.parameters())


def sample(module: Any, n: int, seed: int, label: int | None = None) -> Any:
    """n new images (N, C, H, W) in [0, 1]."""
    if hasattr(module, "generate"):
        return module.generate(n, labels=label, seed=seed)
    return module.generate_images(n, seed=seed)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between two latent vectors (D,) at fractions t (T,) -> (T, D)."""
    na, nb = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(na, nb), -1.0, 1.0))
    if omega < 1e-6:
        return np.outer(1 - t, a) + np.outer(t, b)
    so = np.sin(omega)
    return (np.sin((1 - t) * omega) / so)[:, None] * a + (np.sin(t * omega) / so)[:, None] * b


def latent_walk(module: Any, seed_a: int, seed_b: int, ts: np.ndarray, label: int | None = None) -> Any:
    """Images along the path between the latent codes drawn with two seeds."""
    d = latent_dim(module)
    za = np.random.default_rng(seed_a).standard_normal(d).astype(np.float32)
    zb = np.random.default_rng(seed_b).standard_normal(d).astype(np.float32)
    z = _param(module).new_tensor(slerp(za, zb, ts.astype(np.float32)))
    if hasattr(module, "generate"):
        return module.generate(len(ts), labels=label, z=z)
    return module.decode(z)


def reconstruct(module: Any, images: np.ndarray) -> Any:
    """images float (N, C, H, W) in [0, 1] at the model's size -> reconstructions."""
    return module.reconstruct(_param(module).new_tensor(images.astype(np.float32)))


def model_image_shape(module: Any) -> tuple[int, int]:
    info = getattr(module, "data_info", {}) or {}
    return int(info.get("channels", 1)), int(info.get("image_size", 28))
