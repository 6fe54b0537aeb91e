"""GenLab's Streamlit front door: `streamlit run ui/app.py` (from the repository root).

Page config and navigation only; every page lives in ui/views/. Pages call genlab's API; training runs
in worker processes, never in this script.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.widgets.auth import require_login

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="GenLab", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")
require_login()


def _page(name: str, title: str, icon: str, **kwargs: object) -> st.Page:
    return st.Page(f"views/{name}.py", title=title, icon=icon, url_path=name, **kwargs)


def _optional(name: str, title: str, icon: str) -> list[st.Page]:
    """Slots for pages that arrive with their own issue (sweeps, export): shown once the file exists."""
    return [_page(name, title, icon)] if (VIEWS / f"{name}.py").is_file() else []


pages = {
    "": [_page("home", "Home", ":material/home:", default=True)],
    "Build": [
        _page("data", "Data", ":material/dataset:"),
        _page("train", "Train", ":material/model_training:"),
        *_optional("sweeps", "Sweeps", ":material/tune:"),
    ],
    "Track": [
        _page("runs", "Runs", ":material/monitoring:"),
        _page("compare", "Compare", ":material/compare_arrows:"),
        _page("run", "Run", ":material/description:", visibility="hidden"),
    ],
    "Use": [
        _page("playground", "Playground", ":material/auto_awesome:"),
        *_optional("export", "Export", ":material/ios_share:"),
    ],
    "Setup": [_page("settings", "Settings", ":material/settings:")],
}

st.navigation(pages).run()
