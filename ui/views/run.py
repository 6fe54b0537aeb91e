"""One run: live progress and ETA, metric charts, sample timeline, logs, config, the safety audit and bias
report of text runs; cancel/resume/clone/delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import streamlit as st

from genlab.core.checkpoint_files import checkpoint_candidates
from genlab.core.config import ConfigError
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.runner.log_lines import readable_log
from genlab.share import wandb_link
from genlab.store.live import MetricsFollower
from genlab.store.runs import ACTIVE, Run, RunNotFound
from ui.widgets.charts import chart_controls, metric_grid
from ui.widgets.common import (
    cli_command_for,
    config_panel,
    fmt_duration,
    fmt_time,
    fmt_value,
    get_store,
    page_path,
    reconcile,
    status_badge,
    tail_text,
    user_error,
)
from ui.widgets.curve_svg import curve_image_html
from ui.widgets.feedback_panel import feedback_panel
from ui.widgets.images import show_image_inline
from ui.widgets.lineage_panel import lineage_panel
from ui.widgets.live import watch
from ui.widgets.preference_panel import preference_panel
from ui.widgets.run_picker import pick_run
from ui.widgets.safety_panel import safety_panel
from ui.widgets.settings_store import session_key, session_secrets

MAX_DOWNLOAD_MB = 512
FORCE_GRACE_UI_S = 3.0  # the cancel was asked before (or the run is stalled): a short wait, then the kill

store = get_store()
reconcile(store)

if st.session_state.pop("run.deleted", None):
    st.switch_page(page_path("runs"))

run_id = st.query_params.get("id")
if not run_id:
    st.title("Run")
    picked = pick_run(store, "Open a run", key="run.pick")
    if picked is None:
        st.info("No runs yet. Start one from Home or the Train page.", icon=":material/info:")
        st.page_link(page_path("train"), label="Go to Train", icon=":material/model_training:")
    elif st.button("Open", key="run.pick.open"):
        st.query_params["id"] = picked.id
        st.rerun()
    st.stop()

try:
    run = store.get(run_id)
except RunNotFound as err:
    st.title("Run")
    user_error(err)
    st.page_link(page_path("runs"), label="Back to Runs", icon=":material/arrow_back:")
    st.stop()

live = run.status in ACTIVE

# -- header ------------------------------------------------------------------------------------------
st.page_link(page_path("runs"), label="All runs", icon=":material/arrow_back:")
title = run.name if run.name != run.id else run.id
st.title(title)
family = FAMILIES.get(run.family)
meta = [
    f"`{run.id}`",
    family.title if family else run.family,
    f"data: {run.data_name or '?'}",
    f"created {fmt_time(run.created_at)}",
]
if run.parent_id:
    meta.append(f"cloned from `{run.parent_id}`")
if run.resume_count:
    meta.append(f"resumed {run.resume_count}×")
st.caption(" · ".join(meta))


def progress_panel() -> None:
    try:
        r = store.get(run_id)
    except RunNotFound:
        st.warning("This run was deleted.")
        return
    if live and r.status not in ACTIVE:
        st.rerun()  # finished: refresh the whole page once (buttons, tabs), which stops the polling
    c1, c2 = st.columns([1, 5], vertical_alignment="center")
    with c1.container(key=f"run.status.{r.status}"):
        status_badge(r.status)
    with c2:
        total = f"/{r.total_steps}" if r.total_steps else ""
        parts = [f"step {r.step}{total}", f"epoch {r.epoch}", f"elapsed {fmt_duration(r.duration_s)}"]
        if r.status == "running" and r.eta_s is not None:
            parts.append(f"ETA {fmt_duration(r.eta_s)}")
        if r.status == "queued":
            parts = ["waiting for a free worker slot"]
        if r.cancel_requested and r.status == "running":
            parts.append("stopping after this step…")
        st.progress(r.progress, text=" · ".join(parts))
        if r.stalled:
            idle = fmt_duration(time.time() - (r.heartbeat or time.time()))
            st.warning(
                f"Stalled: no training progress for {idle}. The worker may be stuck (a hung data loader, or DDP "
                "waiting for a node). Force stop kills it; the last good checkpoint is kept.",
                icon=":material/hourglass_disabled:",
            )
    if r.error:
        (st.error if r.status == "failed" else st.warning)(r.error, icon=":material/error:")
    if r.warning:
        with st.container(key="run.warning"):
            st.warning(r.warning, icon=":material/warning:")
    values = store.last_metrics([r.id]).get(r.id, {})
    shown = {k: v for k, v in sorted(values.items()) if k.startswith("val/")} or {
        k: v for k, v in sorted(values.items()) if k.startswith("train/")
    }
    if shown:
        cols = st.columns(min(6, len(shown)))
        for i, (k, v) in enumerate(list(shown.items())[:6]):
            best = " (monitored)" if k == r.monitor else ""
            cols[i].metric(k + best, fmt_value(v))
    if "train/resolution" in values:  # a growing generator (progressive growing) says where it is
        fading = values.get("train/alpha", 1.0) < 1.0
        with st.container(key="run.resolution"):
            st.caption(
                f"Current resolution: **{int(values['train/resolution'])} px**"
                + (f" (fading in, {values['train/alpha']:.0%})" if fading else "")
            )
    if r.best_value is not None and r.monitor:
        st.caption(f"Best {r.monitor}: {fmt_value(r.best_value)}")


if live:
    # One small fragment polls: it redraws the progress line and reruns the page when artifacts or the
    # status changed, and for new metric points at most every MINOR_EVERY_S; charts, samples and logs are
    # drawn on those reruns alone.
    watch(
        f"run.{run_id}",
        lambda: store.change_stamp(run_id)[1:],
        draw=progress_panel,
        minor=lambda: store.metrics_stamp(run_id),
    )
else:
    progress_panel()


# -- actions -----------------------------------------------------------------------------------------
def _forget_delete() -> None:
    st.session_state.pop("run.confirm_delete", None)


@st.dialog("Delete this run?", on_dismiss=_forget_delete)
def confirm_delete(target: Run) -> None:
    st.write(
        f"**{target.name}** (`{target.id}`) and its metrics, samples and checkpoints will be removed "
        "from disk. This cannot be undone."
    )
    c1, c2 = st.columns(2)
    if c1.button("Delete for good", type="primary", icon=":material/delete_forever:", key="run.delete.yes"):
        try:
            store.delete(target.id)
        except (ValueError, OSError, RunNotFound) as err:
            user_error(err, "Could not delete")
            return
        _forget_delete()
        st.session_state["run.deleted"] = target.id
        st.rerun()
    if c2.button("Keep it", key="run.delete.no"):
        _forget_delete()
        st.rerun()


def _clone(target: Run) -> None:
    try:
        cfg = parse_config(target.config)
    except ConfigError as err:
        st.session_state["run.error"] = err
        return
    if cfg.name:
        cfg.name = cfg.name[:114] + "-clone"
    st.session_state["train.load"] = {
        "config": cfg.model_dump(mode="json"),
        "source": f"a clone of run {target.id}",
        "parent_id": target.id,
    }
    st.session_state["run.go_train"] = True


def _do(action: str) -> None:
    try:
        if action == "cancel":
            jobs.cancel(run_id, store)
            st.toast("Stopping: the worker finishes its step, saves a checkpoint and stops.", icon=":material/stop:")
        elif action == "force":
            done = jobs.cancel(run_id, store, force=True, grace_s=FORCE_GRACE_UI_S)
            st.toast(
                "Force-stopped; the last good checkpoint is kept." if done.status == "cancelled" else done.status,
                icon=":material/dangerous:",
            )
        elif action == "resume":
            jobs.resume(run_id, store, secrets=session_secrets())
            st.toast("Resuming from the last checkpoint.", icon=":material/play_arrow:")
    except (GenLabError, RunNotFound, OSError) as err:
        st.session_state["run.error"] = err


if st.session_state.pop("run.go_train", False):
    st.switch_page(page_path("train"))
if err := st.session_state.pop("run.error", None):
    user_error(err)

a = st.columns(6)
a[0].button(
    "Cancel",
    icon=":material/stop:",
    disabled=run.status not in ACTIVE,
    on_click=_do,
    args=("cancel",),
    key="run.cancel",
    help="Stop the run; it saves a checkpoint first, and Resume continues it.",
    width="stretch",
)
resumable = run.status in ("interrupted", "cancelled", "failed", "pruned")
has_checkpoint = bool(checkpoint_candidates(run.folder / "checkpoints"))
a[1].button(
    "Resume",
    icon=":material/play_arrow:",
    disabled=not (resumable and has_checkpoint),
    on_click=_do,
    args=("resume",),
    key="run.resume",
    width="stretch",
    help="Continue from the last checkpoint, in this same run."
    if has_checkpoint or not resumable
    else "Nothing to resume: the run stopped before its first checkpoint. Clone and edit starts it again.",
)
a[2].button(
    "Clone and edit",
    icon=":material/content_copy:",
    on_click=_clone,
    args=(run,),
    key="run.clone",
    width="stretch",
    help="Open these settings on the Train page as a new run.",
)
a[3].page_link(
    page_path("playground"),
    label="Playground",
    icon=":material/auto_awesome:",
    query_params={"run": run.id},
    disabled=run.status in ACTIVE and not run.step,
)
a[4].page_link(page_path("compare"), label="Compare", icon=":material/compare_arrows:", query_params={"ids": run.id})
a[5].button(
    "Delete",
    icon=":material/delete:",
    disabled=run.status in ACTIVE,
    key="run.delete",
    width="stretch",
    help="Cancel a running run before deleting it.",
    on_click=lambda: st.session_state.update({"run.confirm_delete": run_id}),
)
if run.status == "running" and (run.cancel_requested or run.stalled):
    st.button(
        "Force stop",
        icon=":material/dangerous:",
        on_click=_do,
        args=("force",),
        key="run.force_stop",
        help=f"Kill the worker if it has not stopped within {FORCE_GRACE_UI_S:.0f} s (it may be hung). Status becomes "
        "cancelled; the last good checkpoint is kept and Resume continues from it.",
    )
if st.session_state.get("run.confirm_delete") == run_id:
    confirm_delete(run)


# -- W&B -------------------------------------------------------------------------------------------------
def _sync() -> None:
    try:
        with st.spinner("Uploading this run to W&B…"):
            url = wandb_link.sync(store, run_id, session_key())
        st.toast(f"Synced to W&B: {url}", icon=":material/cloud_done:")
    except (GenLabError, RunNotFound, OSError) as err:
        st.session_state["run.error"] = err


@st.fragment
def wandb_panel() -> None:
    r = store.get(run_id)
    if not r.wandb:
        return
    url = wandb_link.run_url(r)
    with st.container(key="run.wandb"):
        if url:
            c1, c2 = st.columns([1, 4], vertical_alignment="center")
            c1.link_button("Open in W&B", url, icon=":material/open_in_new:")
            c2.caption(f"W&B run: {url}")
        elif r.wandb.get("mode") == "offline":
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            with c1:
                st.caption("W&B: logged offline under the run folder. Upload it with your key (the button) or run:")
                st.code(wandb_link.sync_command(r), language="bash")
            c2.button(
                "Sync to W&B",
                icon=":material/cloud_upload:",
                key="run.wandb_sync",
                on_click=_sync,
                disabled=r.status in ACTIVE or not wandb_link.offline_dirs(r),
                help="Uploads with the W&B key of this browser session (Settings)."
                if session_key()
                else "Paste your W&B key on the Settings page first.",
            )
        for report_url in r.wandb.get("reports", []):
            st.caption(f"W&B report: {report_url}")


wandb_panel()

# -- tabs ------------------------------------------------------------------------------------------------
is_text = family is not None and family.kind == "text"
learns_preferences = family is not None and family.can("PreferenceTunable")
names = ["Overview", "Charts", "Samples", "Logs", "Config", "Notes & tags", "Files"]
extra = (["Safety & feedback"] if is_text else []) + (["Preferences & lineage"] if learns_preferences else [])
# Only the open tab runs (on_change="rerun"): a watched live run redraws one curve and the newest samples,
# not every chart of every tab, so watching costs training little.
t_overview, t_charts, t_samples, t_logs, t_config, t_notes, t_files, *t_extra = st.tabs(
    names + extra, key="run.tabs", on_change="rerun"
)


def follower() -> MetricsFollower:
    """This tab's metric series, read incrementally (only rows newer than the last draw)."""
    key = f"run.follower.{run_id}"
    if key not in st.session_state:
        st.session_state[key] = MetricsFollower(store, run_id)
    return st.session_state[key]


