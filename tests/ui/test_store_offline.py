"""A team database that cannot be reached when the app starts: one clear message, no traceback."""

from __future__ import annotations


def test_runs_page_says_the_team_database_cannot_be_reached(app, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_DB_URL", "postgresql+psycopg://genlab:hidden@127.0.0.1:1/genlab")
    at = app("runs")
    errors = [e.value for e in at.error]
    assert any("cannot be reached" in e and "GENLAB_DB_URL" in e for e in errors), errors
    assert not any("hidden" in e for e in errors)
