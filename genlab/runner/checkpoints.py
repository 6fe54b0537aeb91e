"""Load a trained module from a run: torch.load(weights_only=True), so a checkpoint is never unpickled.

The checkpoint's hyper_parameters hold the run config and data info as primitives; the module is
rebuilt from them through the registry and its weights loaded strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import get_family
from genlab.runner.train import build_module
from genlab.store.runs import RunStore


def checkpoint_path(store: RunStore, run_id: str, which: str | None = None) -> Path:
    """The run's `which` checkpoint ('best' by the family's monitor, or 'last'), the other when it is
    missing; None: the family's serve_checkpoint."""
    if which is None:
        which = get_family(store.get(run_id).family).serve_checkpoint
    folder = store.run_folder(run_id) / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    last = folder / "last.ckpt"
    if which == "best" and best:
        return best[-1]
    if last.exists():
        return last
    if best:
        return best[-1]
    raise GenLabError(f"Run {run_id} has no checkpoint yet; wait until it has trained for an epoch")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
        raise GenLabError(
            f"{Path(path).name} is not a GenLab checkpoint GenLab can read safely ({type(err).__name__}: {err})"
        ) from None


def module_from_checkpoint(path: str | Path) -> Any:
    """Rebuild the module a checkpoint was saved from, in eval mode on the CPU."""
    ckpt = load_checkpoint(path)
    hp = ckpt.get("hyper_parameters") or {}
    if "config" not in hp or "data_info" not in hp:
        raise GenLabError(f"{Path(path).name} has no GenLab config inside; it was not saved by GenLab")
    module = build_module(parse_config(hp["config"]), hp["data_info"])
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["state_dict"].items()}
    module.load_state_dict(state)
    module.eval()
    return module


def load_module(store: RunStore, run_id: str, which: str | None = None) -> Any:
    """The trained module of a run, ready for generation, export or the Playground."""
    return module_from_checkpoint(checkpoint_path(store, run_id, which))
