"""Text generation and chat for the text families (GPT, RNN): sampling, streaming, stop strings,
multi-turn chat with the model's chat template. Every text handed out goes through genlab.safety's gate
(screened chunk by chunk while streaming); TextStream is the raw stream the gate wraps.

A text module provides `next_logits(ids (1, t), cache) -> (logits (1, V), cache)`, `context_window`,
`tokenizer` and `is_chat`; everything here works through those, so the GPT and the RNN share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from genlab.errors import GenLabError
from genlab.safety import Gate, SafetyResult, ScreenedStream, policy_of


@dataclass
class SamplingSettings:
    """How the next token is picked. temperature 0 means greedy."""

    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 128
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise GenLabError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if self.top_k < 0:
            raise GenLabError(f"top_k must be >= 0 (0 turns it off), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise GenLabError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise GenLabError(f"repetition_penalty must be > 0 (1 turns it off), got {self.repetition_penalty}")
        if self.max_new_tokens < 1:
            raise GenLabError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        self.stop = [s for s in self.stop if s]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick_next(logits: torch.Tensor, previous: list[int], s: SamplingSettings, generator: torch.Generator | None) -> int:
    """One token id from logits (V,) after repetition penalty, temperature, top-k and top-p."""
    logits = logits.detach().float().cpu().clone()  # (V,)
    if s.repetition_penalty != 1.0 and previous:
        seen = torch.tensor(sorted(set(previous)), dtype=torch.long)
        seen = seen[seen < logits.numel()]
        vals = logits[seen]
        logits[seen] = torch.where(vals > 0, vals / s.repetition_penalty, vals * s.repetition_penalty)
    if s.temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.numel():
        kth = torch.topk(logits, s.top_k).values[-1]
        logits[logits < kth] = float("-inf")
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the tokens ranked above each one
        sorted_logits[before >= s.top_p] = float("-inf")
        logits = torch.full_like(logits, float("-inf")).scatter(0, order, sorted_logits)
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def stop_token_ids(module: Any) -> set[int]:
    tok = module.tokenizer
    ids = {tok.eos_token_id}
    if getattr(module, "is_chat", False) or tok.chat_template:
        end = tok.convert_tokens_to_ids("<|im_end|>")
        if isinstance(end, int) and end != tok.unk_token_id:
            ids.add(end)
    return {i for i in ids if isinstance(i, int) and i >= 0}


def stream_ids(module: Any, prompt_ids: list[int], s: SamplingSettings) -> Iterator[int]:
    """Yield new token ids one at a time; the KV cache is reused until the context window is full,
    then the last window is recomputed (sliding window)."""
    ctx = int(module.context_window)
    stops = stop_token_ids(module)
    ids = list(prompt_ids)
    if not ids:
        start = module.tokenizer.eos_token_id
        ids = [start if isinstance(start, int) else 0]
    generator = torch.Generator().manual_seed(int(s.seed)) if s.seed is not None else None
    device = module.device
    cache: Any = None
    in_cache = 0
    for _ in range(s.max_new_tokens):
        if cache is None or in_cache + 1 > ctx:
            window = ids[-(ctx - 1) :] if len(ids) >= ctx else ids
            feed, cache, in_cache = window, None, len(window)
        else:
            feed, in_cache = ids[-1:], in_cache + 1
        logits, cache = module.next_logits(torch.tensor([feed], dtype=torch.long, device=device), cache)
        nxt = pick_next(logits[0], ids, s, generator)
        if nxt in stops:
            return
        ids.append(nxt)
        yield nxt


def generate_ids(module: Any, prompt_ids: list[int], s: SamplingSettings) -> list[int]:
    with torch.no_grad():
        return list(stream_ids(module, prompt_ids, s))


def greedy_completions(module: Any, pairs: list[dict[str, Any]], max_new_tokens: int) -> list[str]:
    """Greedy continuations of held-out prompts (for BLEU/chrF), in eval mode, restoring the mode after."""
    settings = SamplingSettings(temperature=0.0, max_new_tokens=max_new_tokens)
    was_training = module.training
    module.eval()
    try:
        return [
            module.tokenizer.decode(generate_ids(module, p["prompt_ids"], settings), skip_special_tokens=True)
            for p in pairs
        ]
    finally:
        module.train(was_training)


class TextStream:
    """The model's raw text, piece by piece, as it is generated: UNSCREENED, so it is only ever handed to
    genlab.safety (Gate.stream / Gate.release), never to a person. Afterwards `text`, `stop_reason` and
    `n_tokens` describe the whole output. Stop strings are never included: text that could be the start
    of one is held back until it is clear."""

    def __init__(self, module: Any, prompt_ids: list[int], settings: SamplingSettings) -> None:
        self.module, self.prompt_ids, self.settings = module, prompt_ids, settings
        self.text = ""
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
        out: list[int] = []
        text = ""
        self.stop_reason = "max_new_tokens"
        with torch.no_grad():
            for t in stream_ids(self.module, self.prompt_ids, self.settings):
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


def encode_prompt(module: Any, prompt: str, *, chat: bool | None = None, system_prompt: str = "") -> list[int]:
    """Prompt ids: plain text for text models, the chat template with a generation prompt for chat models."""
    tok = module.tokenizer
    chat = module.is_chat if chat is None else chat
    if chat:
        return encode_messages(module, _messages(prompt, system_prompt))
    return list(tok(prompt, add_special_tokens=False)["input_ids"])


def _messages(user: str, system_prompt: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return msgs + [{"role": "user", "content": user}]


def encode_messages(module: Any, messages: list[dict[str, str]]) -> list[int]:
    tok = module.tokenizer
    if not tok.chat_template:
        raise GenLabError("This model was trained on plain text and has no chat template; use generate, not chat")
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tok(text, add_special_tokens=False)["input_ids"])


def complete(
    module: Any, prompt: str, settings: SamplingSettings, *, chat: bool | None = None, system_prompt: str = ""
) -> str:
    """The continuation only, UNSCREENED: for callers that pass it through genlab.safety themselves (the
    samples callback screens every sample before writing it); user-facing calls use generate()."""
    ids = encode_prompt(module, prompt, chat=chat, system_prompt=system_prompt)
    return TextStream(module, ids, settings).consume()


def sample_prompt_texts(module: Any) -> dict[str, str]:
    """The run's fixed sample prompts completed with its sampling settings (eval mode, seeded): what the
    samples callback stores every N steps for the text families."""
    cfg = module.run_config.model
    chat = bool(getattr(module, "is_chat", False))
    system = trained_system_prompt(module) if chat else ""
    was_training = module.training
    module.eval()
    try:
        out = {}
        for i, prompt in enumerate(cfg.sample_prompts):
            # One seed per prompt: with a shared one a small model's continuations converge to the same text.
            settings = SamplingSettings(
                temperature=cfg.sample_temperature,
                top_k=cfg.sample_top_k,
                max_new_tokens=cfg.sample_new_tokens,
                seed=module.run_config.seed + i,
            )
            reply = complete(module, prompt, settings, chat=chat, system_prompt=system)
            out[f"sample_{i}"] = f"User: {prompt}\nAssistant: {reply}" if chat else prompt + reply
        return out
    finally:
        module.train(was_training)


def stream(
    module: Any,
    prompt: str,
    settings: SamplingSettings | None = None,
    *,
    chat: bool | None = None,
    system_prompt: str = "",
    gate: Gate | None = None,
) -> ScreenedStream:
    """The screened continuation of `prompt`, released chunk by chunk (see genlab.safety.Gate.stream);
    `gate` defaults to the module's run config safety section, without an audit."""
    s = settings or SamplingSettings()
    ids = _fit(encode_prompt(module, prompt, chat=chat, system_prompt=system_prompt), module, s)
    gate = gate or Gate(policy_of(module))
    return gate.stream(lambda: TextStream(module, ids, s))


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


