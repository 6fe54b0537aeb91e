"""Where GenLab keeps its files: one home folder, chosen by GENLAB_HOME."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def genlab_home() -> Path:
    """The storage folder (run store, uploads, caches); created on first use."""
    home = Path(os.environ.get("GENLAB_HOME", "genlab_home")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_dir(*parts: str) -> Path:
    """A cache folder under the home (real-data statistics, decoded built-ins, converted models)."""
    path = genlab_home().joinpath("cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def uploads_dir() -> Path:
    """Uploaded data sets live here, stored once and reused by name."""
    path = genlab_home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path
