"""Attention weights as a plain record, and how transformers' models give them: the AttentionViewer
capability (lightning_modules/base.py) returns AttentionMap lists, which the engine
(genlab/use/attention.py) turns into heat maps and head summaries.

transformers' SDPA kernels return no weights, so a model is switched to its eager attention for the one
forward pass that reads them, and back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch


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