@st.fragment
def charts() -> None:
    f = follower()
    f.refresh()
    keys = [k for k in f.keys() if k != "epoch"]
    if not keys:
        st.info(
            "No metrics yet: they appear after the first logged steps." if live else "This run logged no metrics.",
            icon=":material/info:",
        )
        return
    weight, log_y = chart_controls("run")
    default = [k for k in keys if not k.startswith("lr")] or keys
    picked = st.multiselect("Metrics", keys, default=default, key="run.metric_keys")
    series = {k: {run.name: f.series(k, max_points=None)} for k in picked}  # downsampled after smoothing
    metric_grid(series, weight=weight, log_y=log_y, key="run")


def _counterpart(monitor: str) -> str:
    """val/loss -> train/loss: the training curve beside the monitored validation one."""
    stage, _, name = monitor.partition("/")
    return f"train/{name}" if stage == "val" and name else ""


@st.fragment
def overview() -> None:
    """What a person came for: the monitored metric (validation and training) and the newest samples."""
    f = follower()
    f.refresh()
    keys = set(f.keys())
    monitor = run.monitor or ""
    curves = {
        label: f.series(k) for label, k in (("validation", monitor), ("training", _counterpart(monitor))) if k in keys
    }
    if not curves:  # nothing validated yet and no train/ twin: the training metrics the run has
        curves = {k: f.series(k) for k in sorted(keys) if k.startswith("train/")}
        curves = dict(list(curves.items())[:2])
    c1, c2 = st.columns([3, 2])
    with c1:
        if curves:
            title = monitor or ", ".join(curves)
            st.markdown(curve_image_html(curves, title), unsafe_allow_html=True)
            st.caption("Zoom, smooth and see every metric in the Charts tab.")
            if monitor and monitor not in keys:
                st.caption(f"{monitor} appears after the first validation (at the end of an epoch).")
        else:
            st.info("The curve appears after the first logged steps." if live else "This run logged no metrics.")
    with c2:
        newest_samples()


