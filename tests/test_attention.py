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
    config = FAMILIES["encoder"].tiny_config()
    config.model = config.model.model_copy(update={"task": "mlm"})
    return config


def test_cli_draws_a_layer_and_head_and_prints_the_head_summary(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, _ = train_tiny(store, FAMILIES["seq2seq"])
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
    with pytest.raises(GenLabError, match="encoder"):
        load_viewer(run_id, store=store)


def test_rest_routes_give_attention_fill_mask_and_classes(store: RunStore) -> None:
    from genlab.serve import create_app

    mlm_id, _ = train_tiny(store, FAMILIES["encoder"], _mlm_config())
    clf_id, _ = train_tiny(store, FAMILIES["encoder"])
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
