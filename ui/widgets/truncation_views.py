"""The truncation control of the Playground's new-samples tab, for models with the truncation trick
(the Truncatable capability): a slider from 0 to 1 that starts at the run's own setting."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.widgets import model_cache as mc


def truncation_slider(module: Any, key: str = "play.truncation") -> float:
    """The chosen truncation, starting at the run's own (a Truncatable model's default_truncation)."""
    default = mc.default_truncation(module)
    return float(
        st.slider(
            "Truncation",
            0.0,
            1.0,
            1.0 if default is None else float(default),
            0.05,
            key=key,
            help="1: no truncation, the full variety the model learned. Smaller values draw the noise closer "
            "to its centre: cleaner, more typical images, less variety (0: the same average image every time).",
        )
    )
