"""What the text families (GPT, char-RNN) share: the token loss on (x, y) batches, validation loss,
perplexity and BLEU/chrF, the tokenizer from data_info, and the sample and evaluation hooks.

A subclass builds its network and provides forward(x) -> logits (B, T, V), next_logits(ids, cache) for
generation and context_window.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from datamodules.tokenizers import IGNORE, tokenizer_from_spec
from genlab.metrics.text import bleu_chrf
from lightning_modules.base import GenLabModule
from lightning_modules.text_sampling import greedy_completions, sample_prompt_texts


class TextLMModule(GenLabModule):
    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.block_size = int(data_info["block_size"])
        self._tokenizer: Any = None
        self._val_sum, self._val_count = 0.0, 0

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = tokenizer_from_spec(self.data_info["tokenizer"])
        return self._tokenizer

    @property
    def is_chat(self) -> bool:
        return self.data_info.get("format") == "chat"

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        """Logits of 8 fixed token ids (1, 8, V): what reload and export parity compare."""
        ids = (torch.arange(8) * 7 % int(self.data_info["vocab_size"])).unsqueeze(0).to(self.device)
        return self(ids)

    # -- loss, training and validation --------------------------------------------------------------

    def loss_sums(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed token cross-entropy and the number of tokens it covers (targets -100 excluded)."""
        logits = self(x)  # (B, T, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        return loss, (y != IGNORE).sum()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        total, count = self.loss_sums(x, y)
        loss = total / count.clamp(min=1)
        self.log_step({"train/loss": loss}, x.shape[0])
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
            mean = self._val_sum / self._val_count
            self.log("val/perplexity", math.exp(min(mean, 50.0)), sync_dist=True)
        if getattr(self.trainer, "sanity_checking", False):
            return
        pairs = self.data_info.get("eval_pairs") or []
        if pairs:
            scores = bleu_chrf(self.eval_generate(pairs), [p["reference"] for p in pairs])
            self.log("val/bleu", scores["bleu"])
            self.log("val/chrf", scores["chrf"])

    # -- generation hooks ---------------------------------------------------------------------------

    def eval_generate(self, pairs: list[dict[str, Any]]) -> list[str]:
        return greedy_completions(self, pairs, self.run_config.data.eval_new_tokens)

    def sample_texts(self) -> dict[str, str]:
        return sample_prompt_texts(self)
