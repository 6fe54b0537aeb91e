"""Pretrained starts and LoRA for the transformer families: the offline MiniLM package as a BERT start
(its own WordPiece, a new classifier head) fine-tuned with LoRA, and a t5 run's own Hugging Face folder
as a pretrained seq2seq start fine-tuned with LoRA. Only the adapters (and a new head) train, the
checkpoint keeps only them, and the run reloaded from the store answers as the trained module did."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.core.registry import FAMILIES
from genlab.runner.checkpoints import load_module
from genlab.store.runs import RunStore
from tests.helpers import train_tiny


def _trainable(module: torch.nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if p.requires_grad}


def _checkpoint_keys(store: RunStore, run_id: str) -> set[str]:
    ckpt = store.run_folder(run_id) / "checkpoints" / "last.ckpt"
    return set(torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"])


@pytest.mark.slow  # loads the 22 M-parameter MiniLM: about 20 s of CPU
def test_minilm_starts_a_lora_classifier(store: RunStore) -> None:
    fam = FAMILIES["bert"]
    config = fam.tiny_config()
    config.model = config.model.model_copy(
        update={"task": "classify", "source": "pretrained", "pretrained": "minilm", "finetune": "lora", "lora_r": 2}
    )
    run_id, module = train_tiny(store, fam, config)
    module.eval()
    assert len(module.tokenizer) == 30522  # MiniLM's own WordPiece, not one trained on the data
    assert module.base_model().config.hidden_size == 384 and module.base_model().config.num_hidden_layers == 6
    trainable = _trainable(module)
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert all("lora_" in k or "modules_to_save" in k for k in _checkpoint_keys(store, run_id))
    text = "and the lord spake unto moses"
    scores = module.classify(text)
    assert set(scores) == set(module.label_names()) and abs(sum(scores.values()) - 1) < 1e-5
    again = load_module(store, run_id, "last").eval()
    assert again.classify(text) == pytest.approx(scores, abs=1e-6)


@pytest.mark.slow  # two tiny runs, one from the other's folder
def test_a_t5_runs_own_folder_is_a_pretrained_start_for_lora(store: RunStore, tmp_path: Path) -> None:
    fam = FAMILIES["t5"]
    _, scratch = train_tiny(store, fam)
    folder = scratch.eval().export_hf(tmp_path / "hf")
    config = fam.tiny_config()
    config.model = config.model.model_copy(
        update={"source": "pretrained", "pretrained": str(folder), "finetune": "lora", "lora_r": 2}
    )
    run_id, module = train_tiny(store, fam, config)
    module.eval()
    trainable = _trainable(module)
    assert trainable and all("lora_" in n for n in trainable)
    assert all("lora_" in k for k in _checkpoint_keys(store, run_id))
    base = module.plain_model().state_dict()
    before = scratch.model.state_dict()
    assert any(not torch.equal(base[k], before[k]) for k in before if k in base)  # the merged adapters moved it
    sources = ["teddy bear", "flag of france"]
    again = load_module(store, run_id, "last").eval()
    assert again.translate_batch(sources, 4) == module.translate_batch(sources, 4)
