"""Text generation and chat for the text families (GPT, RNN): sampling, streaming, stop strings,
multi-turn chat with the model's chat template. Every text handed out goes through genlab.safety.gate's gate
(screened chunk by chunk while streaming); TextStream is the raw stream the gate wraps.

A text module provides `next_logits(ids (1, t), cache) -> (logits (1, V), cache)`, `context_window`,
`tokenizer` and `is_chat`; everything here works through those, so the GPT and the RNN share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES, get_family
from genlab.runner.build import module_class
from genlab.runner.checkpoints import load_module
from genlab.safety.gate import Gate, SafetyResult, ScreenedStream, policy_of
from genlab.store.runs import RunStore
from lightning_modules.base import HuggingFaceLoadable
from lightning_modules.text_sampling import (
    SamplingSettings,
    encode_messages,
    encode_prompt,
    sampling_for,
    stream_ids,
    trained_system_prompt,
)

# The engine's text API: the sampling settings and the trained system prompt come from the models'
# sampling core and are part of what callers (CLI, UI, server) use from here.
__all__ = [
    "ChatSession",
    "GenerationResult",
    "IdSource",
    "SamplingSettings",
    "TextStream",
    "generate",
    "load_text_module",
    "sampling_for",
    "stream",
    "trained_system_prompt",
]


# Where new token ids come from: (prompt ids, settings) -> the ids one at a time. The default decodes
# alone with the module's KV cache (stream_ids); a server passes its batched decoder's submit, so many
# requests share each forward pass (genlab/use/batching.py).
IdSource = Callable[[list[int], SamplingSettings], Iterator[int]]


def decode_alone(module: Any) -> IdSource:
    def source(prompt_ids: list[int], settings: SamplingSettings) -> Iterator[int]:
        with torch.no_grad():
            yield from stream_ids(module, prompt_ids, settings)

    return source


class TextStream:
    """The model's raw text, piece by piece, as it is generated: UNSCREENED, so it is only ever handed to
    genlab.safety.gate (Gate.stream / Gate.release), never to a person. Afterwards `text`, `stop_reason` and
    `n_tokens` describe the whole output. Stop strings are never included: text that could be the start
    of one is held back until it is clear."""

    def __init__(
        self, module: Any, prompt_ids: list[int], settings: SamplingSettings, source: IdSource | None = None
    ) -> None:
        self.module, self.prompt_ids, self.settings = module, prompt_ids, settings
        self.source = source or decode_alone(module)
        self.text = ""
        self.token_ids: list[int] = []  # the generated ids, stop ids excluded
        self.n_tokens = 0
        self.stop_reason = ""
        self._done = False

    def __iter__(self) -> Iterator[str]:
        if self._done:
            raise GenLabError("This stream was already consumed")
        self._done = True
        tok, stops = self.module.tokenizer, self.settings.stop
        hold = max((len(x) for x in stops), default=1) - 1
        shown = 0
        out: list[int] = self.token_ids
        text = ""
        self.stop_reason = "max_new_tokens"
        ids = self.source(self.prompt_ids, self.settings)
        try:
            for t in ids:
                out.append(t)
                self.n_tokens = len(out)
                text = tok.decode(out, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # a multi-byte character is not complete yet
                cut = min((i for i in (text.find(x) for x in stops) if i >= 0), default=-1)
                if cut >= 0:
                    text = text[:cut]
                    self.stop_reason = "stop_string"
                    break
                safe_end = max(shown, len(text) - hold)
                if safe_end > shown:
                    yield text[shown:safe_end]
                    shown = safe_end
            else:
                if len(out) < self.settings.max_new_tokens:
                    self.stop_reason = "end_of_text"
        finally:
            close = getattr(ids, "close", None)
            if close is not None:
                close()  # a stop string, a flagged chunk or a gone client ends the decoding too
        text = text.rstrip("\ufffd")
        if len(text) > shown:
            yield text[shown:]
        self.text = text

    def consume(self) -> str:
        for _ in self:
            pass
        return self.text


@dataclass
class GenerationResult:
    """What generate() and ChatSession.send() return: only what may be shown. `text` is the screened
    text (with a notice where the gate withheld or annotated some); the withheld text itself is never
    here (the audit keeps its sha256)."""

    text: str
    prompt: str
    n_tokens: int
    stop_reason: str
    safety: SafetyResult | None
    action: str = "pass"
    attempts: int = 1

    @property
    def withheld(self) -> bool:
        return self.action == "blocked"

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "safety"}
        d["withheld"] = self.withheld
        d["safety"] = self.safety.to_dict() if self.safety else None
        return d


def _result(stream: ScreenedStream, prompt: str) -> GenerationResult:
    return GenerationResult(
        stream.text, prompt, stream.n_tokens, stream.stop_reason, stream.safety, stream.action, stream.attempts
    )


def stream(
    module: Any,
    prompt: str,
    settings: SamplingSettings | None = None,
    *,
    chat: bool | None = None,
    system_prompt: str = "",
    gate: Gate | None = None,
    source: IdSource | None = None,
) -> ScreenedStream:
    """The screened continuation of `prompt`, released chunk by chunk (see genlab.safety.gate.Gate.stream);
    `gate` defaults to the module's run config safety section, without an audit; `source` to decoding alone.
    The stream's `prompt_tokens` counts the prompt as the model saw it."""
    s = settings or SamplingSettings()
    ids = _fit(encode_prompt(module, prompt, chat=chat, system_prompt=system_prompt), module, s)
    gate = gate or Gate(policy_of(module))
    st = gate.stream(lambda: TextStream(module, ids, s, source))
    st.prompt_tokens = len(ids)
    return st


