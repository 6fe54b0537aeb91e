"""Train: family -> data -> a form generated from the family's config schema -> pre-flight -> Start."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import streamlit as st

from genlab.core.config import ConfigError, RunConfig
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.paths import uploads_dir
from genlab.core.registry import FAMILIES
from genlab.core.safe_yaml import load_yaml
from genlab.data.api import builtin_sets
from genlab.data.preflight import Problem, blocking_problems, dataset_items
from genlab.runner import jobs
from genlab.safety.gate import load_defaults as load_safety_defaults
from genlab.store.runs import RunNotFound
from ui.widgets.common import cli_command_for, config_panel, fmt_duration, fmt_mb, get_store, open_run, user_error
from ui.widgets.config_form import config_form, reset_form
from ui.widgets.data_sources import name_choices
from ui.widgets.preflight import run_estimate
from ui.widgets.run_picker import pick_run
from ui.widgets.settings_store import load_settings, session_secrets

store = get_store()
st.title("Train a model")

# -- a config handed over by Home (preset), a run page (clone) or the loader below -------------------
if load := st.session_state.pop("train.load", None):
    cfg = load["config"]
    family_name = cfg.get("family")
    if family_name in FAMILIES:
        st.session_state.setdefault("train.base", {})[family_name] = cfg
        st.session_state["train.source"] = (family_name, load.get("source", ""))
        st.session_state["train.parent"] = load.get("parent_id")
        reset_form(f"train.form.{family_name}")
        st.session_state["train.family"] = family_name


def _queue_load(config: RunConfig, source: str, parent_id: str | None = None) -> None:
    st.session_state["train.load"] = {
        "config": config.model_dump(mode="json"),
        "source": source,
        "parent_id": parent_id,
    }


with st.expander("Load a config: a YAML file or a past run", icon=":material/upload_file:"):
    c1, c2 = st.columns(2)
    with c1:
        up = st.file_uploader(
            "YAML config",
            type=["yaml", "yml"],
            key="train.yaml_upload",
            help="A config saved from GenLab (Download YAML) or one of the presets in configs/.",
        )
        if up is not None and st.button("Load this file", key="train.load_file", icon=":material/upload:"):
            try:
                raw = load_yaml(up.getvalue().decode("utf-8"), up.name)
                _queue_load(parse_config(raw), f"file {up.name}")
                st.rerun()
            except UnicodeDecodeError as err:
                st.error(f"{up.name} is not a readable YAML file ({type(err).__name__}); upload a .yaml text file.")
            except ConfigError as err:
                user_error(err, f"{up.name} cannot be used")
    with c2:
        past = pick_run(store, "Past run", key="train.past_run", help="Copy the settings of an earlier run.")
        if past is None:
            st.caption("No past runs yet.")
        elif st.button("Load its settings", key="train.load_run", icon=":material/history:"):
            try:
                _queue_load(parse_config(past.config), f"run {past.id}", parent_id=past.id)
                st.rerun()
            except (ConfigError, RunNotFound) as err:
                user_error(err, f"Run {past.id} cannot be loaded")

# -- family ------------------------------------------------------------------------------------------
names = list(FAMILIES)
if st.session_state.get("train.family") not in FAMILIES:
    st.session_state["train.family"] = names[0]
family_name = st.selectbox(
    "Model family", names, key="train.family", format_func=lambda n: f"{FAMILIES[n].title} — {FAMILIES[n].summary}"
)
family = FAMILIES[family_name]
bases: dict[str, dict[str, Any]] = st.session_state.setdefault("train.base", {})
if family_name not in bases:
    prefs = load_settings()
    default = family.default_config().model_dump(mode="json")
    default.setdefault("logging", {})["wandb_project"] = prefs["wandb_project"]
    default["logging"]["wandb_entity"] = prefs["wandb_entity"] or None
    default["logging"]["wandb"] = prefs["wandb_mode"]
    if "safety" in default:  # text families: the server's safety defaults (Settings page)
        default["safety"] = load_safety_defaults().model_dump(mode="json")
    bases[family_name] = default
base = bases[family_name]
loaded = st.session_state.get("train.source")
if loaded and loaded[0] == family_name:
    st.caption(f"Loaded from {loaded[1]}. Change anything below before starting.")

form_key = f"train.form.{family_name}"

# -- data choices (not family-specific: they follow the data section's `source`) ---------------------
choices: dict[str, list[Any]] = {}
data_base = base.get("data") or {}
data_source = st.session_state.get(f"{form_key}.data.source", data_base.get("source"))
data_cls = family.config_cls.model_fields["data"].annotation
suggested = name_choices(family.kind, data_source, data_cls)
if suggested is not None:
    choices["data.name"] = suggested

st.subheader("Settings")
raw = config_form(family.config_cls, base, key=form_key, choices=choices)
if data_source in ("zip", "folder", "upload") and not suggested:
    st.warning("No uploads yet: upload your data on the Data page first, or type a path.", icon=":material/warning:")


def data_problem(cfg: RunConfig) -> str | None:
    """A data name that cannot work (an unknown built-in, a missing upload), caught before a worker starts."""
    data = cfg.data
    source, name = getattr(data, "source", None), getattr(data, "name", None)
    options = name_choices(family.kind, source, type(data))
    if source == "builtin" and options and name not in options:
        return f"data.name: {name!r} is not a built-in set here; choose one of: {', '.join(options)}"
    if source in ("zip", "folder", "upload") and name not in (options or []) and not Path(name).expanduser().exists():
        return (
            f"data.name: no upload or path called {name!r}; upload it on the Data page "
            f"({', '.join(options) if options else 'no uploads yet'})"
        )
    return None


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def _items(data_key: str, uploads_mtime: float, _config: RunConfig) -> int | None:
    """The data set's size, counted once per data section and upload state (an upload is scanned once)."""
    return dataset_items(_config)


