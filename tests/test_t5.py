"""The T5-style seq2seq family: generation through the safety gate (the source is the prompt), its three
kinds of attention, baseline metrics beside its own, clear errors for bad pair files, and a Hugging Face
folder whose transformers `generate` gives the same output as GenLab."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.core.errors import DataError
from genlab.core.registry import FAMILIES
from genlab.runner.build import build_datamodule
from genlab.store.runs import RunStore
from genlab.use.generate import SamplingSettings, generate
from tests.helpers import train_tiny

FAM = FAMILIES["t5"]


def test_generates_through_the_gate_and_shows_three_attentions(store: RunStore) -> None:
    run_id, module = train_tiny(store, FAM)
    keys = set(store.metric_keys(run_id))
    assert {"val/bleu", "val/chrf", "val/exact_match", "val/copy_chrf", "val/frequent_exact_match"} <= keys
    module.eval()
    result = generate(module, "teddy bear", SamplingSettings(temperature=0.0, max_new_tokens=5))
    assert result.safety is not None and result.n_tokens <= 5
    assert result.text == module.translate_batch(["teddy bear"], 5)[0][: len(result.text)]
    maps = {m.kind: m for m in module.attention_maps("teddy bear")}
    assert set(maps) == {"encoder", "decoder", "cross"}
    cross = maps["cross"]
    assert cross.weights.shape == (1, 2, len(cross.query_tokens), len(cross.key_tokens))
    torch.testing.assert_close(cross.weights.sum(-1), torch.ones(cross.weights.shape[:-1]))
    label, bias = module.position_picture()
    assert bias.shape[0] == 2 and "relative" in label


def test_long_sources_are_cut_to_the_context(store: RunStore) -> None:
    _, module = train_tiny(store, FAM)
    ids = module.source_ids("a very long emoji name " * 20)
    assert len(ids) == module.data_info["max_source_len"] and ids[-1] == module.tokenizer.eos_token_id


@pytest.mark.parametrize(
    ("text", "needle"),
    [("input,output\na,b\nc,d\n", "no column 'source'"), ('source,target\na,""\nb,""\n', "empty")],
)
def test_bad_pair_files_say_what_is_wrong(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(text, encoding="utf-8")
    config = FAM.tiny_config()
    config.data = config.data.model_copy(update={"source": "file", "name": str(path)})
    with pytest.raises(DataError, match=needle):
        build_datamodule(config).setup()


def test_hf_folder_generates_the_same_with_transformers(store: RunStore, tmp_path: Path) -> None:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    _, module = train_tiny(store, FAM)
    folder = module.eval().export_hf(tmp_path / "hf")
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    enc = tok(["teddy bear", "flag of france"], return_tensors="pt", padding=True)
    out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert tok.batch_decode(out, skip_special_tokens=True) == module.translate_batch(
        ["teddy bear", "flag of france"], 5
    )


@pytest.mark.slow  # trains until the model writes Cyrillic: about a minute on an idle 2-core CPU
def test_a_screen_that_flags_everything_lets_no_seq2seq_output_out(store: RunStore, tmp_path: Path) -> None:
    """Targets only in Cyrillic, sources in Latin: any Cyrillic character outside the model is a leak."""
    from genlab.core.config import SCREEN_CATEGORIES
    from genlab.use.attention import attention_report

    words = ["жизнь", "звезда", "щука", "ёлка", "юла", "эхо"]
    rows = [f"word {i},{words[i % 6]} {words[(i + 1) % 6]}" for i in range(64)]
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\n" + "\n".join(rows) + "\n", encoding="utf-8")
    raw = FAM.tiny_config().model_dump(mode="json")
    raw["data"].update({"source": "file", "name": str(path)})
    raw["trainer"].update({"max_steps": 30, "limit_train_batches": 10, "max_epochs": 10})
    raw["safety"].update(dict.fromkeys(SCREEN_CATEGORIES, 0.0))
    run_id, module = train_tiny(store, FAM, FAM.config_cls.model_validate(raw))
    module.eval()
    assert any("\u0400" <= c <= "\u04ff" for c in "".join(module.translate_batch(["word 1"], 6)))  # it learned
    result = generate(module, "word 1", SamplingSettings(temperature=0.0, max_new_tokens=6))
    shown = [result.text] + [Path(a["path"]).read_text("utf-8") for a in store.artifacts(run_id, kind="text")]
    report = attention_report(module, "word 1")
    shown += [t for m in report.maps for t in m.query_tokens + m.key_tokens]
    assert not any("\u0400" <= c <= "\u04ff" for c in "".join(shown))


@pytest.mark.parametrize("family", ["t5", "bert"])
def test_batches_are_cut_to_their_longest_row_with_the_same_loss(family: str) -> None:
    """Padding past a batch's longest row is masked out of attention and loss: the loader drops it (less
    compute a step) and the model's loss on the cut batch is the full-width batch's."""
    from genlab.runner.train import prepare

    torch.manual_seed(0)
    cfg = FAMILIES[family].tiny_config()
    longer = {"max_source_len": 40} if family == "t5" else {"max_length": 64}  # room the texts leave empty
    _, dm, module = prepare(cfg.model_copy(update={"data": cfg.data.model_copy(update=longer)}))
    module.eval()
    full = tuple(t[:8] for t in dm.train_t)
    cut = next(iter(dm.train_dataloader()))
    assert cut[1].shape[1] < full[1].shape[1]
    assert int(cut[1][:, -1].sum()) > 0  # the longest row fills the last kept column
    cut = dm.trim(full)
    with torch.no_grad():
        if family == "t5":
            a, b = (module.model(input_ids=x[0], attention_mask=x[1], labels=x[2]).loss for x in (full, cut))
        else:  # the encoder's outputs (token logits or class scores) for the kept positions
            a, b = (module(x[0], x[1]) for x in (full, cut))
            a = a[:, : b.shape[1]] if a.dim() == 3 else a
    assert torch.allclose(a, b, atol=1e-5)


def test_length_grouped_batches_pad_less_and_still_shuffle() -> None:
    """Texts of similar length share a batch (fewer padded tokens a step); every epoch is a new grouping
    of the same examples, each seen at most once, in full batches."""
    from datamodules.images import BatchIndexSampler
    from datamodules.table_text import LengthGroupedSampler

    lengths = torch.randint(2, 40, (1000,), generator=torch.Generator().manual_seed(0))
    grouped = LengthGroupedSampler(lengths, 32, seed=3)
    plain = BatchIndexSampler(1000, 32, True, 3)
    epochs = []
    for epoch in (0, 1):
        grouped.set_epoch(epoch)
        batches = list(grouped)
        assert len(batches) == len(grouped) == 31 and all(len(b) == 32 for b in batches)
        seen = [i for b in batches for i in b]
        assert len(set(seen)) == len(seen)
        epochs.append(batches)
    assert epochs[0] != epochs[1]
    width = lambda sampler: sum(int(lengths[b].max()) for b in sampler) / len(sampler)  # noqa: E731
    assert width(grouped) < 0.8 * width(plain)
