"""Home: what GenLab does, one-click presets, recent runs."""

from __future__ import annotations

import streamlit as st

from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.store.runs import ACTIVE
from ui.widgets.common import (
    REFRESH_S,
    fmt_duration,
    fmt_time,
    get_store,
    open_run,
    page_path,
    reconcile,
    run_label,
    status_badge,
    user_error,
)
from ui.widgets.presets import Preset, list_presets, picture, start_here, text_sample
from ui.widgets.settings_store import session_secrets

store = get_store()
reconcile(store)

st.title("GenLab")
st.markdown(
    "Train generative models on your own data from the browser: pick a **preset** or build a run on the "
    "**Train** page, watch it on **Runs**, compare experiments, and try the trained model in the **Playground**. "
    "Every run keeps its config, metrics, samples and checkpoints, and has a command-line twin."
)
with st.expander("The model families, in technical words"):
    st.caption(" · ".join(f"**{f.title}** — {f.summary}" for f in FAMILIES.values()))


def _expected_time(preset: Preset) -> str:
    """A measured duration from a past completed run of this preset, else the preset's own note."""
    if preset.config is not None and preset.config.name:
        done = [
            r
            for r in store.list_runs(
                status="completed", family=preset.config.family, search=preset.config.name, limit=20
            )
            if r.name == preset.config.name and r.duration_s
        ]
        if done:
            here = f" · took {fmt_duration(done[0].duration_s)} here last time"
            return (f"{preset.card['cpu']} on a 2-core CPU" if preset.card.get("cpu") else "") + here
    if preset.card.get("cpu"):
        when = f" (measured {preset.card['measured']})" if preset.card.get("measured") else ""
        return f"{preset.card['cpu']} on a 2-core CPU{when}"
    return "time: see the pre-flight estimate on the Train page"


def _start(preset: Preset) -> None:
    try:
        run = jobs.start(preset.config, store, secrets=session_secrets(), untrusted_paths=True)
    except Exception as err:  # noqa: BLE001 - shown inline, the message says what to change
        st.session_state["home.error"] = err
        return
    st.session_state["home.opened"] = run.id


def _customize(preset: Preset) -> None:
    st.session_state["train.load"] = {
        "config": preset.config.model_dump(mode="json"),
        "source": f"preset {preset.path.name}",
    }


st.subheader("Presets")
presets = list_presets()
if err := st.session_state.pop("home.error", None):
    user_error(err, "Could not start the preset")
if run_id := st.session_state.pop("home.opened", None):
    open_run(run_id)
if not presets:
    st.info("No presets found in configs/. Build a run from scratch on the Train page.", icon=":material/info:")
first = start_here([p for p in presets if p.config is not None])
if first:
    st.success(
        f"New here? Start with **{first}**: the fastest preset. Press *Train now*: its run page opens, and its "
        "first pictures appear there after its first check on held-out data, with no click.",
        icon=":material/flag:",
    )
grid = st.columns(3)
for i, preset in enumerate(sorted(presets, key=lambda p: p.path.stem != first)):
    with grid[i % 3].container(border=True, key=f"home.card.{preset.path.stem}"):
        if preset.config is None:
            st.markdown(f"**{preset.path.name}**")
            st.error(f"This preset does not validate: {preset.error}")
            continue
        family = FAMILIES[preset.config.family]
        if pic := picture(preset.path.stem):
            st.image(str(pic), width="stretch", caption="made by a real run of this preset")
        elif lines := text_sample(preset.path.stem):
            st.code(lines, language=None, wrap_lines=True)
            st.caption("written by a real run of this preset")
        st.markdown(f"#### {preset.title}" + (" :green-badge[start here]" if preset.path.stem == first else ""))
        if preset.card.get("plain"):
            st.markdown(preset.card["plain"])
        data = getattr(preset.config.data, "name", "?")
        st.markdown(f":blue-badge[{family.title}] :gray-badge[data: {data}]")
        st.caption(_expected_time(preset))
        c1, c2 = st.columns(2)
        c1.button(
            "Train now",
            key=f"home.start.{preset.path.stem}",
            type="primary",
            icon=":material/play_arrow:",
            on_click=_start,
            args=(preset,),
            width="stretch",
            help="Start this preset as it is; its run page opens.",
        )
        if c2.button(
            "Customize",
            key=f"home.edit.{preset.path.stem}",
            icon=":material/edit:",
            width="stretch",
            help="Open it on the Train page to change settings first.",
        ):
            _customize(preset)
            st.switch_page(page_path("train"))
        with st.expander("Details and the command line"):
            if preset.about:
                st.caption(preset.about)
            st.code(f"python -m genlab train --config configs/{preset.path.name} --wait", language="bash")

st.subheader("Recent runs")


def recent_runs() -> None:
    recent = store.list_runs(limit=8)
    if not recent:
        st.info("No runs yet. Start a preset above, or build one on the Train page.", icon=":material/info:")
    for run in recent:
        with st.container(border=True):
            c1, c2, c3, c4 = st.columns([4, 2, 2, 1], vertical_alignment="center")
            c1.markdown(f"**{run_label(run)}**  \n:gray[{run.id} · {fmt_time(run.created_at)}]")
            with c2:
                status_badge(run.status)
            if run.status in ("running", "queued"):
                c3.progress(run.progress, text=f"{run.progress:.0%}")
            else:
                c3.caption(fmt_duration(run.duration_s))
            c4.page_link(page_path("run"), label="Open", icon=":material/open_in_new:", query_params={"id": run.id})


live = bool(store.list_runs(status=ACTIVE, limit=1))
st.fragment(recent_runs, run_every=REFRESH_S if live else None)()
