"""The BERT-style encoder family: masked-word filling with probabilities, classification of an uploaded
CSV with its baseline metrics, clear errors for bad tables, the attention it shows, and its Hugging Face
folder giving transformers' own pipelines the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.core.errors import DataError
from genlab.core.registry import FAMILIES
from genlab.runner.build import build_datamodule
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

FAM = FAMILIES["bert"]


def _config(**model: object) -> object:
    config = FAM.tiny_config()
    config.model = config.model.model_copy(update=model)
    return config


def _csv(tmp_path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> Path:
    path = tmp_path / "lines.csv"
    path.write_text(header + "\n" + "\n".join(f'"{t}",{label}' for t, label in rows) + "\n", encoding="utf-8")
    return path


def test_mlm_fills_the_mask_with_probabilities(store: RunStore) -> None:
    run_id, module = train_tiny(store, FAM, _config(task="mlm"))
    module.eval()
    fills = module.fill_mask("my lord, the [MASK] is here", top_k=4)
    assert len(fills) == 4
    scores = [f["score"] for f in fills]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    assert all(f["token"] and "[MASK]" not in f["sequence"] for f in fills)
    assert {"val/masked_accuracy", "val/frequent_word_accuracy", "val/perplexity"} <= set(store.metric_keys(run_id))
    maps = module.attention_maps("my lord, the [MASK] is here")
    assert maps[0].weights.shape[:2] == (1, 2)  # one layer, two heads
    torch.testing.assert_close(maps[0].weights.sum(-1), torch.ones(maps[0].weights.shape[:-1]))


def test_classifier_on_an_uploaded_csv_reports_the_majority_baseline(store: RunStore, tmp_path: Path) -> None:
    rows = [(f"the king rides to battle number {i}", "history") for i in range(24)]
    rows += [(f"sweet love sings in the garden {i}", "comedy") for i in range(24)]
    config = _config(task="classify")
    config.data = config.data.model_copy(
        update={"source": "file", "name": str(_csv(tmp_path, rows)), "max_items": None}
    )
    run_id, module = train_tiny(store, FAM, config)
    keys = set(store.metric_keys(run_id))
    assert {"val/accuracy", "val/macro_f1", "val/majority_accuracy", "val/majority_macro_f1"} <= keys
    scores = module.eval().classify("the king rides")
    assert set(scores) == {"comedy", "history"} and abs(sum(scores.values()) - 1) < 1e-5


@pytest.mark.parametrize(
    ("header", "rows", "needle"),
    [
        ("words,label", [("a b", "x"), ("c d", "y")], "no column 'text'"),
        ("text,label", [("a b c", "x")] * 20, "one class"),
        ("text,label", [("", "x"), ("", "y")], "empty"),
    ],
)
def test_bad_tables_say_what_is_wrong(tmp_path: Path, header: str, rows: list, needle: str) -> None:
    config = _config(task="classify")
    config.data = config.data.model_copy(update={"source": "file", "name": str(_csv(tmp_path, rows, header))})
    with pytest.raises(DataError, match=needle):
        build_datamodule(config).setup()


def test_a_local_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    config = _config(task="classify", source="pretrained", pretrained=str(tmp_path))
    with pytest.raises(DataError, match="not a Hugging Face model folder"):
        build_datamodule(config).setup()


def test_hf_folder_gives_transformers_pipelines_the_same_answers(store: RunStore, tmp_path: Path) -> None:
    from transformers import pipeline

    _, mlm = train_tiny(store, FAM, _config(task="mlm"))
    folder = mlm.eval().export_hf(tmp_path / "mlm")
    ours = mlm.fill_mask("my lord, the [MASK] is here", top_k=3)
    theirs = pipeline("fill-mask", model=str(folder), top_k=10)("my lord, the [MASK] is here")
    special = set(mlm.tokenizer.all_special_tokens)
    theirs = [t for t in theirs if t["token_str"].strip() not in special][:3]
    assert [t["token_str"].strip() for t in theirs] == [o["token"] for o in ours]
    assert [t["score"] for t in theirs] == pytest.approx([o["score"] for o in ours], abs=1e-5)

    _, clf = train_tiny(store, FAM, _config(task="classify"))
    folder = clf.eval().export_hf(tmp_path / "clf")
    ours_c = clf.classify("the king is dead")
    theirs_c = pipeline("text-classification", model=str(folder), top_k=None)(["the king is dead"])[0]
    assert {t["label"]: t["score"] for t in theirs_c} == pytest.approx(ours_c, abs=1e-5)