def newest_samples() -> None:
    images = store.artifacts(run_id, kind="samples")
    texts = store.artifacts(run_id, kind="text")
    latest: dict[str, dict[str, Any]] = {}
    for art in images + texts:  # in step order: the last one of each name wins
        latest[art["name"]] = art
    if not latest:
        st.info(_no_samples_text(), icon=":material/info:")
        return
    for name, art in sorted(latest.items()):
        st.markdown(f"**{name}** · step {art['step']}")
        if art["kind"] == "samples":
            show_image_inline(art["path"], alt=f"{name} sample grid, step {art['step']}")
        else:
            st.text(tail_text(art["path"], max_lines=20))


def _no_samples_text() -> str:
    if not live:
        return "This run saved no samples."
    every = parse_config(run.config).logging.sample_every_n_steps
    return f"No samples yet: the first ones are saved after {every or 'one epoch of'} steps."


def _nearest(items: list[dict[str, Any]], step: int) -> dict[str, Any] | None:
    """The last artifact at or before `step` (else the first one)."""
    best = None
    for item in items:
        if item["step"] is None or item["step"] <= step:
            best = item
    return best or (items[0] if items else None)


@st.fragment
def samples() -> None:
    images = store.artifacts(run_id, kind="samples")
    texts = store.artifacts(run_id, kind="text")
    if not images and not texts:
        st.info(_no_samples_text(), icon=":material/info:")
        return
    by_name: dict[str, list[dict[str, Any]]] = {}
    for art in images + texts:
        by_name.setdefault(art["name"], []).append(art)
    steps = sorted({a["step"] or 0 for a in images + texts})
    follow = st.toggle("Follow the latest", value=live, key="run.follow", disabled=len(steps) < 2)
    if follow or st.session_state.get("run.step") not in steps:
        st.session_state["run.step"] = steps[-1]
    if len(steps) > 1:
        step = st.select_slider(
            "Step", steps, key="run.step", disabled=follow, help="Slide through the samples saved during training."
        )
    else:
        step = steps[0]
        st.caption(f"Samples at step {step}.")
    names = sorted(by_name)
    cols = st.columns(min(3, len(names)))
    for i, name in enumerate(names):
        art = _nearest(by_name[name], step)
        with cols[i % len(cols)]:
            st.markdown(f"**{name}** · step {art['step'] if art else '–'}")
            if art is None:
                continue
            if art["kind"] == "samples":
                show_image_inline(art["path"], alt=f"{name} sample grid, step {art['step']}")
            else:
                st.text(tail_text(art["path"], max_lines=60))


