"""UI preferences kept in GENLAB_HOME/ui_settings.json, and secrets handed to workers through the env.

Secrets (the W&B key) are never written to the settings file and never shown back: they come from
`.streamlit/secrets.toml` (`WANDB_API_KEY = "..."` or `[wandb] api_key = "..."`) or the environment,
and are put into this server's environment so the training workers it starts inherit them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import streamlit as st

from genlab.paths import genlab_home

SETTINGS_FILE = "ui_settings.json"
DEFAULTS: dict[str, Any] = {"wandb_project": "genlab", "wandb_entity": "", "wandb_mode": "off"}


def _secret(*path: str) -> str | None:
    try:
        node: Any = st.secrets
        for part in path:
            node = node[part]
        return str(node) if node else None
    except Exception:  # noqa: BLE001 - no secrets.toml, or the key is absent
        return None


def apply_secrets() -> None:
    """Export the W&B key from Streamlit secrets into the environment (once per process)."""
    if os.environ.get("WANDB_API_KEY"):
        return
    key = _secret("WANDB_API_KEY") or _secret("wandb", "api_key")
    if key:
        os.environ["WANDB_API_KEY"] = key


def wandb_key_source() -> str | None:
    """Where the W&B key comes from (never the key itself)."""
    if _secret("WANDB_API_KEY") or _secret("wandb", "api_key"):
        return "Streamlit secrets"
    if os.environ.get("WANDB_API_KEY"):
        return "environment"
    return None


def load_settings() -> dict[str, Any]:
    path = genlab_home() / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return {**DEFAULTS, **{k: v for k, v in data.items() if k in DEFAULTS}}


def save_settings(values: dict[str, Any]) -> None:
    data = {k: v for k, v in {**load_settings(), **values}.items() if k in DEFAULTS}
    path = genlab_home() / SETTINGS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
