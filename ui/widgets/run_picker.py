"""Pick one or several runs from the store by a readable label."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from genlab.store.runs import Run, RunStore
from ui.widgets.common import run_label


def _options(
    store: RunStore, status: Iterable[str] | str | None, family: str | Iterable[str] | None, limit: int
) -> dict[str, Run]:
    runs = store.list_runs(status=status, limit=limit)
    if family:
        allowed = {family} if isinstance(family, str) else set(family)
        runs = [r for r in runs if r.family in allowed]
    return {r.id: r for r in runs}


def pick_run(
    store: RunStore,
    label: str,
    *,
    key: str,
    status: Iterable[str] | str | None = None,
    family: str | Iterable[str] | None = None,
    default: str | None = None,
    limit: int = 500,
    help: str | None = None,
    first: Iterable[str] = (),
) -> Run | None:
    """A selectbox of runs (newest first, runs whose status is in `first` before the others, so the newest
    completed run is what opens); None when there is none to pick."""
    runs = _options(store, status, family, limit)
    if not runs:
        return None
    preferred = set(first)
    ids = sorted(runs, key=lambda i: runs[i].status not in preferred)  # stable: newest first within each
    index = ids.index(default) if default in runs else 0
    chosen = st.selectbox(
        label, ids, index=index, key=key, help=help, format_func=lambda i: f"{run_label(runs[i])} · {i}"
    )
    return runs.get(chosen) if chosen else None


def pick_runs(
    store: RunStore,
    label: str,
    *,
    key: str,
    default: Iterable[str] = (),
    status: Iterable[str] | str | None = None,
    limit: int = 500,
    max_selections: int | None = 8,
    help: str | None = None,
) -> list[Run]:
    """A multiselect of runs, in the order picked."""
    runs = _options(store, status, None, limit)
    wanted = [d for d in default if d in runs]
    chosen = st.multiselect(
        label,
        list(runs),
        default=wanted or None,
        key=key,
        max_selections=max_selections,
        format_func=lambda i: f"{run_label(runs[i])} · {i}",
        help=help,
        placeholder="Choose runs",
    )
    return [runs[i] for i in chosen]
