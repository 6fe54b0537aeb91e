"""UI preferences kept in GENLAB_HOME/ui_settings.json, and the W&B key of one browser session.

A W&B key belongs to a person: it is kept in that browser session's st.session_state only (never in the
settings file, the server's environment, a config or the run store, and never shown back), and handed to
the workers of that session's runs through their environment (genlab.store.run_secrets).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from genlab.core.paths import genlab_home

SETTINGS_FILE = "ui_settings.json"
SESSION_KEY = "wandb.session_api_key"
DEFAULTS: dict[str, Any] = {"wandb_project": "genlab", "wandb_entity": "", "wandb_mode": "off"}


def session_key() -> str | None:
    """This browser session's W&B key (never stored: it lives in st.session_state only)."""
    return st.session_state.get(SESSION_KEY) or None


def set_session_key(key: str | None) -> None:
    if key:
        st.session_state[SESSION_KEY] = key
    else:
        st.session_state.pop(SESSION_KEY, None)


def session_secrets() -> dict[str, str]:
    """What this session's runs hand to their worker's environment (genlab.store.run_secrets)."""
    key = session_key()
    return {"WANDB_API_KEY": key} if key else {}


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
