"""Tokenizers for the text families: a byte-level BPE trained on the corpus, characters, GPT-2's
vocabulary, or a pretrained model's own. A tokenizer travels as primitives (`spec`, its JSON for trained
ones), so it is saved with the checkpoint and rebuilt by `tokenizer_from_spec` without the data.
"""

from __future__ import annotations

import hashlib
from typing import Any

from datamodules.chat_format import CHATML_TEMPLATE, IM_END, IM_START
from datamodules.corpora import Corpus
from genlab.core import assets
from genlab.core.data_config import TextDataConfig
from genlab.core.paths import cache_dir

IGNORE = -100  # target id that takes no loss (chat prompts, padding)
EOS = "<|endoftext|>"
PAD = "<|pad|>"


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


def tokenizer_spec(kind: str, cfg: TextDataConfig, corpus: Corpus, pretrained: str | None) -> dict[str, Any]:
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
