"""The one gate for generated text: nothing a model writes reaches a person, a file, a tracker, the API
or a report without passing through here.

- `screen` / `screen_many`: scores per category against the thresholds of a SafetyConfig.
- `Gate.release(text)`: a whole text (training samples, --no-stream output) after the config's action
  (block, mask or annotate), with an audit row in the run store.
- `Gate.stream(make_attempt)`: streaming that releases sentence-sized chunks only after the chunk and
  everything before it passed; a flagged chunk stops generation and the reply ends with a notice. Chat
  passes `regenerations`: a reply flagged before anything was shown is generated again, then refused.

Withheld text is never returned; the audit keeps its sha256 (the text itself only when the run's
config sets safety.reveal_in_audit).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genlab.core.config import SafetyConfig, parse_thresholds
from genlab.core.errors import GenLabError
from genlab.core.paths import genlab_home
from genlab.core.safe_yaml import read_yaml_file
from genlab.safety.screeners import FALLBACK_LABEL, Screener, get_screener, read_block_list, reset_screeners

SENTENCE_END = re.compile(r"[.!?;:…](?=\s)|\n")
MAX_CHUNK_CHARS = 160  # release at the latest after this many characters without a sentence end
WORD = re.compile(r"\S+")


@dataclass
class SafetyResult:
    """Scores in [0, 1] per category, the verdict, the thresholds used, and which screen decided."""

    screener: str
    label: str
    scores: dict[str, float]
    thresholds: dict[str, float]
    flagged_categories: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_categories)

    def summary(self) -> str:
        by = f"{self.label}" if self.label else self.screener
        if self.flagged:
            why = ", ".join(f"{c}={self.scores[c]:.2f} >= {self.thresholds[c]:.2f}" for c in self.flagged_categories)
            return f"safety: FLAGGED by {by} ({why})"
        top = max(self.scores.items(), key=lambda kv: kv[1]) if self.scores else ("-", 0.0)
        return f"safety: ok ({by}; highest {top[0]}={top[1]:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "screener": self.screener,
            "label": self.label,
            "flagged": self.flagged,
            "flagged_categories": self.flagged_categories,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "thresholds": {k: self.thresholds[k] for k in self.scores if k in self.thresholds},
        }


# -- policy -----------------------------------------------------------------------------------------


def defaults_path() -> Path:
    return genlab_home() / "safety" / "defaults.yaml"


def load_defaults() -> SafetyConfig:
    """The server's default safety settings (Settings page), for models without a run config."""
    path = defaults_path()
    if path.is_file():
        try:
            return SafetyConfig.model_validate(read_yaml_file(path, "Safety defaults") or {})
        except Exception:  # noqa: BLE001 - a hand-broken file falls back to the documented defaults
            return SafetyConfig()
    return SafetyConfig()


def save_defaults(policy: SafetyConfig) -> None:
    path = defaults_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False), encoding="utf-8")


def policy_of(module: Any) -> SafetyConfig:
    """The safety section of a module's run config, else the server defaults."""
    policy = getattr(getattr(module, "run_config", None), "safety", None)
    return policy if isinstance(policy, SafetyConfig) else load_defaults()


def with_overrides(policy: SafetyConfig, thresholds: list[str] | None = None, **fields: Any) -> SafetyConfig:
    """A copy with `--threshold [CATEGORY=]VALUE` items and other fields (None values ignored) applied."""
    update = parse_thresholds(thresholds or []) | {k: v for k, v in fields.items() if v is not None}
    return SafetyConfig.model_validate(policy.model_dump() | update)


# -- screening --------------------------------------------------------------------------------------


def _block_list_scores(texts: list[str], words: list[str]) -> list[float]:
    if not words:
        return [0.0] * len(texts)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
    return [1.0 if pattern.search(t) else 0.0 for t in texts]


def screen_many(
    texts: list[str], policy: SafetyConfig | None = None, screener: Screener | None = None
) -> list[SafetyResult]:
    """Screen a batch in one call of the model (that is what keeps chat fast); `screener` defaults to the
    policy's model, built once per process."""
    policy = policy or load_defaults()
    screener = screener or get_screener(policy.model)
    thresholds = policy.thresholds()
    cleaned = [t if t.strip() else "." for t in texts]
    blocked = _block_list_scores(texts, read_block_list())
    out = []
    for text, scores, bl in zip(texts, screener.scores(cleaned) if texts else [], blocked, strict=True):
        scores = dict(scores) | {"block_list": bl}
        if not text.strip():  # nothing was said: nothing to flag, whatever the thresholds (even 0)
            scores = dict.fromkeys(scores, 0.0)
            hit = []
        else:
            hit = [c for c, v in scores.items() if v >= thresholds.get(c, 0.5)]
        out.append(SafetyResult(screener.name, screener.label, scores, thresholds, hit, screener.note))
    return out


def screen(text: str, policy: SafetyConfig | None = None) -> SafetyResult:
    """Scores and a verdict for one text."""
    return screen_many([text], policy)[0]


