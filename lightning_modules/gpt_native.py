"""A compact GPT for training from scratch, in the spirit of nanoGPT's model.py: pre-norm blocks, no
biases by default, exact GELU, fused attention through scaled_dot_product_attention, tied input/output
embeddings, GPT-2's init (residual projections scaled by 1/sqrt(2 * n_layer)), and a preallocated KV
cache for generation.

Parameter names follow GPT-2 (transformer.wte, transformer.h.0.attn.c_attn, ...), so the weights map
one to one into transformers' GPT2LMHeadModel (`to_hf_model`) and back (`state_from_hf`): Conv1D keeps
its weight as (in, out), nn.Linear as (out, in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class GPTShape:
    vocab_size: int
    block_size: int
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    gelu: Literal["none", "tanh"] = "none"  # "tanh": GPT-2's approximation (weights from transformers' GPT-2)


class KVCache:
    """Keys and values of every layer for up to block_size positions, written in place: (L, B, H, T, hd)."""

    def __init__(self, shape: GPTShape, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        hd = shape.n_embd // shape.n_head
        size = (shape.n_layer, batch, shape.n_head, shape.block_size, hd)
        self.k = torch.empty(size, device=device, dtype=dtype)
        self.v = torch.empty(size, device=device, dtype=dtype)
        self.pos = 0  # positions filled

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, t, hd) after the cached positions; return all keys and values so far."""
        end = self.pos + k.shape[2]
        self.k[layer, :, :, self.pos : end] = k
        self.v[layer, :, :, self.pos : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class SlotKVCache:
    """Keys and values of `slots` independent sequences, each at its own position, for dynamic batching:
    (L, S, H, block_size, hd). Zero-filled: a masked-out position must hold numbers, not NaN garbage, since
    attention multiplies its zero weight by the value."""

    def __init__(self, shape: GPTShape, slots: int, device: torch.device, dtype: torch.dtype) -> None:
        hd = shape.n_embd // shape.n_head
        size = (shape.n_layer, slots, shape.n_head, shape.block_size, hd)
        self.k = torch.zeros(size, device=device, dtype=dtype)
        self.v = torch.zeros(size, device=device, dtype=dtype)
        self.slots = slots

    def move(self, src: int, dst: int) -> None:
        """Copy row `src` into row `dst` (the batched decoder keeps its rows in use a block from 0)."""
        self.k[:, dst] = self.k[:, src]
        self.v[:, dst] = self.v[:, src]

    def append(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, batch: SlotBatch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, T, hd) of row b at positions starts[b]..; return each row's keys and values
        up to the furthest position written: (B, H, batch.end, hd), a view of the cache when the rows are
        one block, else a gathered copy."""
        T = k.shape[2]
        if T == 1:  # one new token per row (decoding): one scatter for the whole batch
            self.k[layer, batch.rows, :, batch.pos[:, 0]] = k[:, :, 0]
            self.v[layer, batch.rows, :, batch.pos[:, 0]] = v[:, :, 0]
        else:  # a prompt (prefill), row by row
            for b, start in enumerate(batch.starts):
                self.k[layer, int(batch.rows[b]), :, start : start + T] = k[b]
                self.v[layer, int(batch.rows[b]), :, start : start + T] = v[b]
        rows = batch.block if batch.block is not None else batch.rows
        return self.k[layer, rows, :, : batch.end], self.v[layer, rows, :, : batch.end]


@dataclass(frozen=True)
class SlotBatch:
    """What every layer of one slot forward shares, made once: B sequences in cache rows `rows` (a `block`
    slice when they are consecutive), their new tokens at positions `pos` (B, T) from `starts`, and the
    attention mask (B, 1, T, end) letting each query see its own row's keys up to its position."""

    rows: torch.Tensor
    starts: list[int]
    pos: torch.Tensor
    block: slice | None
    end: int
    mask: torch.Tensor

    @classmethod
    def make(cls, rows: list[int], starts: list[int], T: int, device: torch.device) -> SlotBatch:
        B = len(rows)
        pos = torch.tensor(starts, device=device)[:, None] + torch.arange(T, device=device)  # (B, T)
        end = max(starts) + T
        mask = (torch.arange(end, device=device)[None, None, :] <= pos[:, :, None]).unsqueeze(1)
        block = slice(rows[0], rows[0] + B) if rows == list(range(rows[0], rows[0] + B)) else None
        return cls(torch.tensor(rows, device=device), list(starts), pos, block, end, mask)


class CausalSelfAttention(nn.Module):
    def __init__(self, s: GPTShape) -> None:
        super().__init__()
        self.n_head, self.dropout = s.n_head, s.dropout
        self.c_attn = nn.Linear(s.n_embd, 3 * s.n_embd, bias=s.bias)
        self.c_proj = nn.Linear(s.n_embd, s.n_embd, bias=s.bias)
        self.resid_dropout = nn.Dropout(s.dropout) if s.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        # one permute puts (q, k, v) first and heads before time: (3, B, H, T, hd)
        q, k, v = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4).unbind(0)
        mask, causal = None, True
        if cache is not None:
            start = cache.pos
            k, v = cache.append(layer, k, v)  # (B, H, start + T, hd)
            if T == 1:
                causal = False  # one new query sees every cached key
            elif start > 0:  # several new queries after a cached prefix: causal offset by `start`
                mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(start)
                causal = False
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)  # (B, H, T, hd)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))

    def forward_slots(self, x: torch.Tensor, cache: SlotKVCache, layer: int, batch: SlotBatch) -> torch.Tensor:
        """x (B, T, C) of B sequences at their own positions: each query sees its own row's keys up to its
        position."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4).unbind(0)
        k, v = cache.append(layer, k, v, batch)  # (B, H, end, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=batch.mask)  # (B, H, T, hd)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, s: GPTShape) -> None:
        super().__init__()
        self.c_fc = nn.Linear(s.n_embd, 4 * s.n_embd, bias=s.bias)
        self.gelu = nn.GELU(approximate=s.gelu)
        self.c_proj = nn.Linear(4 * s.n_embd, s.n_embd, bias=s.bias)
        self.dropout = nn.Dropout(s.dropout) if s.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, s: GPTShape) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(s.n_embd, bias=s.bias)
        self.attn = CausalSelfAttention(s)
        self.ln_2 = nn.LayerNorm(s.n_embd, bias=s.bias)
        self.mlp = MLP(s)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))

    def forward_slots(self, x: torch.Tensor, cache: SlotKVCache, layer: int, batch: SlotBatch) -> torch.Tensor:
        x = x + self.attn.forward_slots(self.ln_1(x), cache, layer, batch)
        return x + self.mlp(self.ln_2(x))


class NativeGPT(nn.Module):
    """forward(idx (B, T)) -> logits (B, T, V); with a KVCache, idx holds only the new tokens."""

    def __init__(self, shape: GPTShape) -> None:
        super().__init__()
        if shape.n_embd % shape.n_head:
            raise ValueError(f"n_head ({shape.n_head}) must divide n_embd ({shape.n_embd})")
        self.shape = shape
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(shape.vocab_size, shape.n_embd),
                "wpe": nn.Embedding(shape.block_size, shape.n_embd),
                "drop": nn.Dropout(shape.dropout) if shape.dropout > 0 else nn.Identity(),
                "h": nn.ModuleList([Block(shape) for _ in range(shape.n_layer)]),
                "ln_f": nn.LayerNorm(shape.n_embd, bias=shape.bias),
            }
        )
        self.lm_head = nn.Linear(shape.n_embd, shape.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # residual projections: GPT-2's 1/sqrt(2 * n_layer)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * shape.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def new_cache(self, batch: int = 1) -> KVCache:
        p = self.lm_head.weight
        return KVCache(self.shape, batch, p.device, p.dtype)

    def new_slot_cache(self, slots: int) -> SlotKVCache:
        p = self.lm_head.weight
        return SlotKVCache(self.shape, slots, p.device, p.dtype)

    def forward_slots(self, idx: torch.Tensor, cache: SlotKVCache, rows: list[int], starts: list[int]) -> torch.Tensor:
        """Logits of the last position (B, V) for B sequences, each in its own cache row, whose new tokens
        idx (B, T) start at their own positions (inference only: no dropout)."""
        T = idx.shape[1]
        if max(starts) + T > self.shape.block_size:
            raise ValueError(f"{max(starts) + T} positions exceed the context window of {self.shape.block_size}")
        batch = SlotBatch.make(rows, starts, T, idx.device)
        h = self.transformer
        x = h.wte(idx) + h.wpe(batch.pos)  # (B, T, C)
        for i, layer in enumerate(h.h):
            x = layer.forward_slots(x, cache, i, batch)
        return self.lm_head(h.ln_f(x[:, -1]))  # (B, V)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T = idx.shape
        start = cache.pos if cache is not None else 0
        if start + T > self.shape.block_size:
            raise ValueError(f"{start + T} positions exceed the context window of {self.shape.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        h = self.transformer
        x = h.drop(h.wte(idx) + h.wpe(pos))  # (B, T, C)
        for i, block in enumerate(h.h):
            x = block(x, cache, i)
        if cache is not None:
            cache.pos += T
        return self.lm_head(h.ln_f(x))  # (B, T, V)


# -- Hugging Face GPT-2 <-> native ---------------------------------------------------------------------

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_config(shape: GPTShape, eos_id: int | None) -> Any:
    """transformers' GPT2Config of the same network (exact GELU unless the weights came from GPT-2)."""
    from transformers import GPT2Config

    config = GPT2Config(
        vocab_size=shape.vocab_size,
        n_positions=shape.block_size,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        activation_function="gelu_new" if shape.gelu == "tanh" else "gelu",
        resid_pdrop=shape.dropout,
        embd_pdrop=shape.dropout,
        attn_pdrop=shape.dropout,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    config._attn_implementation = "sdpa"
    return config


def hf_state(model: NativeGPT) -> dict[str, torch.Tensor]:
    """The native weights under GPT2LMHeadModel's names and layouts; missing biases become zeros."""
    out: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to transformer.wte.weight
        out[name] = t.t().contiguous() if name.endswith(_CONV1D) else t.clone()
    if not model.shape.bias:
        for name, t in list(out.items()):
            if (
                name.endswith(".weight")
                and name.startswith("transformer.")
                and not name.startswith(("transformer.wte", "transformer.wpe"))
            ):
                width = t.shape[1] if name.endswith(_CONV1D) else t.shape[0]
                out[name.removesuffix(".weight") + ".bias"] = torch.zeros(width, dtype=t.dtype)
    return out


def to_hf_model(model: NativeGPT, eos_id: int | None = None) -> Any:
    """A transformers GPT2LMHeadModel holding these weights (same logits; loads with from_pretrained)."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(hf_config(model.shape, eos_id))
    missing, unexpected = hf.load_state_dict(hf_state(model), strict=False)
    left = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")]
    if left or unexpected:
        raise RuntimeError(f"GPT-2 weight map is incomplete: missing {left}, unexpected {unexpected}")
    hf.tie_weights()
    return hf.eval()


def is_hf_state(state: dict[str, torch.Tensor], prefix: str = "") -> bool:
    """True when a state dict holds GPT2LMHeadModel weights (Conv1D c_attn: (C, 3C)), not native ones."""
    w = state.get(prefix + "transformer.h.0.attn.c_attn.weight")
    return w is not None and w.shape[1] == 3 * w.shape[0]


def state_from_hf(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """GPT2LMHeadModel weights (checkpoints of GenLab's earlier transformers-based GPT) in native layout."""
    out = {}
    for name, t in state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # GPT-2's causal-mask buffers
        out[name] = t.t().contiguous() if name.startswith(prefix) and name.endswith(_CONV1D) else t
    if prefix + "lm_head.weight" not in out and prefix + "transformer.wte.weight" in out:
        out[prefix + "lm_head.weight"] = out[prefix + "transformer.wte.weight"]
    return out
