"""The Data page's check of a .csv/.jsonl table before training on it: the pairs (t5: source -> target)
or labelled texts (bert: text, label) the run would read, with the same errors the data modules raise
(missing columns, every row empty, one class) and notes on what works but will surprise (rows skipped
for an empty cell, texts longer than the context that training will cut). Torch-free and fast: it reads
the file once and tokenizes nothing (a text of more words than the context has more tokens than that,
so the count of long texts is a lower bound).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from datamodules.table_text import columns, read_records, table_path
from genlab.core.errors import DataError


@dataclass
class TablePreview:
    kind: Literal["pairs", "labelled"]
    headers: tuple[str, str]
    rows: list[tuple[str, str]]  # the first rows the run would read
    usable: int
    skipped: int  # rows with an empty cell in a named column
    label_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _long(texts: list[str], limit: int) -> int:
    return sum(len(t.split()) > limit for t in texts)


def preview_table(
    name: str,
    source: str = "upload",
    *,
    kind: Literal["pairs", "labelled"],
    first: str | None = None,
    second: str | None = None,
    max_len: tuple[int, int] | int = (32, 16),
    n: int = 8,
) -> TablePreview:
    """Check a table as pairs (first/second default to source/target; max_len is the source and target
    context) or as labelled texts (text/label; max_len is data.max_length); DataError when unusable."""
    first = first or ("source" if kind == "pairs" else "text")
    second = second or ("target" if kind == "pairs" else "label")
    path = table_path(name, source)
    records = read_records(path)
    rows = [(a, b) for a, b in columns(records, [first, second], path.name)]
    skipped = len(records) - len(rows)
    preview = TablePreview(kind, (first, second), rows[:n], len(rows), skipped)
    if skipped:
        preview.notes.append(
            f"{skipped:,} of {len(records):,} rows have an empty {first!r} or {second!r} and are skipped"
        )
    if len(rows) < 2:
        raise DataError(
            f"{path.name}: only {len(rows)} usable row(s); at least 2 are needed (one to train, one to validate)"
        )
    if kind == "labelled":
        counts = Counter(b for _, b in rows)
        preview.label_counts = dict(counts.most_common())
        if len(counts) < 2:
            raise DataError(
                f"{path.name}: the label column {second!r} has one class ({next(iter(counts))!r}); "
                "classification needs at least 2 (for masked-word pre-training, set model.task to mlm)"
            )
        limits: list[tuple[str, list[str], str, int]] = [
            ("texts", [a for a, _ in rows], "data.max_length", max_len if isinstance(max_len, int) else max_len[0])
        ]
    else:
        src_len, tgt_len = (max_len, max_len) if isinstance(max_len, int) else max_len
        limits = [
            ("sources", [a for a, _ in rows], "data.max_source_len", src_len),
            ("targets", [b for _, b in rows], "data.max_target_len", tgt_len),
        ]
    for what, texts, setting, limit in limits:
        long = _long(texts, limit)
        if long:
            preview.notes.append(
                f"at least {long:,} {what} have more words than {setting}={limit} tokens: training truncates them "
                f"(raise {setting} to keep them whole)"
            )
    return preview


def preview_rows(preview: TablePreview) -> list[dict[str, Any]]:
    """The preview's rows as records for a table widget."""
    a, b = preview.headers
    return [{a: x, b: y} for x, y in preview.rows]