def generate(
    module: Any,
    prompt: str,
    settings: SamplingSettings | None = None,
    *,
    chat: bool | None = None,
    system_prompt: str = "",
    gate: Gate | None = None,
) -> GenerationResult:
    """Generate a continuation (or a chat reply), screened: only what the gate released is returned."""
    st = stream(module, prompt, settings, chat=chat, system_prompt=system_prompt, gate=gate)
    st.consume()
    return _result(st, prompt)


def _fit(ids: list[int], module: Any, s: SamplingSettings) -> list[int]:
    """Keep the prompt's last tokens so prompt + new tokens fit the context window (when they can)."""
    ctx = int(module.context_window)
    room = max(1, ctx - min(s.max_new_tokens, ctx // 2))
    return ids[-room:]


class ChatSession:
    """Multi-turn chat with the model's chat template and a system prompt. Old turns are dropped (then
    the prompt is cut from the left) so the prompt plus max_new_tokens fits the context window.

    Every reply goes through the gate: a reply flagged before anything was shown is generated again up
    to safety.max_regenerations times, then refused. The history keeps only what was shown of the
    model's text (a refused reply is kept as the refusal), so withheld text never feeds the next turn."""

    def __init__(
        self,
        module: Any,
        system_prompt: str = "",
        settings: SamplingSettings | None = None,
        max_context: int | None = None,
        gate: Gate | None = None,
        source: IdSource | None = None,
    ) -> None:
        if not module.tokenizer.chat_template:
            raise GenLabError("This model was trained on plain text and has no chat template; use generate, not chat")
        self.module, self.system_prompt = module, system_prompt
        self.settings = settings or SamplingSettings(
            temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_new_tokens=200
        )
        self.max_context = min(int(module.context_window), max_context or 10**9)
        self.gate = gate or Gate(policy_of(module), path="chat")
        self.source = source
        self.history: list[dict[str, str]] = []
        self.dropped_turns = 0

    def _prompt_ids(self, user: str) -> list[int]:
        history = self.history + [{"role": "user", "content": user}]
        budget = self.max_context - min(self.settings.max_new_tokens, self.max_context // 2)
        while True:
            msgs = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else []) + history
            ids = encode_messages(self.module, msgs)
            if len(ids) <= budget or len(history) <= 1:
                return ids[-budget:]
            # drop the oldest exchange (a user turn and the reply after it)
            cut = 2 if len(history) > 2 and history[1]["role"] == "assistant" else 1
            history = history[cut:]
            self.dropped_turns += cut

    def stream(self, user: str) -> ScreenedStream:
        ids = self._prompt_ids(user)
        s = SamplingSettings(
            **{**self.settings.to_dict(), "max_new_tokens": min(self.settings.max_new_tokens, self.max_context // 2)}
        )
        seeds = iter(range(10**6))

        def attempt() -> TextStream:
            # a regeneration with a fixed seed must not repeat the flagged reply
            n = next(seeds)
            return TextStream(
                self.module, ids, s if s.seed is None or n == 0 else replace(s, seed=s.seed + n), self.source
            )

        def record(done: ScreenedStream) -> None:
            reply = done.text if done.withheld and not done.shown_model_text else done.shown_model_text
            self.history += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]

        st = self.gate.stream(attempt, regenerations=self.gate.policy.max_regenerations, on_done=record)
        st.prompt_tokens = len(ids)
        return st

    def send(self, user: str) -> GenerationResult:
        st = self.stream(user)
        st.consume()
        return _result(st, user)

    def reset(self) -> None:
        self.history = []
        self.dropped_turns = 0


def pretrained_text_module(model: str, *, system_prompt: str = "") -> Any:
    """An untouched pretrained model (no run behind it) in the first registered family that can both load one
    (HuggingFaceLoadable) and generate text (TextGenerator)."""
    for family in FAMILIES.values():
        if family.can("HuggingFaceLoadable") and family.can("TextGenerator"):
            cls = module_class(family)
            if isinstance(cls, type) and issubclass(cls, HuggingFaceLoadable):
                return cls.from_pretrained_model(model, system_prompt=system_prompt)
    raise GenLabError("no registered family loads pretrained text models (HuggingFaceLoadable and TextGenerator)")


def load_text_module(
    run_id: str | None = None, model: str | None = None, which: str | None = None, store: RunStore | None = None
) -> Any:
    """The module of a trained text run, or of a pretrained model (`model`: smollm2, a hub id, a folder)."""
    if (run_id is None) == (model is None):
        raise GenLabError("Give either a run id or --model (smollm2, a Hugging Face id or a local model folder)")
    if model is not None:
        return pretrained_text_module(model)
    store = store or RunStore()
    run = store.get(run_id)
    if not get_family(run.family).can("TextGenerator"):
        able = " or ".join(f.name for f in FAMILIES.values() if f.can("TextGenerator"))
        raise GenLabError(f"Run {run_id} is a {run.family} run; text generation needs a {able} run")
    return load_module(store, run_id, which)
