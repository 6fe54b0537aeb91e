"""Settings page section for the safety screen: which screen runs, installing Detoxify's official
checkpoint (checked by name and hash before anything loads it), the server's default thresholds and
action, and the editable block list."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from genlab.core.config import SCREEN_CATEGORIES, SafetyConfig
from genlab.core.errors import GenLabError
from genlab.safety.gate import load_defaults, reset_screener, save_defaults, screener_status
from genlab.safety.screeners import (
    FALLBACK_LABEL,
    OFFICIAL_CHECKPOINTS,
    install_checkpoint,
    read_block_list,
    write_block_list,
)
from ui.widgets.common import user_error


def _install(upload, model: str) -> None:
    # Only the file's base name is used, and install_checkpoint refuses any name but the official one
    # and any content whose sha256 does not match it, before anything unpickles the file.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        path.write_bytes(upload.getbuffer())
        target = install_checkpoint(path, model)
    reset_screener()
    st.success(f"Installed {target.name}. The screen looks for it again now.", icon=":material/check:")


# One choice instead of nine numbers: the flagging threshold every category gets (lower flags more).
LEVELS = {"strict": 0.3, "standard": None, "relaxed": 0.8}  # None: SafetyConfig's own defaults


def _thresholds(level: str) -> dict[str, float]:
    base = SafetyConfig()
    value = LEVELS[level]
    return {cat: float(getattr(base, cat) if value is None else value) for cat in SCREEN_CATEGORIES}


def _level_of(config: SafetyConfig) -> str:
    now = {cat: float(getattr(config, cat)) for cat in SCREEN_CATEGORIES}
    return next((level for level in LEVELS if _thresholds(level) == now), "custom")


def safety_settings() -> None:
    st.subheader("Safety screen for generated text")
    defaults = load_defaults()
    status = screener_status(defaults.model)
    st.caption(
        "Every text a model writes is checked before you see it; flagged text is withheld. "
        f"Checking with: **{status['label'] or status['screener']}**."
    )
    level = st.segmented_control(
        "How strict",
        [*LEVELS, "custom"],
        default=_level_of(defaults),
        key="settings.safety_level",
        required=True,
        help="strict flags more, relaxed flags only clear cases; custom sets each category's threshold.",
    )
    with st.form("settings.safety"):
        values = _thresholds(level) if level != "custom" else {}
        if level == "custom":
            cols = st.columns(3)
            values = {
                cat: cols[i % 3].number_input(
                    f"{cat.replace('_', ' ')} threshold",
                    0.0,
                    1.0,
                    float(getattr(defaults, cat)),
                    0.05,
                    key=f"safety.{cat}",
                )
                for i, cat in enumerate(SCREEN_CATEGORIES)
            }
        with st.expander("Advanced: which screen, what happens to flagged text, a block list", icon=":material/tune:"):
            st.caption("Defaults for models without a run config (pretrained models); runs use their safety section.")
            c = st.columns(3)
            models = ["auto", "original", "unbiased", "multilingual", "fallback"]
            model = c[0].selectbox("Screen", models, index=models.index(defaults.model))
            actions = ["block", "mask", "annotate"]
            action = c[1].selectbox("Action on flagged text", actions, index=actions.index(defaults.action))
            regen = c[2].number_input("Chat regenerations", 0, 10, defaults.max_regenerations)
            words = st.text_area(
                "Block list (one word or phrase per line; always flagged, whichever screen runs)",
                value="\n".join(read_block_list()),
                key="settings.block_list",
            )
        if st.form_submit_button("Save safety settings", icon=":material/save:"):
            policy = SafetyConfig(
                model=model, action=action, max_regenerations=int(regen), **{k: float(v) for k, v in values.items()}
            )
            save_defaults(policy)
            write_block_list(words.splitlines())
            reset_screener()
            st.success("Saved.", icon=":material/check:")

    with st.expander("A better screen: install Detoxify's checkpoint", icon=":material/upload:"):
        st.caption(status["note"])
        if status["screener"] != "detoxify":
            st.warning(f"The fallback screen is active: {FALLBACK_LABEL}.", icon=":material/shield:")
        if st.button("Look for the Detoxify checkpoint again", key="settings.rescreen", icon=":material/refresh:"):
            reset_screener()
            st.rerun()
        model = st.selectbox("Model", list(OFFICIAL_CHECKPOINTS), key="settings.detox_model")
        st.caption(
            f"Upload the official file `{OFFICIAL_CHECKPOINTS[model]}`; its name and sha256 are checked before "
            "anything loads it, and any other file is refused."
        )
        upload = st.file_uploader("Checkpoint file", type=["ckpt"], key="settings.detox_file")
        if upload is not None and st.button("Install", key="settings.detox_install"):
            try:
                _install(upload, model)
            except GenLabError as err:
                user_error(err, "Checkpoint refused")
