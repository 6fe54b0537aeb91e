"""The models a server process holds: each run's module loaded once, with one lock per model so that
concurrent requests never interleave on it (generation and sampling switch modes and reuse buffers).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from genlab.core.errors import GenLabError
from genlab.core.registry import get_family
from genlab.runner.checkpoints import load_module
from genlab.store.runs import Run, RunStore
from genlab.use.batching import BatchedDecoder, can_batch
from genlab.use.sample import capabilities, class_names, image_shape
from genlab.use.translate import available_directions


@dataclass
class ServedModel:
    run: Run
    module: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    decoder: Any = None  # a BatchedDecoder for text models that can decode many sequences at once
    name: str = ""  # the id clients call it by: the run asked for, whose champion `run` may be

    def __post_init__(self) -> None:
        self.name = self.name or self.run.id

    @property
    def source(self) -> Any:
        """Where a text stream takes its token ids: the batched decoder, else decoding alone (None)."""
        return self.decoder.submit if self.decoder is not None else None

    def decoding(self) -> AbstractContextManager[Any]:
        """Held while a text stream is consumed: the model's lock when requests decode one at a time;
        nothing with a batched decoder, whose own thread is the only one that touches the model."""
        return nullcontext() if self.decoder is not None else self.lock

    @property
    def capabilities(self) -> list[str]:
        return capabilities(self.module)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def info(self) -> dict[str, Any]:
        """What a client needs to call this model: its kind, what it can do and its shapes."""
        can = self.capabilities
        out: dict[str, Any] = {
            "run_id": self.name,
            "serving": self.run.id,  # the champion that answers for run_id (itself unless one was promoted)
            "name": self.run.name,
            "family": self.run.family,
            "kind": get_family(self.run.family).kind,
            "capabilities": can,
        }
        if "TextGenerator" in can:
            out["context_window"] = int(self.module.context_window)
            out["chat"] = bool(self.module.is_chat)
        if "ImageSampler" in can or "Reconstructor" in can or "Encoder" in can:
            channels, size = image_shape(self.module)
            out["image"] = {"channels": channels, "size": size}
            out["classes"] = class_names(self.module)
        if "LatentWalker" in can:
            out["latent_dim"] = int(self.module.latent_dim)
        if "Translator" in can:
            out["directions"] = list(available_directions(self.module))
        if "MultiDomainTranslator" in can:
            out["domains"] = list(self.module.domains())
        return out


def check_servable(store: RunStore, run_id: str) -> Run:
    """A finished run with a checkpoint to serve; a clear error otherwise."""
    run = store.get(run_id)
    if run.status != "completed":
        raise GenLabError(f"Run {run_id} is {run.status}; only completed runs can be served")
    return run


def load_served(store: RunStore, run_id: str, max_batch: int = 0, name: str = "") -> ServedModel:
    """The run's module in eval mode, served as `name` (default its own id); a text model that can decode
    many sequences at once gets a batched decoder of `max_batch` rows (0: one request at a time)."""
    run = check_servable(store, run_id)
    module = load_module(store, run_id, get_family(run.family).serve_checkpoint)
    module.eval()
    decoder = BatchedDecoder(module, max_batch) if max_batch > 0 and can_batch(module) else None
    return ServedModel(run, module, decoder=decoder, name=name or run_id)
