"""The metadata file that travels with every export: what goes in, what comes out, in which units,
with which classes or tokenizer, from which run and config, and the parity figures it passed with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.core.errors import GenLabError

SCHEMA_VERSION = 1
REQUIRED = ("schema", "run_id", "family", "net", "format", "variant", "file", "inputs", "outputs", "config")


def metadata_path(export_path: Path) -> Path:
    """<stem>.json beside the exported file or folder."""
    return export_path.with_name(export_path.name.removesuffix(export_path.suffix) + ".json")


def write_metadata(export_path: Path, meta: dict[str, Any]) -> Path:
    path = metadata_path(export_path)
    path.write_text(json.dumps(meta, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read and check an export's metadata file; a clear error when it is not one."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise GenLabError(f"{path.name} is not a readable GenLab export metadata file ({err})") from None
    missing = [k for k in REQUIRED if k not in meta] if isinstance(meta, dict) else list(REQUIRED)
    if missing:
        raise GenLabError(f"{path.name} is not GenLab export metadata: missing {', '.join(missing)}")
    if meta["schema"] != SCHEMA_VERSION:
        raise GenLabError(f"{path.name} has metadata schema {meta['schema']}; this GenLab reads {SCHEMA_VERSION}")
    return meta


def json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become None; everything else is kept."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
