"""GPT and char-RNN families: tiny fits through the real trainer, checkpoint reload, HF export,
LoRA (adapters-only checkpoints, merge gives the same logits), perplexity on a known case, presets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from genlab.core.parsing import load_config
from genlab.core.registry import FAMILIES

ROOT = Path(__file__).resolve().parent.parent
TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name.\n"
) * 30


def tiny(family: str, **sections):
    cfg = FAMILIES[family].tiny_config().model_dump(mode="json")
    for section, values in sections.items():
        cfg[section].update(values)
    return FAMILIES[family].config_cls.model_validate(cfg)


@pytest.mark.parametrize("family", ["gpt", "rnn"])
def test_tiny_fit_logs_loss_perplexity_bleu_and_stores_text_samples(store, family):
    from genlab.runner.checkpoints import load_module
    from genlab.runner.train import fit

    run = store.create_run(tiny(family))
    assert fit(store, run.id) == "completed"
    metrics = store.last_metrics([run.id])[run.id]
    for key in ("train/loss", "val/loss", "val/perplexity", "val/bleu", "val/chrf"):
        assert key in metrics
    assert metrics["val/perplexity"] == pytest.approx(math.exp(metrics["val/loss"]), rel=1e-3)
    texts = store.artifacts(run.id, kind="text")
    assert texts and Path(store.run_folder(run.id) / texts[-1]["path"]).read_text().startswith("ROMEO:")
    # the checkpoint rebuilds the same model (weights_only load, tokenizer from the hyper-parameters)
    module = load_module(store, run.id, "last")
    x = torch.randint(0, module.data_info["vocab_size"], (2, 16))
    with torch.no_grad():
        assert module(x).shape == (2, 16, module.data_info["vocab_size"])
    assert module.tokenizer.decode(module.tokenizer("thou art")["input_ids"]) == "thou art"


def test_gpt_run_exports_a_folder_plain_transformers_loads_with_the_same_logits(store):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genlab.runner.checkpoints import load_module
    from genlab.runner.train import fit

    run = store.create_run(tiny("gpt"))
    fit(store, run.id)
    folder = store.run_folder(run.id) / "exports" / "hf"
    assert (folder / "model.safetensors").is_file() and (folder / "generation_config.json").is_file()
    assert (store.run_folder(run.id) / "tokenizer" / "tokenizer.json").is_file()  # the trained tokenizer is kept
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    module = load_module(store, run.id, "last")
    ids = torch.tensor([tok("ROMEO: what light")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, module(ids), atol=1e-5, rtol=1e-5)
    assert hf.config.tie_word_embeddings and hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()
    assert hf.config._attn_implementation == "sdpa"


@pytest.fixture
def tiny_pretrained(tmp_path) -> Path:
    """A small GPT-2 saved as a local Hugging Face folder with the GPT-2 tokenizer: a stand-in for a hub model."""
    from datamodules.tokenizers import tokenizer_from_spec
    from genlab.families.gpt import GPTModelConfig
    from lightning_modules.gpt import build_scratch_model
    from lightning_modules.gpt_native import to_hf_model

    tok = tokenizer_from_spec({"kind": "gpt2", "chat": False})
    torch.manual_seed(0)
    model = to_hf_model(
        build_scratch_model(GPTModelConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0), len(tok), 64),
        tok.eos_token_id,
    )
    folder = tmp_path / "tiny-gpt2"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def lora_module(folder: Path, text_path: Path, finetune: str = "lora"):
    from datamodules.text import TextDataModule
    from genlab.families.gpt import GPTRunConfig
    from lightning_modules.gpt import GPTModule

    cfg = GPTRunConfig(
        data={
            "source": "file",
            "name": str(text_path),
            "block_size": 32,
            "batch_size": 4,
            "eval_pairs": 2,
            "eval_prompt_tokens": 8,
            "eval_new_tokens": 4,
        },
        model={
            "source": "pretrained",
            "pretrained": str(folder),
            "finetune": finetune,
            "lora_r": 4,
            "sample_prompts": ["ROMEO:"],
            "sample_new_tokens": 4,
        },
        trainer={"max_steps": 3, "limit_val_batches": 1, "log_every_n_steps": 1},
    )
    dm = TextDataModule(cfg)
    dm.setup("fit")
    return cfg, dm, GPTModule(cfg.model_dump(mode="json"), dm.info())


def test_lora_merge_gives_the_same_logits_as_the_unmerged_model(home, tiny_pretrained, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    _, dm, module = lora_module(tiny_pretrained, text)
    assert module.is_lora
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():  # make the adapters matter (B starts at zero)
        for n, p in module.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    module.eval()
    x = dm.val_xy[0][:2]
    with torch.no_grad():
        before = module(x)
        base = module.model.get_base_model()
        with module.model.disable_adapter():
            assert not torch.allclose(module(x), before, atol=1e-4)  # adapters change the output
        exported = module.export_hf(tmp_path / "hf")
        module.merge_lora()
        after = module(x)
    assert not module.is_lora and module.model is base
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        torch.testing.assert_close(
            AutoModelForCausalLM.from_pretrained(exported)(x).logits, before, atol=1e-5, rtol=1e-5
        )
    assert (tmp_path / "lora_adapter" / "adapter_config.json").is_file()


def test_lora_checkpoints_hold_only_the_adapters_and_reload_exactly(store, tiny_pretrained, tmp_path):
    from genlab.runner.checkpoints import load_checkpoint, load_module
    from genlab.runner.train import fit

    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    cfg, _, _ = lora_module(tiny_pretrained, text)
    run = store.create_run(cfg)
    assert fit(store, run.id) == "completed"
    ckpt_path = store.run_folder(run.id) / "checkpoints" / "last.ckpt"
    state = load_checkpoint(ckpt_path)["state_dict"]
    assert state and all("lora_" in k for k in state)
    module = load_module(store, run.id, "last")
    for k, v in state.items():
        torch.testing.assert_close(module.state_dict()[k], v)


def test_full_finetune_of_a_local_pretrained_folder_trains_every_weight(home, tiny_pretrained, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    _, _, module = lora_module(tiny_pretrained, text, finetune="full")
    assert not module.is_lora and all(p.requires_grad for p in module.parameters())
    assert module.tokenizer("Hello world", add_special_tokens=False)["input_ids"] == [15496, 995]  # the model's own


def test_perplexity_of_a_uniform_model_equals_the_vocabulary_size(home):
    from datamodules.text import TextDataModule
    from genlab.metrics.text import perplexity, perplexity_from_losses
    from genlab.runner.train import build_module

    assert perplexity_from_losses(4 * math.log(4.0), 4) == pytest.approx(4.0)
    cfg = tiny("gpt")
    dm = TextDataModule(cfg)
    dm.setup("fit")
    module = build_module(cfg, dm.info())
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()  # zero embeddings (tied with the output layer): every logit is 0, a uniform distribution
    result = perplexity(module, dm.val_dataloader())
    assert result["perplexity"] == pytest.approx(dm.info()["vocab_size"], rel=1e-4)


def test_gpt_weight_decay_skips_biases_and_norms(home):
    from datamodules.text import TextDataModule
    from genlab.runner.train import build_module

    cfg = tiny("gpt")
    dm = TextDataModule(cfg)
    dm.setup("fit")
    opt = build_module(cfg, dm.info()).configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == cfg.optim.weight_decay and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])


@pytest.mark.parametrize("preset", ["gpt_shakespeare", "gpt_smollm2_finetune", "gpt_smollm2_chat", "rnn_shakespeare"])
def test_text_presets_validate_and_round_trip_through_yaml(preset):
    import yaml

    from genlab.core.parsing import parse_config

    cfg = load_config(ROOT / "configs" / f"{preset}.yaml")
    assert parse_config(yaml.safe_load(cfg.to_yaml())) == cfg
