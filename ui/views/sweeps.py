"""Sweeps: start an Optuna sweep from a config, watch its trials live, compare the best, train the winner.

Everything goes through genlab.sweeps.study: the page creates the study and starts a background worker, then
only reads the study and the run store, so closing the tab never touches the sweep.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import streamlit as st

from genlab.core.config import ConfigError
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.core.safe_yaml import load_yaml
from genlab.sweeps import study as sweeps
from genlab.sweeps.space import FieldSpec, searchable_fields
from ui.widgets.common import REFRESH_S, fmt_time, get_store, open_run, page_path, user_error
from ui.widgets.config_form import config_form
from ui.widgets.images import side_by_side
from ui.widgets.presets import list_presets
from ui.widgets.run_picker import pick_run

store = get_store()
st.title("Sweeps")
st.caption(
    "Let Optuna search the knobs you pick: every trial is a normal run in the Runs table, hopeless trials "
    "are pruned early, and the best config trains with one click."
)


# -- start a sweep -----------------------------------------------------------------------------------


def _base_config_choice() -> dict[str, Any] | None:
    """The config a sweep starts from: a preset or a past run."""
    source = st.radio("Start from", ["A preset", "A past run"], horizontal=True, key="sweeps.source")
    if source == "A preset":
        presets = [p for p in list_presets() if p.config is not None]
        if not presets:
            st.info("No presets found in configs/.")
            return None
        names = [p.path.name for p in presets]
        chosen = st.selectbox("Preset", names, key="sweeps.preset")
        return presets[names.index(chosen)].config.model_dump(mode="json")
    run = pick_run(store, "Past run", key="sweeps.run", help="The sweep starts from this run's settings.")
    if run is None:
        st.info("No runs yet: start from a preset.")
        return None
    return run.config


def _knob(field: FieldSpec, default: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """Range or choices for one searched field, prefilled from the family's default space."""
    default = default or {}
    if field.kind == "categorical":
        if field.choices:
            options = list(field.choices)
            chosen = st.multiselect(
                field.path,
                options,
                default=[c for c in default.get("choices", options) if c in options],
                key=f"{key}.choices",
                help=field.description,
            )
        else:
            text = st.text_input(
                field.path,
                ", ".join(map(str, default.get("choices", []))) or str(field.default),
                key=f"{key}.text",
                help=field.description + " (comma-separated values to try)",
            )
            chosen = [t.strip() for t in text.split(",") if t.strip()]
        return {"choices": chosen}
    integer = field.kind == "int"
    mode = st.radio(
        f"{field.path}: search",
        ["a range", "these values"],
        index=1 if "choices" in default else 0,
        horizontal=True,
        key=f"{key}.mode",
        help=field.description,
    )
    if mode == "these values":
        shown = ", ".join(map(str, default.get("choices", []))) or str(field.default)
        text = st.text_input(f"{field.path} values", shown, key=f"{key}.values", help="Comma-separated numbers to try")
        return {"choices": [_number(t) for t in text.split(",") if t.strip()]}
    value = field.default if isinstance(field.default, (int, float)) and not isinstance(field.default, bool) else 1
    low0 = default.get("low", field.low if field.low is not None and field.low > 0 else value / 4 or 0)
    high0 = default.get("high", value * 4 if value else (field.high or 1))
    if integer:
        low0, high0 = int(low0), int(max(int(high0), int(low0) + 1))
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    fmt = "%d" if integer else "%.6g"
    low = c1.number_input(f"{field.path} from", value=low0, format=fmt, key=f"{key}.low", help=field.description)
    high = c2.number_input(f"{field.path} to", value=high0, format=fmt, key=f"{key}.high")
    log = c3.checkbox("log", value=bool(default.get("log", False)), key=f"{key}.log", help="Search on a log scale")
    out: dict[str, Any] = {"low": int(low) if integer else float(low), "high": int(high) if integer else float(high)}
    if log:
        out["log"] = True
    return out


