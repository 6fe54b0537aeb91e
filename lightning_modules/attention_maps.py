"""Attention weights as a plain record, and how transformers' models give them: the AttentionViewer
capability (lightning_modules/base.py) returns AttentionMap lists, which the engine
(genlab/use/attention.py) turns into heat maps and head summaries.

transformers' SDPA kernels return no weights, so a model is switched to its eager attention for the one
forward pass that reads them, and back afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from genlab.core.errors import GenLabError


@dataclass
class AttentionMap:
    """One kind of attention of one input: weights (layers, heads, queries, keys), rows sum to 1."""

    kind: str  # "self" (encoder / GPT), "encoder", "decoder", "cross"
    query_tokens: list[str]
    key_tokens: list[str]
    weights: torch.Tensor  # (L, H, Tq, Tk) float32 on the CPU
    causal: bool = False

    @property
    def n_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.weights.shape[1])


@contextmanager
def eager_attention(model: Any) -> Iterator[None]:
    """Run `model` (a transformers PreTrainedModel) with eager attention inside the block."""
    before = getattr(model.config, "_attn_implementation", None)
    switch = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


def stack_layers(per_layer: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """transformers' per-layer (1, H, Tq, Tk) tuple -> one (L, H, Tq, Tk) float32 CPU tensor."""
    return torch.stack([a[0].detach().float().cpu() for a in per_layer])


def token_strings(tokenizer: Any, ids: list[int]) -> list[str]:
    """Readable token labels for heat-map axes (byte-level BPE's Ġ shown as a leading space)."""
    return [t.replace("Ġ", " ").replace("Ċ", "\\n") for t in tokenizer.convert_ids_to_tokens(ids)]


def fused_attention_weights(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """The causal attention weights (L, H, T, T) of a native GPT (lightning_modules/gpt_native.py), whose
    fused SDPA kernel returns none: each block's q and k are read from its c_attn output and the softmax
    of q k^T / sqrt(d) under the causal mask is recomputed."""
    captured: list[torch.Tensor] = []
    hooks = [
        b.attn.c_attn.register_forward_hook(lambda m, i, o: captured.append(o.detach())) for b in model.transformer.h
    ]
    try:
        model(ids)
    finally:
        for h in hooks:
            h.remove()
    n_head, (_, t) = model.shape.n_head, ids.shape
    causal = torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()
    layers = []
    for qkv in captured:
        c = qkv.shape[-1] // 3
        q, k, _ = qkv[0].view(t, 3, n_head, c // n_head).permute(1, 2, 0, 3).unbind(0)  # (H, T, hd) each
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(c // n_head)
        layers.append(torch.softmax(scores.masked_fill(~causal, float("-inf")), -1).float().cpu())
    return torch.stack(layers)


def causal_lm_attention(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """The attention weights (L, H, T, T) of a transformers causal LM (eager attention for this pass)."""
    with eager_attention(model):
        out = model(input_ids=ids, output_attentions=True, use_cache=False)
    return stack_layers(out.attentions)


def position_table(model: Any, n: int) -> tuple[str, torch.Tensor]:
    """A causal LM's position picture: its learned table (wpe), else its rotary frequencies cos(p * f)."""
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)
    if wpe is not None:
        return "learned position embeddings: position (rows) x dimension (columns)", wpe.weight[
            :n
        ].detach().float().cpu()
    rotary = next((m for name, m in model.named_modules() if name.endswith("rotary_emb")), None)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise GenLabError("This model has neither a position table nor rotary embeddings to draw")
    freqs = torch.arange(n, dtype=torch.float32)[:, None] * rotary.inv_freq.detach().float().cpu()[None, :]
    return "rotary position encoding cos(position x frequency): position (rows) x frequency (columns)", torch.cos(freqs)
