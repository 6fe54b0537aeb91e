"""Ready-to-run presets: the YAML files in configs/, validated by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from genlab.core.config import ConfigError, RunConfig
from genlab.core.parsing import load_config
from genlab.core.paths import PROJECT_ROOT
from genlab.core.registry import FAMILIES

PRESETS_DIR = PROJECT_ROOT / "configs"


@dataclass(frozen=True)
class Preset:
    path: Path
    config: RunConfig | None
    about: str  # the YAML's leading comment
    error: str | None = None

    @property
    def title(self) -> str:
        return self.config.name if self.config and self.config.name else self.path.stem


def _about(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(lines)


@st.cache_data(show_spinner=False, ttl=30)
def _load(path: str, mtime: float) -> tuple[dict[str, Any] | None, str, str | None]:
    p = Path(path)
    about = _about(p.read_text(encoding="utf-8"))
    try:
        return load_config(p).model_dump(mode="json"), about, None
    except ConfigError as err:
        return None, about, str(err)


def list_presets() -> list[Preset]:
    """Every preset of a registered family (a broken preset is listed with its error)."""
    out = []
    for path in sorted(PRESETS_DIR.glob("*.y*ml")):
        raw, about, error = _load(str(path), path.stat().st_mtime)
        config = None
        if raw is not None:
            from genlab.core.parsing import parse_config

            config = parse_config(raw)
        if config is not None and config.family not in FAMILIES:
            continue
        out.append(Preset(path, config, about, error))
    # families in registry order, then file name
    order = {name: i for i, name in enumerate(FAMILIES)}
    return sorted(out, key=lambda p: (order.get(p.config.family, 99) if p.config else 100, p.path.name))
