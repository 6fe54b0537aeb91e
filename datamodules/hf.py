"""Hugging Face datasets, by id or from a folder saved with save_to_disk: the one place that loads them
and says what to do when this machine cannot reach the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.errors import OfflineError


def load_hf_dataset(name: str, split: str, alternatives: str) -> Any:
    """The split of a dataset; `alternatives` says what else the user can pick (built-ins, uploads)."""
    import datasets

    try:
        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
            return ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        return datasets.load_dataset(name, split=split)
    except Exception as err:  # noqa: BLE001 - datasets raises many types for "no network" / "not found"
        raise OfflineError(
            f"Could not load the Hugging Face dataset {name!r} ({type(err).__name__}). This machine may be offline "
            "or the id is wrong. On a machine with internet run datasets.load_dataset("
            f"{name!r}).save_to_disk('some/folder'), copy the folder here and set data.name to its path; "
            f"or {alternatives}."
        ) from None
