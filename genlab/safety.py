"""Screening of every generated text: Detoxify when its checkpoint is on this machine, else the small
alt-profanity-check classifier. Every result says which screener ran, so a user knows what was checked.

Detoxify's checkpoints are GitHub release files and cannot be downloaded here; place one locally
(see DETOXIFY_HELP) to use it. The fallback catches profanity but misses threats and hate speech
written without swear words.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from genlab import assets

DEFAULT_THRESHOLD = 0.5
DETOXIFY_HELP = (
    "Detoxify's checkpoint is not on this machine (it is a GitHub release file and cannot be downloaded "
    "offline). To use it, download toxic_original-c1212f89.ckpt from "
    "https://github.com/unitaryai/detoxify/releases on a machine with internet and put it in "
    "~/.cache/torch/hub/checkpoints/ or point GENLAB_DETOXIFY_CKPT at it; it also needs the "
    "bert-base-uncased config and tokenizer in the Hugging Face cache (or GENLAB_DETOXIFY_HF_CONFIG set to a "
    "local folder of them)."
)
FALLBACK_NOTE = "alt-profanity-check, which catches profanity but misses threats and hate without swear words."


@dataclass
class SafetyResult:
    """Scores in [0, 1] per category, the verdict, and which screener produced them."""

    screener: str
    scores: dict[str, float]
    flagged: bool
    threshold: float
    note: str = ""
    categories: list[str] = field(default_factory=list)

    def summary(self) -> str:
        top = max(self.scores.items(), key=lambda kv: kv[1]) if self.scores else ("-", 0.0)
        verdict = "FLAGGED" if self.flagged else "ok"
        return f"safety: {verdict} ({self.screener}; highest {top[0]}={top[1]:.2f}, threshold {self.threshold:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "screener": self.screener,
            "scores": self.scores,
            "flagged": self.flagged,
            "threshold": self.threshold,
            "note": self.note,
        }


class _Screener:
    name = "none"
    note = ""

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        raise NotImplementedError


class _DetoxifyScreener(_Screener):
    name = "detoxify"

    def __init__(self, checkpoint: str) -> None:
        from detoxify import Detoxify

        hf_config = os.environ.get("GENLAB_DETOXIFY_HF_CONFIG") or None
        # The user placed this checkpoint here on purpose (Detoxify's own format needs unpickling).
        self.model = Detoxify(checkpoint=checkpoint, huggingface_config_path=hf_config)
        self.note = f"Detoxify checkpoint {os.path.basename(checkpoint)}"

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        raw = self.model.predict(texts)
        # Detoxify squeezes its scores: one text gives a float per class, several give lists.
        cols = {k: v if isinstance(v, list) else [v] for k, v in raw.items()}
        return [{k: float(v[i]) for k, v in cols.items()} for i in range(len(texts))]


class _ProfanityScreener(_Screener):
    name = "alt-profanity-check"

    def __init__(self, why: str) -> None:
        from profanity_check import predict_prob

        self._predict = predict_prob
        self.note = f"{why} Screened with {FALLBACK_NOTE}"

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        probs = self._predict(texts)
        return [{"profanity": float(p)} for p in probs]


_lock = threading.Lock()
_screener: _Screener | None = None


def get_screener() -> _Screener:
    """The best screener available here, built once per process."""
    global _screener
    with _lock:
        if _screener is None:
            ckpt = assets.detoxify_checkpoint()
            if ckpt is not None:
                try:
                    _screener = _DetoxifyScreener(str(ckpt))
                except Exception as err:  # noqa: BLE001 - e.g. bert config missing offline
                    _screener = _ProfanityScreener(f"Detoxify could not load ({type(err).__name__}: {err}).")
            else:
                _screener = _ProfanityScreener(DETOXIFY_HELP)
        return _screener


def reset_screener() -> None:
    """Forget the chosen screener, so the next screen looks again (after a checkpoint is put in place)."""
    global _screener
    with _lock:
        _screener = None


def screener_status() -> dict[str, str]:
    """Which screener runs, and why (for the Settings page and the CLI)."""
    s = get_screener()
    return {"screener": s.name, "note": s.note}


def screen_many(texts: list[str], threshold: float = DEFAULT_THRESHOLD) -> list[SafetyResult]:
    s = get_screener()
    cleaned = [t if t.strip() else "." for t in texts]
    out = []
    for sc in s.scores(cleaned):
        flagged = any(v >= threshold for v in sc.values())
        out.append(SafetyResult(s.name, sc, flagged, threshold, s.note, sorted(sc)))
    return out


def screen(text: str, threshold: float = DEFAULT_THRESHOLD) -> SafetyResult:
    """Scores and a flagged verdict for one generated text."""
    return screen_many([text], threshold)[0]
