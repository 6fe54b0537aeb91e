"""Attention you can see, through the engine, the CLI and the REST API: the head summary, one layer and
head as a PNG, JSON weights whose rows sum to one, fill-mask and classification routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from genlab.cli.main import main
from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore
from genlab.use.attention import attention_report, load_viewer
from tests.helpers import train_tiny


def _mlm_config():
    config = FAMILIES["bert"].tiny_config()
    config.model = config.model.model_copy(update={"task": "mlm"})
    return config


def test_cli_draws_a_layer_and_head_and_prints_the_head_summary(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, _ = train_tiny(store, FAMILIES["t5"])
    out = tmp_path / "map.png"
    code = main(["attention", run_id, "--text", "teddy bear", "--kind", "cross", "--head", "1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "cross" in printed and "decoder" in printed and "pattern" in printed
    assert Image.open(out).size[0] > 40
    report = attention_report(load_viewer(run_id, store=store), "teddy bear")
    assert len(report.summary) == 3 * 2  # three kinds x one layer x two heads
    assert report.positions is not None and report.position_label
    assert main(["attention", run_id, "--text", "teddy bear", "--layer", "5", "--out", str(out)]) != 0
    assert "out of range" in "".join(capsys.readouterr())


def test_a_run_without_attention_is_told_which_families_have_it(store: RunStore) -> None:
    config = FAMILIES["vae"].tiny_config()
    run_id, _ = train_tiny(store, FAMILIES["vae"], config)
    with pytest.raises(GenLabError, match="bert"):
        load_viewer(run_id, store=store)


def test_rest_routes_give_attention_fill_mask_and_classes(store: RunStore) -> None:
    from genlab.serve import create_app

    mlm_id, _ = train_tiny(store, FAMILIES["bert"], _mlm_config())
    clf_id, _ = train_tiny(store, FAMILIES["bert"])
    app = create_app([mlm_id, clf_id], store, require_keys=False, rate_per_minute=0, load_in_background=False)
    with TestClient(app) as client:
        r = client.post(f"/runs/{mlm_id}/attention", json={"text": "my [MASK] lord", "layer": 0, "head": 1})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kinds"] == ["self"] and len(body["weights"]) == len(body["query_tokens"])
        assert all(abs(sum(row) - 1) < 1e-4 for row in body["weights"])
        r = client.post(f"/runs/{mlm_id}/fill-mask", json={"text": "my [MASK] lord", "top_k": 3})
        assert r.status_code == 200 and len(r.json()["fills"]) + r.json()["withheld"] == 3
        r = client.post(f"/runs/{clf_id}/classify", json={"text": "the king is dead"})
        assert r.status_code == 200 and abs(sum(r.json()["scores"].values()) - 1) < 1e-5
        assert client.post(f"/runs/{clf_id}/fill-mask", json={"text": "a [MASK]"}).status_code == 400


def test_fused_attention_weights_matches_its_transformers_export(store: RunStore) -> None:
    """The native GPT's fused kernel returns no weights; the recomputed ones equal GPT2LMHeadModel's."""
    import torch

    from lightning_modules.attention_maps import causal_lm_attention

    _, module = train_tiny(store, FAMILIES["gpt"])
    module.eval()
    maps = module.attention_maps("ROMEO: the king")
    w = maps[0].weights
    assert w.shape[:2] == (2, 2) and maps[0].causal
    assert torch.all(w.triu(1) == 0)
    ids = torch.tensor([module.tokenizer("ROMEO: the king", add_special_tokens=False)["input_ids"]])
    torch.testing.assert_close(causal_lm_attention(module.plain_model().eval(), ids), w, atol=1e-5, rtol=1e-4)
    label, table = module.position_picture()
    assert "position" in label and table.shape[1] == 32