def trained_system_prompt(module: Any) -> str:
    """The system prompt a chat run was trained with (its data.system_prompt), else "": the default for
    chatting with it, since answers drift when the prompt differs from training."""
    data = getattr(getattr(module, "run_config", None), "data", None)
    return str(getattr(data, "system_prompt", "") or "")


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
    ) -> None:
        if not module.tokenizer.chat_template:
            raise GenLabError("This model was trained on plain text and has no chat template; use generate, not chat")
        self.module, self.system_prompt = module, system_prompt
        self.settings = settings or SamplingSettings(
            temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_new_tokens=200
        )
        self.max_context = min(int(module.context_window), max_context or 10**9)
        self.gate = gate or Gate(policy_of(module), path="chat")
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
            return TextStream(self.module, ids, s if s.seed is None or n == 0 else replace(s, seed=s.seed + n))

        def record(done: ScreenedStream) -> None:
            reply = done.text if done.withheld and not done.shown_model_text else done.shown_model_text
            self.history += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]

        return self.gate.stream(attempt, regenerations=self.gate.policy.max_regenerations, on_done=record)

    def send(self, user: str) -> GenerationResult:
        st = self.stream(user)
        st.consume()
        return _result(st, user)

    def reset(self) -> None:
        self.history = []
        self.dropped_turns = 0


def load_text_module(
    run_id: str | None = None, model: str | None = None, which: str | None = None, store: Any = None
) -> Any:
    """The module of a trained gpt/rnn run, or of a pretrained model (`model`: smollm2, a hub id, a folder)."""
    if (run_id is None) == (model is None):
        raise GenLabError("Give either a run id or --model (smollm2, a Hugging Face id or a local model folder)")
    if model is not None:
        from lightning_modules.gpt import pretrained_module

        return pretrained_module(model)
    from genlab.checkpoints import load_module
    from genlab.runs import RunStore

    store = store or RunStore()
    run = store.get(run_id)
    if run.family not in ("gpt", "rnn"):
        raise GenLabError(f"Run {run_id} is a {run.family} run; text generation needs a gpt or rnn run")
    return load_module(store, run_id, which)