def _apply_fix(fix: dict[str, Any]) -> None:
    """One click: write the fixed values into the form's widgets (and the base, for a fresh form)."""
    for path, value in fix.items():
        for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{form_key}.{path}")]:
            st.session_state[k] = value
        section, _, name = path.rpartition(".")
        (base.setdefault(section, {}) if section else base)[name] = value
    st.session_state.get("train.estimates", {}).clear()


def show_problems(problems: list[Problem]) -> None:
    for i, problem in enumerate(problems):
        st.error(f"This run would fail: {problem.message}", icon=":material/block:")
        if problem.fix:
            st.button(
                f"Fix it: {problem.fix_label}",
                key=f"train.fix.{i}",
                icon=":material/build:",
                on_click=_apply_fix,
                args=(problem.fix,),
            )


config: RunConfig | None = None
problems: list[Problem] = []
try:
    config = parse_config(raw)
    if problem := data_problem(config):
        raise ConfigError("Invalid config:\n  " + problem)
except ConfigError as err:
    config = None
    lines = str(err).splitlines()[1:] or [str(err)]
    st.error(
        "These settings need a change before the run can start:\n\n" + "\n".join(f"- {line.strip()}" for line in lines),
        icon=":material/error:",
    )

if config is not None:
    data_key = config.data.model_dump_json() if hasattr(config.data, "model_dump_json") else ""
    problems = blocking_problems(config, items=_items(data_key, uploads_dir().stat().st_mtime, config))
    show_problems(problems)
    for note in config.advisories():
        st.info(note, icon=":material/info:")
    data_name = getattr(config.data, "name", None)
    if getattr(config.data, "source", None) == "builtin":
        ds = builtin_sets(family.kind).get(str(data_name))
        if ds is not None:
            st.caption(f"Data: **{ds.title}** — {ds.description}. Licence: {ds.licence}.")

    yaml_text = config.to_yaml()
    digest = hashlib.sha1(yaml_text.encode()).hexdigest()[:12]

    st.subheader("Pre-flight estimate")
    estimates: dict[str, Any] = st.session_state.setdefault("train.estimates", {})
    if st.button(
        "Estimate size and time",
        icon=":material/speed:",
        key="train.estimate",
        help="Builds the model and times a few real training steps in a separate process (a few seconds).",
    ):
        with st.spinner("Building the model and timing a few steps…"):
            try:
                estimates[digest] = run_estimate(config)
            except GenLabError as err:
                estimates[digest] = {"error": str(err)}
    est = estimates.get(digest)
    if est and "error" in est:
        problems.append(Problem(est["error"]))
        st.error(f"The pre-flight run failed, so training would too: {est['error']}", icon=":material/block:")
    elif est:
        per_step = est.get("seconds_per_step")
        spe = est.get("steps_per_epoch") or 0
        total_steps = spe * config.trainer.max_epochs
        if config.trainer.max_steps > 0:
            total_steps = min(total_steps, config.trainer.max_steps) if total_steps else config.trainer.max_steps
        m = st.columns(5)
        m[0].metric(
            "Parameters", f"{est['parameters'] / 1e6:.2f} M" if est["parameters"] >= 1e5 else f"{est['parameters']:,}"
        )
        m[1].metric("Weights", fmt_mb(est["weights_mb"]))
        m[2].metric(
            "Peak memory",
            fmt_mb(est.get("gpu_peak_memory_mb") or est["peak_memory_mb"]),
            help="Measured over a few real training steps (activations included)"
            + (f"; {fmt_mb(est['available_memory_mb'])} free now." if est.get("available_memory_mb") else "."),
        )
        m[3].metric(
            "Time per epoch",
            fmt_duration(est.get("seconds_per_epoch")),
            help=f"{spe} steps per epoch at {per_step:.3f} s/step, measured here." if per_step else None,
        )
        m[4].metric(
            "Whole run",
            fmt_duration(per_step * total_steps if per_step else None),
            help=f"{total_steps} steps in all (before early stopping).",
        )
        if not est.get("fits_in_memory", True):
            st.warning(
                f"This run needs about {fmt_mb(est['peak_memory_mb'])} but only {fmt_mb(est['available_memory_mb'])} "
                "is free: it would likely be killed for lack of memory. Lower data.batch_size or the model size, "
                "or wait for other runs to finish."
            )
    else:
        st.caption("Press the button to measure this configuration on this machine.")

    st.subheader("Start")
    if problems:
        st.caption("Start is off until the problem above is fixed.")
    if st.button(
        "Start training", type="primary", icon=":material/play_arrow:", key="train.start", disabled=bool(problems)
    ):
        try:
            run = jobs.start(
                config,
                store,
                parent_id=st.session_state.get("train.parent"),
                secrets=session_secrets(),
                untrusted_paths=True,
            )
        except (GenLabError, OSError, ValueError) as err:
            user_error(err, "The run could not start")
        else:
            st.session_state.pop("train.parent", None)
            st.toast(f"Started {run.id}", icon=":material/rocket_launch:")
            open_run(run.id)
    st.caption("Training runs in its own background process: closing this tab does not stop it.")

    with st.expander("CLI command and YAML", icon=":material/terminal:"):
        file_name = f"{config.name or config.family}.yaml"
        config_panel(yaml_text, cli_command_for(file_name), file_name=file_name, key="train.config")