def _number(text: str) -> Any:
    """A typed number stays a number (8 -> int, 1e-3 -> float); anything else stays text for the check."""
    try:
        value = load_yaml(text.strip(), "the value")
    except ConfigError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def start_form() -> None:
    raw = _base_config_choice()
    if raw is None:
        return
    try:
        family = FAMILIES[parse_config(raw).family]
    except ConfigError as err:
        user_error(err, "This config cannot be used")
        return
    # The form's widgets keep their values per key: a new source (another preset or run) gets a new key,
    # or the form would go on returning the previous source's values.
    source = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:10]
    with st.expander("Base config (every trial starts from it)", icon=":material/tune:"):
        raw = config_form(family.config_cls, raw, key=f"sweeps.form.{family.name}.{source}")
    try:
        base = parse_config(raw)
    except ConfigError as err:
        user_error(err, "Fix the base config")
        return
    fields = {f.path: f for f in searchable_fields(family.config_cls)}
    knobs = st.multiselect(
        "Knobs to search",
        list(fields),
        default=[p for p in family.sweep_space if p in fields],
        key=f"sweeps.knobs.{family.name}",
        help="Any number, yes/no or choice field of the form; the defaults are the family's search space.",
    )
    space: dict[str, Any] = {}
    for path in knobs:
        spec = _knob(fields[path], family.sweep_space.get(path), key=f"sweeps.knob.{family.name}.{path}")
        if spec is not None:
            space[path] = spec
    c1, c2, c3, c4 = st.columns(4)
    n_trials = c1.number_input("Trials (budget)", 1, 1000, 12, key="sweeps.trials")
    parallel = c2.number_input(
        "At once", 1, 64, 1, key="sweeps.parallel", help="Trials at once (capped by the job limit)"
    )
    sampler = c3.selectbox("Sampler", list(sweeps.SAMPLERS), key="sweeps.sampler")
    pruner = c4.selectbox("Pruner", list(sweeps.PRUNERS), key="sweeps.pruner")
    metric0, mode0 = sweeps.default_objective(sweeps.trial_base(base)[0])
    c1, c2, c3 = st.columns([2, 1, 2])
    metric = c1.text_input("Objective metric", metric0, key=f"sweeps.metric.{family.name}")
    direction = c2.selectbox(
        "Direction", ["min", "max"], index=0 if mode0 == "min" else 1, key=f"sweeps.direction.{family.name}"
    )
    name = c3.text_input("Sweep name", "", key="sweeps.name", placeholder="generated")
    try:
        settings = sweeps.make_settings(
            base,
            n_trials=int(n_trials),
            name=name.strip() or None,
            space=space,
            parallel=int(parallel),
            sampler=sampler,
            pruner=pruner,
            metrics=[metric.strip()],
            directions=[direction],
        )
    except GenLabError as err:
        user_error(err, "The sweep cannot start")
        return
    for note in settings.notes:
        st.info(note, icon=":material/info:")
    st.caption("Same sweep from a terminal (save the base config and the space as YAML first)")
    st.code(
        f"python -m genlab sweep start --config base.yaml --space space.yaml --trials {settings.n_trials} "
        f"--parallel {settings.parallel} --sampler {settings.sampler} --pruner {settings.pruner} "
        f"--metric {settings.metrics[0]} --direction {direction}",
        language="bash",
    )
    if st.button("Start the sweep", type="primary", icon=":material/play_arrow:", key="sweeps.start"):
        try:
            sweeps.start(settings)
        except GenLabError as err:
            user_error(err, "The sweep cannot start")
            return
        st.session_state["sweeps.open"] = settings.name
        st.rerun()


# -- one sweep ---------------------------------------------------------------------------------------


def trial_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # the reason sits beside the state: a failed trial says why where the eye already is
    table["reason"] = [r.get("error") if r.get("state") == "fail" else None for r in rows]
    keep = ["trial", "state", "reason", "value", "pruned_at", "validations", "run_status", "run_id", "duration_s"]
    params = [c for c in table.columns if c.startswith("param:")]
    table = table[[c for c in keep if c in table.columns] + params]
    if not table["reason"].notna().any():
        table = table.drop(columns=["reason"])
    return table.rename(columns={c: c.removeprefix("param:") for c in params})


def failed_trials(rows: list[dict[str, Any]]) -> None:
    """Every failed trial with the reason the worker recorded (the words `sweep start --wait` prints)."""
    failed = [r for r in rows if r["state"] == "fail" and r["trial"] not in {x.get("retry_of") for x in rows}]
    if not failed:
        return
    lines = [
        f"- trial {r['trial']}"
        + (f" (run {r['run_id']})" if r["run_id"] else "")
        + f": {r['error'] or 'no reason recorded'}"
        for r in failed
    ]
    st.error(
        f"{len(failed)} of {len(rows)} trial(s) failed:\n\n" + "\n".join(lines),
        icon=":material/error:",
    )


