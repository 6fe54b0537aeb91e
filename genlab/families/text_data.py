"""Text data section shared by the text families (GPT and the RNN baseline). Torch-free."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.config import Section

TextSource = Literal["builtin", "file", "upload", "hf"]
TokenizerKind = Literal["auto", "bpe", "char", "gpt2", "pretrained"]


class TextDataConfig(Section):
    source: TextSource = Field(
        "builtin",
        description="Where the text comes from: a built-in corpus, a file path, an uploaded file or a Hugging Face dataset",
    )
    name: str = Field(
        "shakespeare",
        min_length=1,
        description="Built-in corpus (shakespeare, kjv, genlab_chat), a .txt/.md/.jsonl/.csv path, an upload name, or a Hugging Face dataset id",
    )
    format: Literal["auto", "text", "chat"] = Field(
        "auto",
        description="Plain text to continue, or chat pairs (prompt/response or messages); auto decides from the file",
    )
    text_column: str = Field(
        "text", min_length=1, description="Column holding the text in .csv/.jsonl files and Hugging Face datasets"
    )
    hf_split: str = Field("train", min_length=1, description="Split to read when the source is a Hugging Face dataset")
    tokenizer: TokenizerKind = Field(
        "auto",
        description="bpe: train a byte-level BPE on the corpus; char: one token per character; gpt2: the GPT-2 vocabulary; pretrained: the fine-tuned model's own; auto picks pretrained for fine-tunes, bpe for GPT, char for RNN",
    )
    vocab_size: int = Field(2048, ge=260, le=65536, description="Vocabulary size of a trained BPE tokenizer")
    block_size: int = Field(
        128,
        ge=8,
        le=8192,
        description="Tokens per training sequence (the model's context window when trained from scratch)",
    )
    val_fraction: float = Field(
        0.1,
        ge=0.01,
        le=0.5,
        description="Share of the corpus held out for validation (seeded split of contiguous chunks)",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Sequences per training step")
    max_chars: int | None = Field(
        None, ge=1000, description="Use at most this many characters of the corpus (quick experiments); empty uses all"
    )
    system_prompt: str = Field(
        "",
        max_length=4000,
        description="System prompt put before every chat example (empty: the chat template's default)",
    )
    eval_pairs: int = Field(
        16,
        ge=0,
        le=512,
        description="Held-out prompt -> continuation (or response) pairs scored with BLEU/chrF at each validation (0: off)",
    )
    eval_prompt_tokens: int = Field(
        32,
        ge=4,
        le=1024,
        description="Prompt length of each plain-text evaluation pair, in tokens (at most half the block)",
    )
    eval_new_tokens: int = Field(32, ge=1, le=1024, description="Tokens generated (greedy) for each evaluation pair")
    num_workers: int = Field(
        0, ge=0, le=32, description="Background data-loading processes (0 loads in the training process)"
    )
