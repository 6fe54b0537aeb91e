"""The text sampling core the text families share: how the next token is picked, streaming token ids
with the KV cache, greedy completions for BLEU/chrF, prompts in the chat template, and the fixed sample
prompts stored during training.

It works on any TextGenerator (lightning_modules/base.py): `next_logits(ids (1, t), cache) -> (logits
(1, V), cache)`, `context_window`, `tokenizer` and `is_chat`. Nothing here screens text: what reaches a
person goes through the engine's generation API (genlab/use/generate.py) and its safety gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from genlab.core.errors import GenLabError

# Below this, dividing float32 logits by the temperature overflows (1e-320 is 0 in float32): such
# temperatures pick the likeliest token, as 0 does.
GREEDY_BELOW = 1e-3


@dataclass
class SamplingSettings:
    """How the next token is picked. temperature 0 (or below GREEDY_BELOW) means greedy."""

    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 128
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        numbers = {"temperature": self.temperature, "top_p": self.top_p, "repetition_penalty": self.repetition_penalty}
        for name, value in numbers.items():
            if not math.isfinite(value):
                raise GenLabError(f"{name} must be a finite number, got {value}")
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


def default_sampling(module: Any) -> SamplingSettings:
    """The model's own decoding defaults, the same in the CLI, the app, the REST API and exports: what its
    optional `generation_defaults()` says (a chat run: its base model's recommended settings), else the
    sampling above (a from-scratch model)."""
    own = getattr(module, "generation_defaults", None)
    return SamplingSettings(**(own() if callable(own) else {}))


def sampling_for(module: Any, **overrides: Any) -> SamplingSettings:
    """The model's defaults with what a caller set (None: not set, the model's default stands)."""
    values = default_sampling(module).to_dict()
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SamplingSettings(**values)


class TokenPicker:
    """Picks each next token on the logits' own device: repetition penalty from a mask of the ids seen so
    far (updated one id at a time, never rebuilt from the history), temperature, top-k, top-p. Only the
    chosen id crosses to the CPU."""

    def __init__(self, s: SamplingSettings, generator: torch.Generator | None = None) -> None:
        self.s, self.generator = s, generator
        self.seen: torch.Tensor | None = None  # (V,) bool, made at the first call
        self._pending: list[int] = []

    def see(self, ids: list[int]) -> None:
        if self.s.repetition_penalty != 1.0:
            self._pending.extend(ids)

    def _flush(self, vocab: int, device: torch.device) -> None:
        if self.seen is None:
            self.seen = torch.zeros(vocab, dtype=torch.bool, device=device)
        ids = [i for i in self._pending if 0 <= i < vocab]
        if ids:
            self.seen[torch.tensor(ids, device=device)] = True
        self._pending = []

    def penalised(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (V,) with the repetition penalty on the ids seen so far (the same tensor when it is off)."""
        if self.s.repetition_penalty == 1.0:
            return logits
        self._flush(logits.numel(), logits.device)
        r = self.s.repetition_penalty
        return torch.where(self.seen, torch.where(logits > 0, logits / r, logits * r), logits)

    def __call__(self, logits: torch.Tensor) -> int:
        """One token id from logits (V,): the batched decoder's pick for a batch of one, so a request gets
        the same tokens alone and batched."""
        return pick_rows([self], logits[None])[0]


def sampling_probs(logits: torch.Tensor, s: SamplingSettings) -> torch.Tensor:
    """Probabilities (G, V) of G rows of logits after temperature, top-k and top-p (one row or a batch of
    rows that share the settings: each row is filtered on its own)."""
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the tokens ranked above each one
        cut = before >= s.top_p
        cut[:, 0] = False  # the likeliest token always stays (a top_p that rounds to 0 in float32 kept none)
        sorted_logits = sorted_logits.masked_fill(cut, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return torch.softmax(logits, dim=-1)


def pick_rows(pickers: list[TokenPicker], logits: torch.Tensor) -> list[int]:
    """The next id of each row of logits (B, V), each the id its picker alone would pick, in fewer ops (the
    batched decoder's step): rows with the same temperature, top-k and top-p are filtered as one tensor,
    and only the draw is per row, from each request's own seeded generator."""
    logits = logits.detach().float()
    rows = [p.penalised(logits[b]) for b, p in enumerate(pickers)]
    out = [0] * len(pickers)
    groups: dict[tuple[float, int, float], list[int]] = {}
    for b, p in enumerate(pickers):
        if p.s.temperature < GREEDY_BELOW:
            out[b] = int(torch.argmax(rows[b]))
        else:
            groups.setdefault((p.s.temperature, p.s.top_k, p.s.top_p), []).append(b)
    for members in groups.values():
        probs = sampling_probs(torch.stack([rows[b] for b in members]), pickers[members[0]].s)
        for b, nxt in zip(members, draw(probs, [pickers[b].generator for b in members]), strict=True):
            out[b] = nxt
    return out


def draw(probs: torch.Tensor, generators: list[torch.Generator | None]) -> list[int]:
    """One id from each row of probs (G, V), row g with its own generator (None: torch's global one), by
    inverting the cumulative distribution: one uniform number a row and one batched search.
    torch.multinomial costs ~120 us a row here, a third of a batched decoding step at 8 rows."""
    u = torch.cat([torch.rand(1, generator=g, device=probs.device) for g in generators])
    cdf = probs.cumsum(-1)
    at = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]  # first id whose cdf passes u
    last = probs.shape[-1] - 1 - (probs.flip(-1) > 0).int().argmax(-1)  # rounding never picks a 0-prob id
    return torch.minimum(at, last).tolist()


def pick_next(logits: torch.Tensor, previous: list[int], s: SamplingSettings, generator: torch.Generator | None) -> int:
    """One token id from logits (V,) after repetition penalty, temperature, top-k and top-p."""
    picker = TokenPicker(s, generator)
    picker.see(previous)
    return picker(logits)


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
    device = module.device
    generator = torch.Generator(device=device).manual_seed(int(s.seed)) if s.seed is not None else None
    picker = TokenPicker(s, generator)
    picker.see(ids)
    cache: Any = None
    in_cache = 0
    for _ in range(s.max_new_tokens):
        if cache is None or in_cache + 1 > ctx:
            window = ids[-(ctx - 1) :] if len(ids) >= ctx else ids
            feed, cache, in_cache = window, None, len(window)
        else:
            feed, in_cache = ids[-1:], in_cache + 1
        logits, cache = module.next_logits(torch.tensor([feed], dtype=torch.long, device=device), cache)
        nxt = picker(logits[0])
        if nxt in stops:  # stop checks on ids, before any decoding
            return
        ids.append(nxt)
        picker.see([nxt])
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


def trained_system_prompt(module: Any) -> str:
    """The system prompt a chat run was trained with (its data.system_prompt), else "": the default for
    chatting with it, since answers drift when the prompt differs from training."""
    data = getattr(getattr(module, "run_config", None), "data", None)
    return str(getattr(data, "system_prompt", "") or "")


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
            ids = encode_prompt(module, prompt, chat=chat, system_prompt=system)
            reply = module.tokenizer.decode(generate_ids(module, ids, settings), skip_special_tokens=True)
            reply = reply.rstrip("\ufffd")
            out[f"sample_{i}"] = f"User: {prompt}\nAssistant: {reply}" if chat else prompt + reply
        return out
    finally:
        module.train(was_training)
