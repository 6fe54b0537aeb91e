"""Text evaluation: BLEU and chrF (sacrebleu) on prompt -> continuation pairs, and perplexity."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def bleu_chrf(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (0-100) of generated texts against one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return {"bleu": 0.0, "chrf": 0.0}
    hyps = [h.strip() for h in hypotheses]
    refs = [[r.strip() for r in references]]
    bleu = sacrebleu.corpus_bleu(hyps, refs)
    chrf = sacrebleu.corpus_chrf(hyps, refs)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}


def perplexity_from_losses(total_nll: float, n_tokens: int) -> float:
    """exp(mean token negative log-likelihood, in nats)."""
    if n_tokens <= 0:
        raise ValueError("perplexity needs at least one token")
    return math.exp(total_nll / n_tokens)


def perplexity(module: Any, batches: Iterable[tuple[Any, Any]]) -> dict[str, float]:
    """Token-weighted loss and perplexity of a text module (GPT or RNN) over (x, y) batches."""
    import torch

    total, count = 0.0, 0
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for x, y in batches:
                s, c = module.loss_sums(x.to(module.device), y.to(module.device))
                total += float(s)
                count += int(c)
    finally:
        module.train(was_training)
    return {"loss": total / max(1, count), "perplexity": perplexity_from_losses(total, count), "tokens": count}