@st.fragment
def logs() -> None:
    arts = store.artifacts(run_id, kind="log")
    paths = list(dict.fromkeys(a["path"] for a in arts))
    fallback = run.folder / "logs"
    if fallback.is_dir():
        paths += [str(p) for p in sorted(fallback.glob("*.log")) if str(p) not in paths]
    if not paths:
        st.info("No log yet: the worker writes one when it starts.", icon=":material/info:")
        return
    chosen = (
        st.selectbox("Log file", paths, format_func=lambda p: Path(p).name, key="run.log")
        if len(paths) > 1
        else paths[0]
    )
    everything = st.toggle(
        "Show the libraries' start-up lines",
        key="run.log_all",
        help="GPU/TPU lines, tips and deprecation notices that every run prints (`runs logs --all`).",
    )
    text = tail_text(chosen, max_lines=600)
    if not everything:
        text, dropped = readable_log(text)
        if dropped:
            st.caption(f"{dropped} start-up line(s) of the libraries left out.")
    st.code("\n".join(text.splitlines()[-200:]) or "(empty)", language="log", height=420)


def notes_tab() -> None:
    with st.form("run.notes_form", border=False):
        notes = st.text_area(
            "Notes",
            value=run.notes,
            height=150,
            max_chars=10_000,
            key="run.notes",
            help="What you tried and what you saw; searchable on the Runs page.",
        )
        tags_text = st.text_input(
            "Tags", value=", ".join(run.tags), key="run.tags", help="Comma separated, e.g. baseline, small"
        )
        if st.form_submit_button("Save", icon=":material/save:"):
            tags = [t.strip() for t in tags_text.split(",") if t.strip()]
            bad = [t for t in tags if len(t) > 40]
            if bad:
                st.error(f"Tags must be at most 40 characters; shorten: {', '.join(bad)}")
            else:
                try:
                    store.update(run_id, notes=notes, tags=tags)
                    st.toast("Saved", icon=":material/check:")
                except (RunNotFound, OSError) as err:
                    user_error(err)


