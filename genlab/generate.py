"""Text generation and chat for the text families (GPT, RNN): sampling, streaming, stop strings,
multi-turn chat with the model's chat template, and safety screening of every returned text.

A text module provides `next_logits(ids (1, t), cache) -> (logits (1, V), cache)`, `context_window`,
`tokenizer` and `is_chat`; everything here works through those, so the GPT and the RNN share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch

from genlab.checkpoints import load_module
from genlab.errors import GenLabError
from genlab.registry import FAMILIES, get_family
from genlab.runs import RunStore
from genlab.safety import SafetyResult, screen
from lightning_modules.gpt import pretrained_module
from lightning_modules.text_sampling import (
    SamplingSettings,
    encode_messages,
    encode_prompt,
    stream_ids,
    trained_system_prompt,
)

# The engine's text API: the sampling settings and the trained system prompt come from the models'
# sampling core and are part of what callers (CLI, UI, server) use from here.
__all__ = [
    "ChatSession",
    "GenerationResult",
    "SamplingSettings",
    "TextStream",
    "generate",
    "load_text_module",
    "stream",
    "trained_system_prompt",
    "withheld_message",
]


class TextStream:
    """Iterate to receive text pieces as they are generated; afterwards `text`, `safety`, `stop_reason`
    and `n_tokens` describe the whole output. Stop strings are never shown: text that could be the start
    of one is held back until it is clear."""

    def __init__(
        self,
        module: Any,
        prompt_ids: list[int],
        settings: SamplingSettings,
        *,
        screen_text: bool = True,
        on_done: Any = None,
    ) -> None:
        self.module, self.prompt_ids, self.settings, self.screen_text = module, prompt_ids, settings, screen_text
        self.on_done = on_done
        self.text = ""
        self.n_tokens = 0
        self.stop_reason = ""
        self.safety: SafetyResult | None = None
        self._done = False

    def __iter__(self) -> Iterator[str]:
        if self._done:
            raise GenLabError("This stream was already consumed")
        tok, stops = self.module.tokenizer, self.settings.stop
        hold = max((len(x) for x in stops), default=1) - 1
        shown = 0
        out: list[int] = []
        text = ""
        self.stop_reason = "max_new_tokens"
        with torch.no_grad():
            for t in stream_ids(self.module, self.prompt_ids, self.settings):
                out.append(t)
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
        text = text.rstrip("\ufffd")
        if len(text) > shown:
            yield text[shown:]
        self.text, self.n_tokens, self._done = text, len(out), True
        if self.screen_text:
            self.safety = screen(text)
        if self.on_done is not None:
            self.on_done(self)

    def consume(self) -> str:
        for _ in self:
            pass
        return self.text


@dataclass
class GenerationResult:
    """What generate() and chat return. `text` is withheld when the screener flags it (raw_text keeps it)."""

    text: str
    raw_text: str
    prompt: str
    n_tokens: int
    stop_reason: str
    safety: SafetyResult | None
    withheld: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "safety"}
        d["safety"] = self.safety.to_dict() if self.safety else None
        return d


def withheld_message(safety: SafetyResult) -> str:
    return f"[withheld: the text was flagged by the {safety.screener} screener; {safety.summary()}]"


def _result(stream: TextStream, prompt: str, withhold_flagged: bool) -> GenerationResult:
    withheld = bool(stream.safety and stream.safety.flagged and withhold_flagged)
    text = withheld_message(stream.safety) if withheld else stream.text  # type: ignore[arg-type]
    return GenerationResult(text, stream.text, prompt, stream.n_tokens, stream.stop_reason, stream.safety, withheld)


def stream(
    module: Any,
    prompt: str,
    settings: SamplingSettings | None = None,
    *,
    chat: bool | None = None,
    system_prompt: str = "",
) -> TextStream:
    """A TextStream of the continuation of `prompt`; its `.safety` is set once it is consumed."""
    s = settings or SamplingSettings()
    ids = encode_prompt(module, prompt, chat=chat, system_prompt=system_prompt)
    return TextStream(module, _fit(ids, module, s), s)


def generate(
    module: Any,
    prompt: str,
    settings: SamplingSettings | None = None,
    *,
    chat: bool | None = None,
    system_prompt: str = "",
    withhold_flagged: bool = True,
) -> GenerationResult:
    """Generate a continuation (or a chat reply) and screen it."""
    st = stream(module, prompt, settings, chat=chat, system_prompt=system_prompt)
    st.consume()
    return _result(st, prompt, withhold_flagged)


def _fit(ids: list[int], module: Any, s: SamplingSettings) -> list[int]:
    """Keep the prompt's last tokens so prompt + new tokens fit the context window (when they can)."""
    ctx = int(module.context_window)
    room = max(1, ctx - min(s.max_new_tokens, ctx // 2))
    return ids[-room:]


class ChatSession:
    """Multi-turn chat with the model's chat template and a system prompt. Old turns are dropped (then
    the prompt is cut from the left) so the prompt plus max_new_tokens fits the context window."""

    def __init__(
        self,
        module: Any,
        system_prompt: str = "",
        settings: SamplingSettings | None = None,
        max_context: int | None = None,
        withhold_flagged: bool = True,
    ) -> None:
        if not module.tokenizer.chat_template:
            raise GenLabError("This model was trained on plain text and has no chat template; use generate, not chat")
        self.module, self.system_prompt = module, system_prompt
        self.settings = settings or SamplingSettings(
            temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_new_tokens=200
        )
        self.max_context = min(int(module.context_window), max_context or 10**9)
        self.withhold_flagged = withhold_flagged
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

    def stream(self, user: str) -> TextStream:
        ids = self._prompt_ids(user)
        s = SamplingSettings(
            **{**self.settings.to_dict(), "max_new_tokens": min(self.settings.max_new_tokens, self.max_context // 2)}
        )

        def record(done: TextStream) -> None:
            self.history += [{"role": "user", "content": user}, {"role": "assistant", "content": done.text}]

        return TextStream(self.module, ids, s, on_done=record)

    def send(self, user: str) -> GenerationResult:
        st = self.stream(user)
        st.consume()
        return _result(st, user, self.withhold_flagged)

    def reset(self) -> None:
        self.history = []
        self.dropped_turns = 0


def load_text_module(
    run_id: str | None = None, model: str | None = None, which: str | None = None, store: RunStore | None = None
) -> Any:
    """The module of a trained text run, or of a pretrained model (`model`: smollm2, a hub id, a folder)."""
    if (run_id is None) == (model is None):
        raise GenLabError("Give either a run id or --model (smollm2, a Hugging Face id or a local model folder)")
    if model is not None:
        return pretrained_module(model)
    store = store or RunStore()
    run = store.get(run_id)
    if not get_family(run.family).can("TextGenerator"):
        able = " or ".join(f.name for f in FAMILIES.values() if f.can("TextGenerator"))
        raise GenLabError(f"Run {run_id} is a {run.family} run; text generation needs a {able} run")
    return load_module(store, run_id, which)
