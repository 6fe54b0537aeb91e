"""The native GPT (lightning_modules/gpt_native.py): it learns, its KV cache gives the logits of a full
forward pass, its Hugging Face export loads with from_pretrained and gives the same logits, and
checkpoints of the earlier transformers-based GPT still load with the same outputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lightning_modules.gpt_native import GPTShape, NativeGPT, to_hf_model

VOCAB = 40


def shape(**kw) -> GPTShape:
    return GPTShape(**{"vocab_size": VOCAB, "block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 32, **kw})


def perturbed(s: GPTShape) -> NativeGPT:
    """A model whose every weight (norm gains and zero-initialised biases too) matters for the logits."""
    torch.manual_seed(0)
    model = NativeGPT(s).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def test_native_gpt_learns_a_repeated_sequence():
    torch.manual_seed(0)
    model = NativeGPT(shape())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.arange(33).remainder(7).unsqueeze(0).repeat(4, 1)  # period-7 sequence
    inp, target = x[:, :-1], x[:, 1:]
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model(inp).reshape(-1, VOCAB), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[0] > 3.0 and losses[-1] < 0.2


def test_native_gpt_has_no_biases_by_default_and_ties_the_embeddings():
    model = NativeGPT(shape())
    assert not [n for n, _ in model.named_parameters() if n.endswith(".bias")]
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    assert (
        isinstance(model.transformer.h[0].mlp.gelu, torch.nn.GELU)
        and model.transformer.h[0].mlp.gelu.approximate == "none"
    )


@pytest.mark.parametrize("bias", [False, True])
def test_kv_cache_gives_the_logits_of_a_full_forward_pass(bias):
    model = perturbed(shape(bias=bias))
    x = torch.randint(0, VOCAB, (2, 24))
    with torch.no_grad():
        full = model(x)
        cache = model.new_cache(2)
        steps = [model(x[:, :10], cache)] + [model(x[:, i : i + 1], cache) for i in range(10, 20)]
        steps.append(model(x[:, 20:], cache))  # several new tokens after a cached prefix
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="context window"):
        model(torch.zeros(1, 40, dtype=torch.long))


@pytest.mark.parametrize("bias", [False, True])
def test_hf_export_loads_with_from_pretrained_and_gives_the_same_logits(tmp_path, bias):
    from transformers import AutoModelForCausalLM

    model = perturbed(shape(bias=bias))
    to_hf_model(model, eos_id=0).save_pretrained(tmp_path / "hf")
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, VOCAB, (3, 32))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, model(x), atol=1e-4, rtol=1e-4)
    assert hf.config.activation_function == "gelu" and hf.config.tie_word_embeddings


def test_a_checkpoint_of_the_earlier_transformers_gpt2_loads_with_the_same_logits():
    from transformers import GPT2Config, GPT2LMHeadModel

    from genlab.families.gpt import GPTRunConfig
    from lightning_modules.gpt import GPTModule

    torch.manual_seed(0)
    old = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=2)).eval()
    with torch.no_grad():
        for p in old.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    config = GPTRunConfig(data={"block_size": 32}, model={"n_layer": 2, "n_head": 2, "n_embd": 32})
    info = {"vocab_size": VOCAB, "block_size": 32, "tokenizer": {"kind": "char"}, "eos_token_id": 0}
    module = GPTModule(config.model_dump(mode="json"), info)
    module.load_state_dict({f"model.{k}": v for k, v in old.state_dict().items()})
    x = torch.randint(0, VOCAB, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), old(x).logits, atol=1e-5, rtol=1e-5)
    assert module.model.shape.bias and module.model.shape.gelu == "tanh"


def test_generation_with_the_kv_cache_picks_what_full_recomputation_picks(home):
    from datamodules.text import TextDataModule
    from genlab.core.registry import FAMILIES
    from genlab.runner.train import build_module
    from lightning_modules.text_sampling import SamplingSettings, generate_ids, stop_token_ids

    cfg = FAMILIES["gpt"].tiny_config()
    dm = TextDataModule(cfg)
    dm.setup("fit")
    module = build_module(cfg, dm.info()).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # a confident, non-repeating model
    prompt = dm.val_xy[0][0, :5].tolist()
    new = module.context_window - len(prompt) - 1  # fills the window without sliding it
    settings = SamplingSettings(temperature=0.0, repetition_penalty=1.3, max_new_tokens=new)
    got = generate_ids(module, prompt, settings)
    ids, stops = list(prompt), stop_token_ids(module)
    with torch.no_grad():
        for _ in range(new):
            logits = module(torch.tensor([ids]))[0, -1]
            seen = torch.tensor(sorted(set(ids)))
            logits[seen] = torch.where(logits[seen] > 0, logits[seen] / 1.3, logits[seen] * 1.3)
            nxt = int(logits.argmax())
            if nxt in stops:
                break
            ids.append(nxt)
    assert got == ids[len(prompt) :] and len(got) > 3
