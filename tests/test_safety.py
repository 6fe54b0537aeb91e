"""Safety screening: which screener ran and why, scores and verdicts, and withholding of flagged output."""

from __future__ import annotations

import pytest
import torch

from genlab.safety import DETOXIFY_HELP, screen, screen_many, screener_status


def test_without_a_local_detoxify_checkpoint_the_fallback_runs_and_says_why(monkeypatch):
    from genlab import assets

    if assets.detoxify_checkpoint() is not None:
        pytest.skip("a Detoxify checkpoint is installed on this machine")
    status = screener_status()
    assert status["screener"] == "alt-profanity-check"
    assert DETOXIFY_HELP in status["note"] and "misses threats" in status["note"]


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
