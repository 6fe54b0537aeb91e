"""W&B and reports in the app: the Run page's warning, link or sync command; Compare's Report tab."""

from __future__ import annotations

import os

from genlab.share.wandb_link import offline_dirs
from tests.test_wandb import _forward
from tests.test_wandb_keys import KEY_A, _nothing_on_disk_holds
from tests.ui.test_pages import texts


def test_run_page_shows_the_wandb_warning_and_the_sync_command_of_an_offline_run(app, recorded, store):
    run = recorded(name="offline-wandb")
    _forward(store, run)
    store.add_warning(run.id, "W&B could not start (online): CommError: invalid api key. Training goes on without W&B.")
    at = app("run", id=run.id)
    assert "Training goes on without W&B" in texts(at, "warning")
    assert any(c.value == f"wandb sync {offline_dirs(store.get(run.id))[0]}" for c in at.code)
    sync = at.button(key="run.wandb_sync")
    assert sync.disabled is False
    sync.click().run()
    assert "Syncing needs your W&B API key" in texts(at, "error")


def test_run_page_links_an_online_run_and_its_reports(app, recorded, store):
    run = recorded(name="online-wandb")
    url = "https://wandb.ai/team/genlab/runs/abc"
    store.merge_wandb(run.id, mode="online", url=url, reports=["https://wandb.ai/team/genlab/reports/LR--xyz"])
    at = app("run", id=run.id)
    assert url in texts(at, "caption")
    assert "https://wandb.ai/team/genlab/reports/LR--xyz" in texts(at, "caption")


def test_compare_creates_a_downloadable_html_report_and_needs_a_key_for_wandb(app, recorded):
    a = recorded(name="lr-small", lr=0.001, seed=1)
    b = recorded(name="lr-big", lr=0.01, seed=2)
    at = app("compare", ids=f"{a.id},{b.id}")
    at.text_input(key="compare.report_title").set_value("LR study")
    assert at.button(key="FormSubmitter:compare.report_form-Create W&B report").disabled
    at.button(key="FormSubmitter:compare.report_form-Create HTML report").click().run()
    assert not at.exception and not at.error
    download = at.get("download_button")
    assert download and "Download the HTML report" in str(download[0].proto)
    assert f"python -m genlab report {a.id} {b.id}" in texts(at, "caption")


def test_one_browser_sessions_key_never_reaches_another_session(app, home, monkeypatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    alice = app("settings")
    alice.text_input(key="settings.wandb_key").set_value(KEY_A)
    alice.button(key="FormSubmitter:settings.wandb-Save").click().run()
    assert "Your W&B API key is set for this browser session" in texts(alice, "success")
    shown = "".join(texts(alice, kind) for kind in ("markdown", "success", "info", "caption", "code"))
    assert KEY_A not in shown  # never shown back
    assert "WANDB_API_KEY" not in os.environ  # not put into the server's environment for everyone
    bob = app("settings")
    assert "No W&B key in this browser session" in texts(bob, "info")
    assert "wandb.session_api_key" not in bob.session_state
    assert alice.session_state["wandb.session_api_key"] == KEY_A
    _nothing_on_disk_holds(home, KEY_A)