def worst(results: Iterable[SafetyResult]) -> SafetyResult:
    """One result holding the highest score per category of several (a chunk and its context)."""
    results = list(results)
    first = results[0]
    scores = {k: max(r.scores.get(k, 0.0) for r in results) for k in first.scores}
    hit = [c for c in scores if any(c in r.flagged_categories for r in results)]  # an empty text flags nothing
    return SafetyResult(first.screener, first.label, scores, first.thresholds, hit, first.note)


def screener_status(model: str = "auto") -> dict[str, str]:
    """Which screen runs, its label and why (Settings page, CLI)."""
    s = get_screener(model)
    return {"screener": s.name, "label": s.label, "note": s.note}


def reset_screener() -> None:
    reset_screeners()


def is_fallback(result: SafetyResult) -> bool:
    return result.label == FALLBACK_LABEL


# -- notices ----------------------------------------------------------------------------------------


def withheld_notice(safety: SafetyResult, *, attempts: int = 1, partial: bool = False) -> str:
    """What a reader sees instead of flagged text: why, and by which screen; never any of the text."""
    what = "The rest of this text was" if partial else "This text was"
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return f"[withheld: {what} flagged{tries}. {safety.summary()}]"


@dataclass
class StoredText:
    """A saved text sample as W&B and the HTML report show it: the gate's decision when it was made."""

    text: str  # what may be shown (a withheld sample's file already holds the notice)
    flagged: bool
    screener: str
    scores: dict[str, float]
    summary: str


def sample_meta(verdict: Verdict) -> dict[str, Any]:
    """What a text artifact records of the gate's decision, so every later view says the same."""
    return {
        "safety": verdict.action,
        "screener": verdict.safety.label or verdict.safety.screener,
        "scores": {k: round(v, 4) for k, v in verdict.safety.scores.items()},
        "flagged": list(verdict.safety.flagged_categories),
        "summary": verdict.safety.summary(),
    }


def stored_text(text: str, meta: dict[str, Any] | None) -> StoredText:
    """A saved sample with the verdict recorded beside it; a sample saved before verdicts were recorded
    is screened now (and withheld if flagged)."""
    meta = meta or {}
    if "scores" in meta and "safety" in meta:
        flagged = meta["safety"] != "pass"
        return StoredText(text, flagged, str(meta.get("screener", "")), dict(meta["scores"]), meta.get("summary", ""))
    result = screen(text)
    shown = withheld_notice(result) if result.flagged else text
    return StoredText(shown, result.flagged, result.screener, result.scores, result.summary())


