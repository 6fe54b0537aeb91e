"""Safety screening: which screener ran and why, scores and verdicts, and withholding of flagged output."""

from __future__ import annotations

import pytest
import torch

from genlab.safety import DETOXIFY_HELP, screen, screen_many, screener_status


@pytest.fixture
def fresh_screener(monkeypatch, tmp_path):
    """No Detoxify checkpoint anywhere (empty torch hub dir), and the screener chosen anew."""
    from genlab import safety

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("GENLAB_DETOXIFY_CKPT", raising=False)
    monkeypatch.delenv("GENLAB_DETOXIFY_HF_CONFIG", raising=False)
    safety.reset_screener()
    yield
    safety.reset_screener()


def test_without_a_local_detoxify_checkpoint_the_fallback_runs_and_says_why(fresh_screener):
    status = screener_status()
    assert status["screener"] == "alt-profanity-check"
    assert DETOXIFY_HELP in status["note"] and "misses threats" in status["note"]


def _detoxify_format_checkpoint(folder, threat_bias: float):
    """A checkpoint in Detoxify's own format (config + state_dict) around a tiny BERT with a local
    config and tokenizer: the real checkpoint is a GitHub release file that cannot be fetched here."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "you", "are", "a", "lovely", "morning", "i", "will"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    config.num_labels = 6
    config.save_pretrained(folder)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    state = model.state_dict()
    state["classifier.weight"].zero_()
    state["classifier.bias"].copy_(torch.tensor([-8.0, -8.0, -8.0, threat_bias, -8.0, -8.0]))
    classes = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    args = {"model_type": str(folder), "model_name": "BertForSequenceClassification"}
    args |= {"tokenizer_name": "BertTokenizer", "num_classes": 6}
    path = folder / "toxic_original.ckpt"
    torch.save(
        {"config": {"arch": {"args": args}, "dataset": {"args": {"classes": classes}}}, "state_dict": state}, path
    )
    return path


@pytest.mark.parametrize("threat_bias,flagged", [(-8.0, False), (8.0, True)])
def test_a_local_detoxify_checkpoint_is_used_with_its_categories(
    fresh_screener, monkeypatch, tmp_path, threat_bias, flagged
):
    from genlab import safety

    ckpt = _detoxify_format_checkpoint(tmp_path / "detoxify", threat_bias)
    monkeypatch.setenv("GENLAB_DETOXIFY_CKPT", str(ckpt))
    monkeypatch.setenv("GENLAB_DETOXIFY_HF_CONFIG", str(ckpt.parent))
    safety.reset_screener()
    assert screener_status()["screener"] == "detoxify"
    result = screen("you are a lovely morning")
    assert result.screener == "detoxify" and result.flagged is flagged
    assert set(result.scores) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
    assert (result.scores["threat"] > 0.99) is flagged and result.scores["insult"] < 0.01
    assert ("highest threat" in result.summary()) is flagged


def test_clean_text_passes_and_profanity_is_flagged_with_scores():
    clean, rude = screen_many(["What a lovely morning in Verona.", "you are a fucking idiot"])
    assert not clean.flagged and rude.flagged
    assert set(rude.scores) == set(clean.scores) and all(0.0 <= v <= 1.0 for v in rude.scores.values())
    assert rude.screener == clean.screener and "FLAGGED" in rude.summary()
    assert screen("").flagged is False  # empty output is screened too, without errors


def test_a_model_that_learned_profanity_has_its_output_withheld(home, tmp_path):
    """Overfit a tiny char-RNN on one rude line, then ask it to continue: the reply is flagged and withheld."""
    import lightning as L

    from datamodules.text import TextDataModule
    from genlab.families.rnn import RNNRunConfig
    from genlab.generate import SamplingSettings, generate
    from lightning_modules.rnn import RNNModule

    line = "you are a fucking idiot and a damn fool\n"
    path = tmp_path / "rude.txt"
    path.write_text(line * 60)
    cfg = RNNRunConfig(
        data={"source": "file", "name": str(path), "block_size": 32, "batch_size": 8, "eval_pairs": 0},
        model={"n_layer": 1, "hidden": 64, "embed_dim": 16, "dropout": 0.0},
        optim={"lr": 0.01, "schedule": "constant", "warmup_steps": 0},
        trainer={"max_steps": 150},
    )
    dm = TextDataModule(cfg)
    dm.setup("fit")
    torch.manual_seed(0)
    module = RNNModule(cfg.model_dump(mode="json"), dm.info())
    L.Trainer(
        max_steps=150,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    ).fit(module, datamodule=dm)
    module.eval()
    result = generate(module, "you are a", SamplingSettings(temperature=0, max_new_tokens=30))
    assert "fucking" in result.raw_text
    assert result.safety.flagged and result.withheld
    assert "fucking" not in result.text and result.text.startswith("[withheld")
    kept = generate(module, "you are a", SamplingSettings(temperature=0, max_new_tokens=30), withhold_flagged=False)
    assert kept.text == kept.raw_text and kept.safety.flagged
