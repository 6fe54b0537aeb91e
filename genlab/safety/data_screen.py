"""Look at the training text before training on it: screen a corpus line by line (chat data: one
conversation at a time) with the same screen as generated text, report the flagged share with examples,
and write a copy without the flagged lines for a run that asks for it (safety.drop_flagged_data).

The roadmap's bias mitigation starts here: a model repeats what its data holds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datamodules.corpora import load_corpus
from genlab.core.config import SafetyConfig
from genlab.safety.gate import load_defaults, screen_many

BATCH = 256


@dataclass
class DataScreenReport:
    corpus: str
    unit: str  # "line" or "conversation"
    total: int
    screened: int
    flagged: int
    screener: str
    by_category: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    flagged_index: list[int] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.flagged / self.screened if self.screened else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("flagged_index")
        d["share"] = self.share
        return d


def corpus_units(data_cfg: Any) -> tuple[str, str, list[str], Any]:
    """(corpus name, unit, texts, corpus): the lines of a text corpus or the conversations of chat data."""
    corpus = load_corpus(data_cfg)
    if corpus.is_chat:
        return corpus.name, "conversation", ["\n".join(m["content"] for m in c) for c in corpus.chats], corpus
    return corpus.name, "line", corpus.text.splitlines(), corpus


def screen_corpus(
    data_cfg: Any, policy: SafetyConfig | None = None, *, max_units: int | None = None, n_examples: int = 10
) -> DataScreenReport:
    """Screen the corpus (its first `max_units` non-empty units when given) in batches."""
    policy = policy or load_defaults()
    name, unit, texts, _ = corpus_units(data_cfg)
    index = [i for i, t in enumerate(texts) if t.strip()]
    todo = index[:max_units] if max_units else index
    report = DataScreenReport(name, unit, len(index), len(todo), 0, "")
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        for i, result in zip(batch, screen_many([texts[i] for i in batch], policy), strict=True):
            report.screener = result.label or result.screener
            if not result.flagged:
                continue
            report.flagged += 1
            report.flagged_index.append(i)
            for c in result.flagged_categories:
                report.by_category[c] = report.by_category.get(c, 0) + 1
            if len(report.examples) < n_examples:
                report.examples.append({"index": i, "text": texts[i][:300], "flagged": result.flagged_categories})
    return report


def screened_copy(data_cfg: Any, policy: SafetyConfig, folder: Path) -> tuple[Any, DataScreenReport]:
    """Write the corpus without its flagged units into `folder` and return a data config that reads it
    (plus the report); the run's own config.yaml keeps naming the original corpus."""
    report = screen_corpus(data_cfg, policy)
    _, unit, texts, corpus = corpus_units(data_cfg)
    drop = set(report.flagged_index)
    folder.mkdir(parents=True, exist_ok=True)
    if unit == "conversation":
        path = folder / "screened.jsonl"
        lines = [json.dumps({"messages": c}, ensure_ascii=False) for i, c in enumerate(corpus.chats) if i not in drop]
        fmt = "chat"
    else:
        path = folder / "screened.txt"
        lines = [t for i, t in enumerate(texts) if i not in drop]
        fmt = "text"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "screen_report.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return data_cfg.model_copy(update={"source": "file", "name": str(path), "format": fmt}), report
