"""Ratings -> the next fine-tune: the chat set holds the liked answers and corrections (not the plain
thumbs-down), the new run fine-tunes the rated run's Hugging Face export and is its child, and the tuned
model's answer to a corrected prompt moves towards the correction."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

CORRECTION = "Ships sail at dawn."


def rate(store, run_id: str) -> None:
    from genlab.use.feedback import add_feedback

    add_feedback(store, run_id, prompt="When do ships sail?", output="zq zq", rating="down", correction=CORRECTION)
    add_feedback(store, run_id, prompt="Say hi", output="Hi there.", rating="up", source="playground")
    add_feedback(store, run_id, prompt="Tell me off", output="No way.", rating="down")


def conversations(path: Path) -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_feedback_set_holds_liked_answers_and_corrections_and_the_fine_tune_is_a_child(serve_store, runs):
    from genlab.use.feedback import feedback_summary, finetune_on_feedback

    parent = runs["chat"]
    rate(serve_store, parent)
    summary = feedback_summary(serve_store, parent)
    assert summary["corrections"] >= 1 and summary["up"] >= 1
    child = finetune_on_feedback(serve_store, parent, steps=2, launch=False)
    assert child.parent_id == parent and "feedback" in child.tags
    config = serve_store.load_config(child.id)
    export = serve_store.run_folder(parent) / "exports" / "hf"
    assert config.model.source == "pretrained" and Path(config.model.pretrained) == export
    assert (export / "config.json").is_file() and (export / "model.safetensors").is_file()
    assert (config.data.format, config.data.tokenizer) == ("chat", "pretrained")
    pairs = {(c[-2]["content"], c[-1]["content"]) for c in conversations(Path(config.data.name))}
    assert ("When do ships sail?", CORRECTION) in pairs and ("Say hi", "Hi there.") in pairs
    assert not any(answer == "No way." for _, answer in pairs), "a thumbs-down without a correction is not learned"
    serve_store.set_status(child.id, "cancelled")


def test_finetune_feedback_cli_explains_what_is_missing(serve_store, runs, capsys):
    from genlab.cli.main import main
    from genlab.use.feedback import add_feedback

    assert main(["finetune-feedback", runs["vae"]]) == 2
    assert "no ratings" in capsys.readouterr().err
    add_feedback(serve_store, runs["text"], prompt="x", output="y", rating="up")
    assert main(["finetune-feedback", runs["text"]]) == 2
    assert "needs a finished gpt run" in capsys.readouterr().err
    assert main(["finetune-feedback", runs["chat"], "--steps", "0"]) == 2


def answer_nll(module, prompt: str, answer: str) -> float:
    """Mean negative log-likelihood of the answer's tokens after the chat prompt (teacher forcing)."""
    from genlab.use.generate import encode_prompt

    ids = encode_prompt(module, prompt, chat=True)
    target = module.tokenizer(answer, add_special_tokens=False)["input_ids"]
    seq = torch.tensor([ids + target])[:, -module.context_window :]
    module.eval()
    with torch.no_grad():
        out = module.plain_model()(seq).logits[0]  # (T, V)
    logp = torch.log_softmax(out[:-1].float(), dim=-1)
    n = len(target)
    picked = logp[-n:].gather(1, seq[0, -n:].unsqueeze(1))
    return float(-picked.mean())


@pytest.mark.slow
def test_the_tuned_models_answer_moves_towards_the_correction(serve_store):
    from genlab.runner.checkpoints import load_module
    from genlab.runner.train import fit_module
    from genlab.use.feedback import add_feedback, finetune_on_feedback
    from tests.serve.conftest import tiny
    from tests.ui.conftest import train_in_process

    # a window that holds a whole templated exchange, so the answer tokens are learned
    parent = train_in_process(
        serve_store, tiny("gpt", data={"name": "genlab_chat", "max_chars": None, "block_size": 96})
    )
    assert parent.status == "completed", parent.error
    add_feedback(
        serve_store, parent.id, prompt="When do ships sail?", output="zq", rating="down", correction=CORRECTION
    )
    child = finetune_on_feedback(serve_store, parent.id, steps=40, launch=False)
    assert serve_store.load_config(child.id).optim.warmup_steps <= 4
    status, _ = fit_module(serve_store, child.id)
    assert status == "completed"
    losses = [v for _, v in serve_store.metric_series(child.id, "train/loss")]
    assert losses[-1] < losses[0], losses
    before = answer_nll(load_module(serve_store, parent.id, "last"), "When do ships sail?", CORRECTION)
    after = answer_nll(load_module(serve_store, child.id, "last"), "When do ships sail?", CORRECTION)
    assert math.isfinite(before) and after < 0.8 * before, (before, after)
