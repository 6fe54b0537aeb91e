"""Character-level LSTM/GRU: the classic baseline, trained on the same (x, y) batches as the GPT.

Training runs on the packed blocks with a fresh hidden state per block (truncated BPTT of block_size),
so users can compare it with the GPT on equal data and see what attention buys.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from datamodules.text import IGNORE, tokenizer_from_spec
from lightning_modules.base import GenLabModule


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


class RNNModule(GenLabModule):
    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        cfg = self.run_config.model
        self.net = CharRNN(int(data_info["vocab_size"]), cfg.embed_dim, cfg.hidden, cfg.n_layer, cfg.cell, cfg.dropout)
        self.block_size = int(data_info["block_size"])
        self._tokenizer: Any = None
        self._val_sum, self._val_count = 0.0, 0

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = tokenizer_from_spec(self.data_info["tokenizer"])
        return self._tokenizer

    @property
    def context_window(self) -> int:
        return 1 << 30  # a recurrent state has no window

    @property
    def is_chat(self) -> bool:
        return self.data_info.get("format") == "chat"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        """Logits of 8 fixed token ids (1, 8, V): what reload and export parity compare."""
        ids = (torch.arange(8) * 7 % int(self.data_info["vocab_size"])).unsqueeze(0).to(self.device)
        return self(ids)

    def loss_sums(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(x)  # (B, T, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        return loss, (y != IGNORE).sum()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        total, count = self.loss_sums(*batch)
        loss = total / count.clamp(min=1)
        self.log_step({"train/loss": loss}, batch[0].shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_sum, self._val_count = 0.0, 0

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        total, count = self.loss_sums(*batch)
        self._val_sum += float(total)
        self._val_count += int(count)
        self.log(
            "val/loss",
            total / count.clamp(min=1),
            on_epoch=True,
            on_step=False,
            prog_bar=True,
            batch_size=int(count.clamp(min=1)),
        )

    def on_validation_epoch_end(self) -> None:
        if self._val_count:
            self.log("val/perplexity", math.exp(min(self._val_sum / self._val_count, 50.0)))
        if getattr(self.trainer, "sanity_checking", False):
            return
        pairs = self.data_info.get("eval_pairs") or []
        if pairs:
            from genlab.evaluate import bleu_chrf

            scores = bleu_chrf(self.eval_generate(pairs), [p["reference"] for p in pairs])
            self.log("val/bleu", scores["bleu"])
            self.log("val/chrf", scores["chrf"])

    @torch.no_grad()
    def next_logits(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        logits, state = self.net(ids, cache)
        return logits[:, -1, :].float(), state

    def eval_generate(self, pairs: list[dict[str, Any]]) -> list[str]:
        from genlab.generate import greedy_completions

        return greedy_completions(self, pairs, self.run_config.data.eval_new_tokens)

    def sample_texts(self) -> dict[str, str]:
        from genlab.generate import sample_prompt_texts

        return sample_prompt_texts(self)
