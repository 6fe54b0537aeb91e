"""What the text families share in their torch-free configs: the seconds-long tiny setting (tests, docs,
quick tries) and the default sweep space of a text run. No family is named here."""

from __future__ import annotations

from typing import Any

# The seconds-long text setting (tests, docs, quick tries).
TINY_TEXT_DATA = {
    "name": "shakespeare",
    "max_chars": 20_000,
    "block_size": 32,
    "batch_size": 8,
    "vocab_size": 300,
    "eval_pairs": 2,
    "eval_prompt_tokens": 8,
    "eval_new_tokens": 8,
}
TINY_TEXT_TRAINER = {
    "max_epochs": 1,
    "max_steps": 4,
    "limit_train_batches": 4,
    "limit_val_batches": 2,
    "log_every_n_steps": 1,
}

# The default search space of a text sweep.
TEXT_SWEEP_SPACE: dict[str, Any] = {
    "optim.lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "optim.weight_decay": {"low": 0.0, "high": 0.2},
    "model.dropout": {"low": 0.0, "high": 0.3},
}
