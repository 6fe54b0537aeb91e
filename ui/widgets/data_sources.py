"""What data a config's `data.name` can name: built-in sets per data kind, and stored uploads.

The built-in catalogues of the text and two-domain data modules are plain dict literals; they are read
from the module source with `ast.literal_eval` so that listing them does not import torch into the UI
server (importing those modules costs seconds). The modules themselves are imported only to preview.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from datamodules.builtin import BUILTIN_IMAGES
from datamodules.uploads import IMAGE_SUFFIXES, list_uploads
from genlab.paths import uploads_dir

TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".csv"}


@lru_cache(maxsize=8)
def module_literal(module: str, name: str) -> Any:
    """The value of a top-level `NAME = <literal>` in a module, without importing it (None if absent)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def builtin_texts() -> dict[str, str]:
    """Built-in text corpora: name -> description."""
    return module_literal("datamodules.text", "BUILTIN_TEXT") or {}


def builtin_pairs() -> dict[str, dict[str, Any]]:
    """Built-in two-domain sets: name -> {title, domains, description, licence}."""
    return module_literal("datamodules.paired", "BUILTIN_PAIRS_INFO") or {}


def text_uploads() -> list[str]:
    folder = uploads_dir()
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)


def image_uploads() -> list[str]:
    return list_uploads()


def name_choices(kind: str, source: str | None) -> list[str] | None:
    """Suggestions for data.name given the family's data kind and the data section's source."""
    if source == "builtin":
        if kind == "image":
            return list(BUILTIN_IMAGES)
        if kind == "paired":
            return list(builtin_pairs())
        if kind == "text":
            return list(builtin_texts())
        return None
    if source in ("zip", "folder"):
        return image_uploads()
    if source == "upload":
        return text_uploads()
    return None


def first_images(folder: Path, n: int = 32) -> list[Path]:
    """A few image files of an upload folder, for a preview."""
    out: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(s.startswith(".") for s in p.parts):
            out.append(p)
            if len(out) >= n:
                break
    return out
