"""The data API of the UI and the CLI: built-in sets to preview, uploads to store and check.

The UI imports this module and never the data modules. Listing and storing are torch-free; previews
that need a data module's decoding import it on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datamodules.builtin import load_builtin_images
from datamodules.uploads import (
    IMAGE_SUFFIXES,
    IntakeReport,
    import_zip_upload,
    list_uploads,
    safe_name,
    scan_image_folder,
)
from genlab.core.catalogue import IMAGE_SETS, PAIR_SETS, TEXT_SETS, BuiltinSet, builtin_sets
from genlab.core.data_config import PairedDataConfig, TextDataConfig

__all__ = [
    "IMAGE_SETS",
    "IMAGE_SUFFIXES",
    "PAIR_SETS",
    "TEXT_SETS",
    "BuiltinSet",
    "IntakeReport",
    "builtin_sets",
    "image_set",
    "import_text_upload",
    "import_zip_upload",
    "list_uploads",
    "pair_set_preview",
    "safe_name",
    "scan_image_folder",
    "table_preview",
    "text_corpus_preview",
    "validate_pair_upload",
]


def image_set(name: str) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A built-in image set: images (N, H, W, C) uint8, labels or None, class names."""
    return load_builtin_images(name)


def text_corpus_preview(name: str, chars: int = 1500, chats: int = 3) -> dict[str, Any]:
    """The start of a built-in corpus (or its first conversations) and its size, for the Data page."""
    from datamodules.corpora import load_corpus

    corpus = load_corpus(TextDataConfig(source="builtin", name=name))
    if corpus.is_chat:
        return {"chats": corpus.chats[:chats], "size": f"{len(corpus.chats):,} conversations"}
    return {"excerpt": corpus.text[:chars], "size": f"{len(corpus.text) / 1e6:.1f} M characters"}


def pair_set_preview(name: str, n: int = 8) -> tuple[np.ndarray, np.ndarray, str]:
    """n aligned pairs (A, B) of a built-in two-domain set and its check summary."""
    from datamodules.paired_intake import inspect_paired

    two = inspect_paired(PairedDataConfig(source="builtin", name=name, paired=True), decode=True)
    idx = np.linspace(0, len(two.a) - 1, n).astype(int)
    return two.a[idx], two.b[idx], two.report.summary()


def validate_pair_upload(folder_name: str, paired: bool) -> Any:
    """The PairedReport of a stored zip upload used as two domains (paired for pix2pix, else CycleGAN)."""
    from datamodules.paired_intake import validate_paired

    return validate_paired(PairedDataConfig(source="zip", name=folder_name, paired=paired))


def import_text_upload(name: str, source: str | Path) -> Path:
    """Store an uploaded text file under the uploads folder; returns where it went."""
    from datamodules.corpora import import_text_upload as store_text

    return store_text(name, source)


def table_preview(name: str, source: str = "upload", **kwargs: Any) -> Any:
    """A .csv/.jsonl table checked as pairs (t5) or labelled texts (bert): datamodules/table_preview.py."""
    from datamodules.table_preview import preview_table

    return preview_table(name, source, **kwargs)
