"""Ready-to-run presets: the YAML files in configs/, validated by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from genlab.core.config import ConfigError, RunConfig
from genlab.core.parsing import load_config
from genlab.core.paths import PROJECT_ROOT
from genlab.core.registry import FAMILIES

PRESETS_DIR = PROJECT_ROOT / "configs"
CARDS_DIR = PROJECT_ROOT / "docs" / "presets"  # cards.yaml (plain words, measured times) and <preset>.png


@st.cache_data(show_spinner=False, ttl=60)
def cards() -> dict[str, dict[str, Any]]:
    """Plain sentence and measured CPU time per preset stem (docs/presets/cards.yaml)."""
    path = CARDS_DIR / "cards.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def picture(stem: str) -> Path | None:
    """A real sample grid of the preset (benchmarks/preset_pictures.py), when one was made."""
    path = CARDS_DIR / f"{stem}.png"
    return path if path.is_file() else None


def text_sample(stem: str) -> str | None:
    """A few lines a text preset wrote in a real run (benchmarks/preset_pictures.py), when made."""
    path = CARDS_DIR / f"{stem}.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def start_here(presets: list[Preset]) -> str | None:
    """The fastest preset by its measured time: where a newcomer starts."""
    timed = [(cards().get(p.path.stem, {}).get("cpu_s"), i, p.path.stem) for i, p in enumerate(presets)]
    timed = [t for t in timed if t[0] is not None]
    return min(timed)[2] if timed else None


@dataclass(frozen=True)
class Preset:
    path: Path
    config: RunConfig | None
    about: str  # the YAML's leading comment
    error: str | None = None

    @property
    def card(self) -> dict[str, Any]:
        return cards().get(self.path.stem, {})

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