def annotation(safety: SafetyResult) -> str:
    return f"[warning: flagged text shown because the safety action is annotate. {safety.summary()}]"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the gate ---------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What may be shown of one text, and what happened to it."""

    text: str
    action: str  # pass | blocked | masked | annotated
    safety: SafetyResult

    @property
    def withheld(self) -> bool:
        return self.action == "blocked"


class Gate:
    """Screens with one policy and records what it stopped or changed in the run store's audit table.

    `store` and `run_id` are optional (no audit without them); `path` names where the text came from
    (cli.generate, playground.chat, training.samples ...).
    """

    def __init__(
        self,
        policy: SafetyConfig | None = None,
        *,
        store: Any = None,
        run_id: str | None = None,
        path: str = "api",
        screener: Screener | None = None,
    ) -> None:
        self.policy = policy or load_defaults()
        self.store, self.run_id, self.path = store, run_id, path
        self._screener = screener

    @property
    def screener(self) -> Screener:
        return self._screener or get_screener(self.policy.model)

    def check(self, texts: list[str]) -> list[SafetyResult]:
        return screen_many(texts, self.policy, self.screener)

    def audit(self, generated: str, safety: SafetyResult, action: str) -> None:
        if self.store is None or self.run_id is None:
            return
        self.store.add_safety_event(
            self.run_id,
            path=self.path,
            action=action,
            screener=safety.label or safety.screener,
            scores=safety.to_dict()["scores"],
            flagged=safety.flagged_categories,
            sha256=sha256_text(generated),
            text=generated if (self.policy.reveal_in_audit and safety.flagged) else None,
        )

    def mask(self, text: str) -> str:
        """The text with each word the screen flags on its own replaced by asterisks."""
        words = list(WORD.finditer(text))
        if not words:
            return text
        results = self.check([m.group(0).strip(".,;:!?\"'()[]") or "." for m in words])
        out, last = [], 0
        for m, r in zip(words, results, strict=True):
            out.append(text[last : m.start()])
            out.append("*" * len(m.group(0)) if r.flagged else m.group(0))
            last = m.end()
        return "".join(out) + text[last:]

    def judge(self, chunk: str, before: str = "") -> tuple[str | None, SafetyResult, str]:
        """(text to show or None to stop, the verdict, action) for a chunk that follows `before`."""
        result = worst(self.check([chunk, before + chunk]) if before else self.check([chunk]))
        if not result.flagged:
            return chunk, result, "pass"
        if self.policy.action == "annotate":
            return chunk, result, "annotated"
        if self.policy.action == "mask":
            masked = self.mask(chunk)
            again = worst(self.check([masked, before + masked]) if before else self.check([masked]))
            if not again.flagged:
                return masked, result, "masked"
        return None, result, "blocked"

    def release(self, text: str) -> Verdict:
        """A whole text as it may be shown (block: a notice instead), audited."""
        shown, result, action = self.judge(text)
        if shown is None:
            shown = withheld_notice(result)
        elif action == "annotated":
            shown = f"{shown}\n{annotation(result)}"
        self.audit(text, result, action)
        return Verdict(shown, action, result)

    def release_many(self, texts: dict[str, str]) -> dict[str, Verdict]:
        return {name: self.release(text) for name, text in texts.items()}

    def stream(
        self, make_attempt: Callable[[], Any], *, regenerations: int = 0, on_done: Callable[[Any], None] | None = None
    ) -> ScreenedStream:
        return ScreenedStream(self, make_attempt, regenerations=regenerations, on_done=on_done)


def _cut(buffer: str) -> int:
    """Where the first releasable chunk of `buffer` ends (0: wait for more text)."""
    ends = [m.end() for m in SENTENCE_END.finditer(buffer)]
    if ends:
        return ends[-1]
    if len(buffer) >= MAX_CHUNK_CHARS:
        space = buffer.rfind(" ", 0, MAX_CHUNK_CHARS)
        return space + 1 if space > 0 else MAX_CHUNK_CHARS
    return 0


class ScreenedStream:
    """Iterate to receive the screened text in chunks; afterwards `text` (what was shown, notices
    included), `safety` (the last verdict), `action`, `withheld`, `attempts`, `n_tokens` and
    `stop_reason` describe it. `make_attempt()` returns an unscreened text stream (an iterable of
    pieces with `n_tokens` and `stop_reason`), a new one for each regeneration."""

    def __init__(
        self,
        gate: Gate,
        make_attempt: Callable[[], Any],
        *,
        regenerations: int = 0,
        on_done: Callable[[ScreenedStream], None] | None = None,
    ) -> None:
        self.gate, self.make_attempt, self.regenerations, self.on_done = gate, make_attempt, regenerations, on_done
        self.text = ""
        self.shown_model_text = ""  # what of the model's text was shown (for a chat history)
        self.safety: SafetyResult | None = None
        self.action = "pass"
        self.attempts = 0
        self.n_tokens = 0
        self.prompt_tokens = 0  # set by whoever encoded the prompt (usage counts)
        self.stop_reason = ""
        self._done = False

    @property
    def withheld(self) -> bool:
        return self.action == "blocked"

    def __iter__(self) -> Iterator[str]:
        if self._done:
            raise GenLabError("This stream was already consumed")
        self._done = True
        for attempt in range(self.regenerations + 1):
            self.attempts = attempt + 1
            last = attempt == self.regenerations
            pieces = yield from self._attempt(last)
            if pieces is not None:
                break
        if self.on_done is not None:
            self.on_done(self)

    def _attempt(self, last: bool) -> Iterator[str]:
        """Screen one generation; returns None when it was flagged before anything was shown and another
        attempt may follow (the caller regenerates), else the shown text."""
        inner = self.make_attempt()
        generated, buffer, shown, annotated = "", "", "", None
        verdict: SafetyResult | None = None
        seen: list[SafetyResult] = []
        it = iter(inner)
        stopped = False
        try:
            while True:
                piece = next(it, None)
                final = piece is None
                if not final:
                    generated += piece
                    buffer += piece
                cut = len(buffer) if final else _cut(buffer)
                if cut and buffer[:cut].strip():
                    chunk, buffer = buffer[:cut], buffer[cut:]
                    out, verdict, action = self.gate.judge(chunk, shown)
                    seen.append(verdict)
                    if out is None:
                        stopped = True
                        self.action = "blocked"
                        break
                    if action != "pass":
                        self.action = action
                        annotated = verdict if action == "annotated" else annotated
                    shown += out
                    yield out
                if final:
                    break
        finally:
            if hasattr(it, "close"):
                it.close()  # a flagged chunk stops generation here
        self.n_tokens = int(getattr(inner, "n_tokens", 0) or 0)
        self.stop_reason = "flagged" if stopped else str(getattr(inner, "stop_reason", "") or "")
        if verdict is None:
            verdict = worst(self.gate.check([generated]))
        elif not stopped:
            verdict = worst(seen)  # the highest score of any chunk, for the summary
        self.safety = verdict
        if stopped and not shown and not last:
            self.gate.audit(generated, verdict, "regenerated")
            self.action = "pass"
            return None
        self.gate.audit(generated, verdict, self.action)
        self.shown_model_text = shown
        tail = ""
        if stopped:
            tail = withheld_notice(verdict, attempts=self.attempts, partial=bool(shown))
        elif annotated is not None:
            tail = annotation(annotated)
        if tail:
            tail = ("\n" if shown else "") + tail
            yield tail
        self.text = shown + tail
        return shown

    def consume(self) -> str:
        for _ in self:
            pass
        return self.text
