"""The Export page: refuses politely without a finished run; on a trained VAE it exports in a background
thread, shows the parity table, offers the files and runs "try it" beside PyTorch."""

from __future__ import annotations

import pytest

from tests.helpers import wait_for


def texts(at, kind: str) -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def test_export_page_without_finished_runs_says_what_to_do(app):
    at = app("export")
    assert [t.value for t in at.title] == ["Export"]
    assert "No completed runs yet" in texts(at, "info")


@pytest.mark.slow
def test_export_page_exports_in_the_background_and_tries_the_file(app, trained_run):
    from genlab.export import background

    at = app("export", run=trained_run.id)
    assert "no exports yet" in texts(at, "info")
    assert "hf" not in at.multiselect(key="export.formats").options  # language models only, said up front
    at.multiselect(key="export.formats").set_value(["onnx"]).run()
    assert f"python -m genlab export {trained_run.id} --format onnx" in texts(at, "code")
    at.button(key="export.go").click().run()
    job_id = at.session_state[f"export.job.{trained_run.id}"]
    job = wait_for(lambda: background.get(job_id) if background.get(job_id).done else None, 300, what="export")
    assert not job.errors, job.errors
    at.run()
    table = at.dataframe[0].value
    assert set(table["net"]) == {"decoder", "encoder"} and set(table["parity"]) == {"passed"}
    assert at.get("download_button")
    at.selectbox(key="export.try").set_value("decoder.onnx.fp32").run()
    at.button(key="export.try.go").click().run()
    assert not at.error, texts(at, "error")
    assert "max |diff|" in texts(at, "caption")
