"""Generate text with an exported language model, through the same decode loop as the run.

Adapters give an exported runner the TextGenerator surface (tokenizer, context_window, next_logits)
so genlab.use.generate's stream_ids / generate_ids drive it unchanged: greedy or sampled, the same stop
tokens and window handling as the PyTorch model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Run = Callable[[list[np.ndarray]], list[np.ndarray]]


class ExportedLM:
    """A causal LM exported over a fixed context T: every call feeds the window right-padded to T and
    reads the logits at the last real position (causal attention ignores the padding after it)."""

    device = torch.device("cpu")

    def __init__(self, run: Run, context: int, tokenizer: Any, pad_id: int, is_chat: bool = False) -> None:
        self.run, self.context_window, self.tokenizer = run, int(context), tokenizer
        self.pad_id, self.is_chat = int(pad_id), is_chat

    def next_logits(self, ids: torch.Tensor, cache: list[int] | None) -> tuple[torch.Tensor, list[int]]:
        seq = (cache or []) + ids[0].tolist()
        window = seq[-self.context_window :]
        row = np.full((1, self.context_window), self.pad_id, dtype=np.int32)
        row[0, : len(window)] = window
        logits = self.run([row])[0]  # (1, T, V)
        return torch.from_numpy(np.asarray(logits[:, len(window) - 1, :], dtype=np.float32)), seq


class ExportedStep:
    """A recurrent step function (token, state -> logits, state) exported on its own: the state is
    carried between calls as the cache."""

    device = torch.device("cpu")
    context_window = 1 << 30

    def __init__(self, run: Run, state_shapes: list[tuple[int, ...]], tokenizer: Any, is_chat: bool = False) -> None:
        self.run, self.state_shapes, self.tokenizer, self.is_chat = run, state_shapes, tokenizer, is_chat

    def next_logits(self, ids: torch.Tensor, cache: list[np.ndarray] | None) -> tuple[torch.Tensor, list[np.ndarray]]:
        state = cache or [np.zeros(s, dtype=np.float32) for s in self.state_shapes]
        logits = None
        for tok in ids[0].tolist():
            out = self.run([np.array([tok], dtype=np.int32), *state])
            logits, state = out[0], [np.asarray(s, dtype=np.float32) for s in out[1:]]
        assert logits is not None, "next_logits needs at least one token"
        return torch.from_numpy(np.asarray(logits, dtype=np.float32).reshape(1, -1)), state
