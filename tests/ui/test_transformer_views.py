"""The Playground's transformer views on really trained tiny runs: fill-the-mask with probabilities, the
attention heat map with its head summary, and a seq2seq run's generation with its three attentions."""

from __future__ import annotations

from genlab.core.registry import FAMILIES
from tests.ui.conftest import train_in_process


def _texts(at, kind: str) -> str:
    return " ".join(str(e.value) for e in getattr(at, kind))


def test_playground_fills_the_mask_and_shows_attention_of_an_encoder(app, store):
    config = FAMILIES["encoder"].tiny_config()
    config.model = config.model.model_copy(update={"task": "mlm"})
    run = train_in_process(store, config)
    assert run.status == "completed", run.error
    at = app("playground", run=run.id)
    assert not at.error, _texts(at, "error")
    assert [t.label for t in at.tabs] == ["Fill the mask", "Attention"]
    at.text_input(key="play.fill.text").set_value("my [MASK] lord")
    at.button(key="play.fill.go").click().run()
    assert not at.error, _texts(at, "error")
    table = at.dataframe[0].value
    assert len(table) == 5 and table["probability"].is_monotonic_decreasing
    assert len(at.dataframe[1].value) == 2  # one layer x two heads


def test_playground_shows_the_cross_attention_of_a_seq2seq_run(app, store):
    run = train_in_process(store, FAMILIES["seq2seq"].tiny_config())
    assert run.status == "completed", run.error
    at = app("playground", run=run.id)
    assert not at.error, _texts(at, "error")
    at.selectbox(key="play.att.kind").set_value("cross").run()
    assert not at.error, _texts(at, "error")
    assert set(at.selectbox(key="play.att.kind").options) == {"encoder", "decoder", "cross"}
