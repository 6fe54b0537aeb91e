"""The safety screen in the app: Settings installs only the official Detoxify file and saves the
defaults and block list; the Data page screens a corpus; the Run page shows a text run's audit."""

from __future__ import annotations

import pytest

from tests.ui.conftest import open_tab


def texts(at, kind: str) -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


@pytest.fixture(autouse=True)
def _no_detoxify(monkeypatch, tmp_path):
    from genlab.safety.gate import reset_screener

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("GENLAB_DETOXIFY_CKPT", raising=False)
    reset_screener()
    yield
    reset_screener()


def test_settings_refuses_a_wrong_checkpoint_and_saves_thresholds_and_the_block_list(app, home):
    from genlab.safety.gate import load_defaults, screen
    from genlab.safety.screeners import checkpoint_dir

    at = app("settings")
    assert "profanity only: misses threats and hate without swear words" in texts(at, "warning")
    at.get("file_uploader")[0].upload("toxic_original-c1212f89.ckpt", b"not the real file", "application/octet-stream")
    at.run()
    at.button(key="settings.detox_install").click().run()
    assert "sha256 starts with" in texts(at, "error")
    assert not any(checkpoint_dir().iterdir()), "nothing was installed"

    assert at.segmented_control(key="settings.safety_level").value == "standard"
    assert not [w for w in at.number_input if w.key == "safety.toxicity"], "nine thresholds only behind custom"
    at.segmented_control(key="settings.safety_level").set_value("custom").run()
    at.number_input(key="safety.toxicity").set_value(0.6)
    at.text_area(key="settings.block_list").set_value("zorblax\n")
    at.button(key="FormSubmitter:settings.safety-Save safety settings").click().run()
    assert not at.error, texts(at, "error")
    assert load_defaults().toxicity == 0.6
    assert screen("a zorblax appeared").flagged_categories == ["block_list"]
    at = app("train")
    at.selectbox(key="train.family").set_value("rnn").run()
    (field,) = [w for w in at.number_input if w.key and w.key.split("@")[0] == "train.form.rnn.safety.toxicity"]
    assert field.value == 0.6, "new text runs start from the server's safety defaults"


def test_data_page_screens_a_builtin_corpus(app):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Text corpora").run()
    at.number_input(key="data.screen.builtin.max").set_value(300)
    at.button(key="data.screen.builtin.go").click().run()
    assert not at.error, texts(at, "error")
    (metric,) = [m for m in at.metric if m.label.startswith("Flagged")]
    assert metric.value.endswith("of 300")
    assert "profanity only" in texts(at, "caption")


def test_run_page_lists_the_audit_and_flagged_rate_of_a_text_run(app, store):
    from genlab.core.config import SafetyConfig
    from genlab.core.registry import FAMILIES
    from genlab.safety.gate import Gate

    run = store.create_run(FAMILIES["rnn"].tiny_config())
    gate = Gate(SafetyConfig(), store=store, run_id=run.id, path="playground.generate")
    for text in ("good morning", "you are a stupid idiot", "see you soon", "thank you"):
        gate.release(text)
    at = open_tab(app("run", id=run.id), "Safety & feedback")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Flagged rate"] == "25.0%" and shown["Outputs screened"] == "4"
    audit = at.dataframe[-1].value
    assert list(audit["action"]) == ["blocked"] and "idiot" not in str(at)
    assert "No bias report yet." in texts(at, "caption")
