"""Helpers every page shares: the run store, error display, formatting, the CLI/YAML panel.

The UI talks to the engine only through genlab's API. Nothing here imports torch or lightning, so a
page renders in milliseconds and a broken GPU driver never takes the UI down.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.core.paths import genlab_home
from genlab.store.runs import Run, RunNotFound, RunStore, StoreOffline

STATUS_COLORS = {
    "queued": "gray",
    "running": "blue",
    "completed": "green",
    "failed": "red",
    "cancelled": "orange",
    "interrupted": "violet",
    "pruned": "gray",
}
STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/progress_activity:",
    "completed": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "interrupted": ":material/pause_circle:",
    "pruned": ":material/content_cut:",
}
REFRESH_S = 2.0  # how often live views poll the run store


@st.cache_resource(show_spinner=False)
def _store_for(home: str) -> RunStore:
    return RunStore(home)


def get_store() -> RunStore:
    """The run store of GENLAB_HOME (one per server process; its connections are per thread).

    A home that cannot be created or written stops the page with one message saying what is wrong,
    instead of a generic error on every widget.
    """
    try:
        return _store_for(str(genlab_home()))
    except StoreOffline as err:  # the team database is down or unreachable: say so, retry on the next load
        st.error(f"{err}. Reload the page once the database is back.", icon=":material/cloud_off:")
        st.stop()
        raise
    except (GenLabError, OSError) as err:
        text = str(err) if isinstance(err, GenLabError) else f"GENLAB_HOME cannot be used ({err.strerror or err})"
        st.error(
            f"{text}. Restart the app with GENLAB_HOME pointing at a folder it can write to.",
            icon=":material/folder_off:",
        )
        st.stop()
        raise  # st.stop() raises; this line keeps type checkers and readers sure nothing follows


def reconcile(store: RunStore) -> None:
    """Start queued runs and mark dead workers interrupted; at most once every few seconds per server."""
    last = st.session_state.get("_reconciled_at", 0.0)
    now = time.monotonic()
    if now - last < REFRESH_S:
        return
    st.session_state["_reconciled_at"] = now
    try:
        from genlab.runner import jobs
    except ImportError:
        return
    try:
        jobs.reconcile(store)
    except GenLabError as err:
        st.toast(str(err), icon=":material/warning:")


def user_error(err: BaseException, what: str = "") -> None:
    """Show a user-facing error inline: the engine's message says what to change."""
    prefix = f"{what}: " if what else ""
    if isinstance(err, RunNotFound):
        st.error(
            f"{prefix}{err}. It may have been deleted; pick another run on the Runs page.", icon=":material/error:"
        )
    elif isinstance(err, GenLabError):
        st.error(f"{prefix}{err}", icon=":material/error:")
    else:
        st.error(f"{prefix}{type(err).__name__}: {err}", icon=":material/error:")


def status_badge(status: str) -> None:
    st.badge(status, color=STATUS_COLORS.get(status, "gray"), icon=STATUS_ICONS.get(status))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def fmt_value(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def fmt_mb(mb: float | None) -> str:
    if mb is None:
        return "–"
    if mb < 1:
        return f"{mb * 1000:.0f} kB"
    if mb < 1000:
        return f"{mb:.1f} MB"
    return f"{mb / 1000:.2f} GB"


def run_label(run: Run) -> str:
    """How a run is named in pickers: name, family, status and a short id."""
    name = run.name if run.name != run.id else run.id
    return f"{name} · {run.family} · {run.status}"


def page_path(name: str) -> str:
    """Path of a page file for st.switch_page / st.page_link (relative to ui/app.py)."""
    return f"views/{name}.py"


def open_run(run_id: str) -> None:
    st.switch_page(page_path("run"), query_params={"id": run_id})


def cli_command_for(target: Run | str | Path) -> str:
    """The equivalent CLI command (the engine's, when genlab.runner.jobs has landed)."""
    try:
        from genlab.runner import jobs

        return jobs.cli_command(target)
    except (ImportError, AttributeError):
        path = target.folder / "config.yaml" if isinstance(target, Run) else target
        return f"python -m genlab train --config {path}"


def config_panel(yaml_text: str, cli: str, *, file_name: str, key: str) -> None:
    """The run's CLI twin and YAML, copyable and downloadable."""
    st.caption("Same run from a terminal")
    st.code(cli, language="bash")
    st.code(yaml_text, language="yaml", height=320)
    st.download_button(
        "Download YAML",
        yaml_text,
        file_name=file_name,
        mime="application/x-yaml",
        icon=":material/download:",
        key=f"{key}.download",
        on_click="ignore",
    )


def tail_text(path: str | Path, max_lines: int = 200, max_bytes: int = 200_000) -> str:
    """The last lines of a (growing) log file, read from its end."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])