def show_sweep(name: str) -> None:
    try:
        study, settings = sweeps.load(name)
    except GenLabError as err:
        user_error(err)
        return
    p = sweeps.progress(study, settings)
    rows = sweeps.trial_rows(study, settings, store)
    c = st.columns(5)
    c[0].metric("State", p.state)
    c[1].metric(
        "Trials done",
        f"{p.done} / {settings.n_trials}",
        delta=f"{p.failed - p.retried} failed" if p.failed - p.retried else None,
        delta_color="inverse",
    )
    c[2].metric("Running", p.running)
    c[3].metric("Pruned", p.pruned)
    c[4].metric(f"Best {settings.metrics[0]}", "–" if p.best_value is None else f"{p.best_value:.4g}")
    st.caption(
        f"{settings.family} · objective "
        + ", ".join(f"{m} ({d})" for m, d in zip(settings.metrics, settings.directions, strict=True))
        + f" · sampler {settings.sampler} · pruner {settings.pruner} · created {fmt_time(settings.created_at)}"
    )
    for note in settings.notes:
        st.caption(note)
    if rows:
        st.dataframe(
            trial_table(rows),
            hide_index=True,
            key=f"sweeps.table.{name}",
            column_config={
                "value": st.column_config.NumberColumn("Value", format="%.4g"),
                "pruned_at": st.column_config.NumberColumn("Pruned at validation"),
                "duration_s": st.column_config.NumberColumn("Seconds", format="%.0f"),
            },
        )
        failed_trials(rows)
    else:
        st.info("No trials yet: the worker is starting.", icon=":material/hourglass_top:")
    tabs = st.tabs(["Best trials", "Figures", "Manage"])
    with tabs[0]:
        best_panel(study, settings)
    with tabs[1]:
        figs = sweeps.figures(study, settings)
        if not figs:
            st.info("Figures appear once trials report values.")
        for title, fig in figs.items():
            st.markdown(f"**{title.capitalize()}**")
            st.plotly_chart(fig, key=f"sweeps.fig.{name}.{title}")
    with tabs[2]:
        manage_panel(name, p)


def best_panel(study: Any, settings: sweeps.SweepSettings) -> None:
    best = sweeps.best_trials(study, settings, 3)
    if not best:
        failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
        if failed:
            st.warning(f"No completed trial: {len(failed)} failed, see the reasons above the tabs.")
        else:
            st.info("No completed trial yet.")
        return
    items = []
    for t in best:
        run_id = t.user_attrs.get("run_id")
        grids = store.artifacts(run_id, kind="samples") if run_id and store.exists(run_id) else []
        value = ", ".join(f"{v:.4g}" for v in t.values)
        items.append((f"Trial {t.number} · {value}", grids[-1]["path"] if grids else None))
    side_by_side(items)
    st.dataframe(
        pd.DataFrame([{"trial": t.number, **t.params} for t in best]), hide_index=True, key="sweeps.best.params"
    )
    if st.button("Train the best config", icon=":material/rocket_launch:", key="sweeps.train_best", type="primary"):
        try:
            run = sweeps.train_best(settings.name, store=store)
        except GenLabError as err:
            user_error(err)
            return
        open_run(run.id)


def manage_panel(name: str, p: sweeps.Progress) -> None:
    st.caption("Open the study in Optuna's own dashboard")
    st.code(sweeps.dashboard_command(), language="bash")
    st.caption("Add a worker on this or another machine (each keeps its own run store)")
    st.code(f"python -m genlab sweep worker --study {name} --storage URL", language="bash")
    c1, c2 = st.columns(2)
    if c1.button("Stop the sweep", icon=":material/stop:", key="sweeps.stop", disabled=p.state != "running"):
        sweeps.stop(name)
        st.rerun()
    if c2.button(
        "Resume here",
        icon=":material/play_arrow:",
        key="sweeps.resume",
        disabled=p.state in ("running", "finished"),
        help="Start a worker that runs the remaining trials; completed trials are kept.",
    ):
        sweeps.launch_worker(name)
        st.rerun()


# -- page --------------------------------------------------------------------------------------------

try:
    all_sweeps = sweeps.list_sweeps()
except GenLabError as err:
    user_error(err)
    all_sweeps = []

with st.expander("Start a sweep", expanded=not all_sweeps, icon=":material/add:"):
    start_form()

if not all_sweeps:
    st.info("No sweeps yet. Start one above from a preset or a past run.", icon=":material/info:")
else:
    names = [s.name for s in all_sweeps]
    wanted = st.query_params.get("sweep") or st.session_state.pop("sweeps.open", None)
    if wanted in names:
        st.session_state["sweeps.pick"] = wanted
    by_name = {s.name: s for s in all_sweeps}
    pick = st.selectbox(
        "Sweep",
        names,
        key="sweeps.pick",
        format_func=lambda n: (
            f"{n} · {by_name[n].family} · {by_name[n].state} · {by_name[n].done}/{by_name[n].n_trials}"
        ),
    )
    live = by_name[pick].state in ("running", "stopping", "idle")  # idle: a worker may be starting
    if live:
        st.caption(f"Refreshing every {REFRESH_S:.0f} s while trials run.")
    st.fragment(lambda: show_sweep(pick), run_every=REFRESH_S if live else None)()
    st.page_link(
        page_path("runs"), label="This sweep's runs", icon=":material/monitoring:", query_params={"sweep": pick}
    )
    st.caption(f"From a terminal: `python -m genlab runs list --sweep {pick}`")