def files_tab() -> None:
    ckpts = store.artifacts(run_id, kind="checkpoint")
    folder_ckpts = sorted((run.folder / "checkpoints").glob("*.ckpt"))
    files = list(dict.fromkeys([Path(a["path"]) for a in ckpts] + folder_ckpts))
    st.caption(f"Run folder: `{run.folder}`")
    if not files:
        st.info("No checkpoints yet: one is saved at each epoch end.", icon=":material/info:")
    for path in files:
        if not path.exists():
            continue
        size_mb = path.stat().st_size / 1e6
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(f"`{path.name}` · {size_mb:.1f} MB")
        if size_mb <= MAX_DOWNLOAD_MB:
            c2.download_button(
                "Download",
                data=path.read_bytes,
                file_name=f"{run.id}-{path.name}",
                mime="application/octet-stream",
                key=f"run.dl.{path.name}",
                on_click="ignore",
                icon=":material/download:",
            )
        else:
            c2.caption("too large to download here; copy it from the run folder")


def safety_tab() -> None:
    safety_panel(store, run)
    feedback_panel(store, run)


def preferences_tab() -> None:
    preference_panel(store, run)
    lineage_panel(store, run)


def config_tab() -> None:
    config_panel(run.config_yaml, cli_command_for(run), file_name=f"{run.id}.yaml", key="run.config")


extra_draws = {"Safety & feedback": safety_tab, "Preferences & lineage": preferences_tab}
for tab, draw in zip(
    [t_overview, t_charts, t_samples, t_logs, t_config, t_notes, t_files, *t_extra],
    [overview, charts, samples, logs, config_tab, notes_tab, files_tab, *(extra_draws[n] for n in extra)],
    strict=True,
):
    if tab.open is not False:  # None: no tab state (never on this page), draw them all
        with tab:
            draw()
