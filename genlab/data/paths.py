"""Which server paths a config from the web UI may name: uploads under GENLAB_HOME and the folders the
operator lists in GENLAB_DATA_ROOTS (os.pathsep-separated). The CLI keeps any path: its user already
has the machine.

Without this, a visitor could point a folder, zip or file source (or model.pretrained, or a saved
Hugging Face dataset) at any readable server folder and see its images in the VAE's reconstructions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from genlab.core.errors import DataError
from genlab.core.paths import uploads_dir

PATH_FIELDS = ("name", "path_a", "path_b", "pretrained")  # data.* and model.* values that may name a path


def allowed_roots() -> list[Path]:
    roots = [uploads_dir().resolve()]
    for part in os.environ.get("GENLAB_DATA_ROOTS", "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return roots


def _names_a_path(value: str) -> bool:
    """Absolute, home-relative, climbing, or an existing relative path (plain names are built-ins,
    upload names or hub ids and are looked up in safe places)."""
    p = Path(value)
    return p.is_absolute() or value.startswith("~") or ".." in p.parts or p.exists()


def confine_path(value: str, field: str) -> None:
    """Refuse a path outside the allowed roots; the message names the field, never the server's folders."""
    if not value or not _names_a_path(value):
        return
    if ".." in Path(value).parts:
        raise DataError(f"{field}: '..' is not allowed in a path; use an upload name")
    real = Path(value).expanduser().resolve()
    if not any(real == root or real.is_relative_to(root) for root in allowed_roots()):
        raise DataError(
            f"{field}: {value!r} is outside the folders this app may read. Upload the data on the Data page and "
            "use its name, or ask the operator to add the folder to GENLAB_DATA_ROOTS"
        )


def confine_config_paths(config: Any) -> None:
    """Check every path-like value of the data and model sections of a config from an untrusted client."""
    for section in ("data", "model"):
        part = getattr(config, section, None)
        if part is None:
            continue
        for field in PATH_FIELDS:
            value = getattr(part, field, None)
            if isinstance(value, str):
                confine_path(value, f"{section}.{field}")
