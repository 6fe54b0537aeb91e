"""Dynamic batching for text models that serve many clients: one thread per model decodes every active
request together, one forward pass per step, each sequence in its own row of a KV cache at its own
position. Requests join between steps (their prompt is prefilled into a free row) and leave when they
end (end of text, max_new_tokens, or the consumer closed the stream: a stop string, a flagged chunk, a
client that went away), which frees the row for the next one.

Each request keeps its own sampling settings and seeded generator, so a request's tokens do not depend
on who else is decoding. `submit` returns the ids as an iterator: TextStream consumes it exactly as it
consumes decoding alone (genlab/use/generate.py IdSource), and the safety gate screens the text in the
request's own thread. The model must implement BatchDecoder (lightning_modules/base.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from lightning_modules.base import BatchDecoder
from lightning_modules.text_sampling import SamplingSettings, TokenPicker, pick_rows, stop_token_ids

log = logging.getLogger("genlab.batching")
DEFAULT_MAX_BATCH = 16
_END = object()


@dataclass
class _Request:
    prompt_ids: list[int]
    settings: SamplingSettings
    out: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # decoding state, touched only by the decoder thread
    ids: list[int] = field(default_factory=list)
    row: int = -1
    pos: int = 0  # positions of this row held in the cache
    made: int = 0
    picker: TokenPicker | None = None


def can_batch(module: Any) -> bool:
    """True when the module decodes several sequences at their own positions in one pass."""
    if not isinstance(module, BatchDecoder):
        return False
    return module.slot_cache(1) is not None


class BatchedDecoder:
    """Decodes the requests of one text model together (at most `max_batch` at once; more wait their turn)."""

    def __init__(self, module: Any, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.module, self.max_batch = module, max_batch
        self.context = int(module.context_window)
        self.stops = stop_token_ids(module)
        self.device = module.device
        self.cache = module.slot_cache(max_batch)
        self.free = list(range(max_batch))
        self.pending: list[_Request] = []
        self.active: list[_Request] = []
        self.cond = threading.Condition()
        self.steps = 0  # forward passes of the decode loop (for tests and benchmarks)
        self.widest = 0  # the most sequences decoded in one pass
        self._closed = False
        self._retiring = False  # replaced (a promotion): finish the requests it has, then stop
        self._thread = threading.Thread(target=self._loop, name="genlab-batch-decoder", daemon=True)
        self._thread.start()

    # -- the consumer side -------------------------------------------------------------------------

    def submit(self, prompt_ids: list[int], settings: SamplingSettings) -> Iterator[int]:
        """The new token ids of this prompt, one at a time, decoded together with the other requests."""
        ids = list(prompt_ids)
        if not ids:
            start = self.module.tokenizer.eos_token_id
            ids = [start if isinstance(start, int) else 0]
        req = _Request(ids, settings)
        with self.cond:
            if self._closed:
                raise RuntimeError("this decoder is closed")
            self.pending.append(req)
            self.cond.notify()
        return self._tokens(req)

    def _tokens(self, req: _Request) -> Iterator[int]:
        try:
            while (item := req.out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            req.cancelled.set()  # closed early or done: the row is freed before the next step

    def retire(self) -> None:
        """Stop once the requests it holds are done (a newer model took its place; streams in flight end
        normally on this one)."""
        with self.cond:
            self._retiring = True
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self._closed = True
            self.cond.notify()
        self._thread.join(timeout=30)

    # -- the decoder thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        with torch.inference_mode():
            while True:
                with self.cond:
                    self._drop_cancelled()
                    while not self.active and not self.pending and not self._closed and not self._retiring:
                        self.cond.wait()
                    if self._retiring and not self.active and not self.pending:
                        self._closed = True
                    if self._closed:
                        for req in self.active + self.pending:
                            req.out.put(_END)
                        return
                    joining = self.pending[: len(self.free)]
                    self.pending = self.pending[len(joining) :]
                    for req in joining:
                        req.row = min(self.free)  # the rows in use stay a block from 0 (see _release)
                        self.free.remove(req.row)
                try:
                    for req in joining:
                        self._prefill(req)
                    self._step()
                except Exception as err:  # a failed pass ends the requests in it, never the thread
                    log.exception("batched decoding failed")
                    with self.cond:
                        for req in {id(r): r for r in self.active + joining}.values():
                            req.out.put(err)
                            self._finish(req)

    def _drop_cancelled(self) -> None:
        for req in [r for r in self.active if r.cancelled.is_set()]:
            self._finish(req)
        self.pending = [r for r in self.pending if not r.cancelled.is_set()]

    def _finish(self, req: _Request) -> None:
        req.out.put(_END)
        if req in self.active:
            self.active.remove(req)
        if req.row >= 0:
            self._release(req.row)
            req.row = -1

    def _release(self, row: int) -> None:
        """Free `row`, keeping the rows in use a block from 0: the active request in the highest row moves
        into the freed one (its cache row copied). A step then reads the batch's keys and values as a slice
        of the cache (a view) instead of gathering scattered rows, a third of a step's time at 8 rows."""
        top = max((r for r in self.active if r.row > row), key=lambda r: r.row, default=None)
        if top is not None:
            self.cache.move(top.row, row)
            row, top.row = top.row, row
        self.free.append(row)

    def _prefill(self, req: _Request) -> None:
        """Put the prompt (its last window) into the request's row and pick its first token."""
        s = req.settings
        gen = torch.Generator(device=self.device).manual_seed(int(s.seed)) if s.seed is not None else None
        req.picker = TokenPicker(s, gen)
        req.picker.see(req.prompt_ids)
        req.ids = list(req.prompt_ids)
        self.active.append(req)
        self._refill(req)

    def _refill(self, req: _Request) -> None:
        window = req.ids[-(self.context - 1) :] if len(req.ids) >= self.context else req.ids
        ids = torch.tensor([window], dtype=torch.long, device=self.device)
        logits = self.module.slot_logits(self.cache, ids, [req.row], [0])  # (1, V)
        req.pos = len(window)
        assert req.picker is not None
        self._emit(req, req.picker(logits[0]))

    def _step(self) -> None:
        """One forward pass over every active request whose cache still has room (the others slide)."""
        with self.cond:
            self._drop_cancelled()
        batch = [r for r in self.active if r.pos + 1 <= self.context]
        for req in [r for r in self.active if r.pos + 1 > self.context]:
            self._refill(req)  # the context is full: recompute the last window (as decoding alone does)
        if not batch:
            return
        batch.sort(key=lambda r: r.row)  # rows ascending: a block of the cache, read as a slice
        ids = torch.tensor([[r.ids[-1]] for r in batch], dtype=torch.long, device=self.device)  # (B, 1)
        logits = self.module.slot_logits(self.cache, ids, [r.row for r in batch], [r.pos for r in batch])
        self.steps += 1
        self.widest = max(self.widest, len(batch))
        picks = pick_rows([r.picker for r in batch], logits)  # type: ignore[misc]
        for req, nxt in zip(batch, picks, strict=True):
            req.pos += 1
            self._emit(req, nxt)

    def _emit(self, req: _Request, nxt: int) -> None:
        assert req.picker is not None
        if nxt in self.stops:
            with self.cond:
                self._finish(req)
            return
        req.ids.append(nxt)
        req.picker.see([nxt])
        req.made += 1
        req.out.put(nxt)
        if req.made >= req.settings.max_new_tokens:
            with self.cond:
                self._finish(req)
