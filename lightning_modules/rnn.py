"""Character-level LSTM/GRU: the classic baseline, trained on the same (x, y) batches as the GPT.

Training runs on the packed blocks with a fresh hidden state per block (truncated BPTT of block_size),
so users can compare it with the GPT on equal data and see what attention buys.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from datamodules.text import TextDataModule
from genlab.families.rnn import FAMILY
from lightning_modules.export_nets import ExportNet, RecurrentStep
from lightning_modules.text_base import TextLMModule


class CharRNN(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, cell: str, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        h, state = self.rnn(self.embed(x), state)  # (B, T, H)
        return self.head(self.drop(h)), state  # (B, T, V)


class RNNModule(TextLMModule):
    family = FAMILY
    datamodule_class = TextDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        cfg = self.run_config.model
        self.net = CharRNN(int(data_info["vocab_size"]), cfg.embed_dim, cfg.hidden, cfg.n_layer, cfg.cell, cfg.dropout)

    @property
    def context_window(self) -> int:
        return 1 << 30  # a recurrent state has no window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]

    @torch.no_grad()
    def next_logits(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        logits, state = self.net(ids, cache)
        return logits[:, -1, :].float(), state

    def export_nets(self) -> dict[str, ExportNet]:
        """The step function (token, state -> logits, state): a phone generates one character per call."""
        cfg = self.run_config.model
        vocab, n = int(self.data_info["vocab_size"]), 8
        g = torch.Generator().manual_seed(self.run_config.seed)
        tokens = ((torch.arange(n) * 7 + 3) % vocab).to(torch.int32)  # (8,)
        state = [torch.tanh(torch.randn(n, cfg.n_layer, cfg.hidden, generator=g))]  # (8, L, H) each
        names = ["h"]
        if cfg.cell == "lstm":
            state.append(torch.randn(n, cfg.n_layer, cfg.hidden, generator=g))
            names.append("c")
        state_meta = {"meaning": "recurrent state, batch-first (1, layers, hidden); start from zeros"}
        meta = {
            "cell": cfg.cell,
            "layers": cfg.n_layer,
            "hidden": cfg.hidden,
            "vocab_size": vocab,
            "inputs": {"token": {"meaning": "the current token id"}, **{k: state_meta for k in names}},
            "outputs": {"logits": {"meaning": "next-token logits"}, **{f"{k}_out": state_meta for k in names}},
        }
        return {
            "step": ExportNet(
                RecurrentStep(self.net.embed, self.net.rnn, self.net.head).eval(),
                (tokens, *state),
                ["token", *names],
                ["logits", *(f"{k}_out" for k in names)],
                {"logits": "logits", **{f"{k}_out": "tensor" for k in names}},
                meta,
            )
        }
