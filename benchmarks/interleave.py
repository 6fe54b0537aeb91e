"""Timing GenLab against a plain loop in one process: one plain step after each GenLab step.

Both see the machine at the same moment, so a noisy host slows both alike (rounds run one after the
other varied by more than the gap being measured). GenLab's time is the wall time from the first timed
step to the last, less the plain steps run inside it; on a GPU every plain step is synchronised, so
its time is its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch


class Interleave(L.Callback):
    def __init__(self, plain_step: Callable[[], None], warmup: int, cuda: bool = False) -> None:
        self.plain_step, self.warmup, self.cuda = plain_step, warmup, cuda
        self.seen = 0
        self.t0 = self.t1 = self.plain_s = 0.0

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def on_train_batch_start(self, *args: Any) -> None:
        if self.seen == self.warmup:
            self._sync()
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.seen += 1
        self._sync()
        t = time.perf_counter()
        self.plain_step()
        self._sync()
        if self.seen > self.warmup:
            self.plain_s += time.perf_counter() - t
        self.t1 = time.perf_counter()  # the last step's end: steady state, without the end-of-run save

    def seconds(self) -> tuple[float, float]:
        """(GenLab seconds, plain seconds) over the timed steps."""
        return self.t1 - self.t0 - self.plain_s, self.plain_s
