"""Data sections of the run configs, all in one place: images, two image domains, text. Torch-free.

Each family's config picks one of them as its `data` section; the data modules read them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from genlab.core.catalogue import PAIR_SETS
from genlab.core.config import Section

ImageSource = Literal["builtin", "folder", "zip", "hf"]


class ImageDataConfig(Section):
    source: ImageSource = Field(
        "builtin",
        description="Where the images come from: a built-in set, a folder, a .zip upload or a Hugging Face dataset",
    )
    name: str = Field(
        "mnist",
        min_length=1,
        description="Built-in name (mnist, animals, emoji, digits), a folder/zip path, an upload name, or a Hugging Face dataset id",
    )
    image_size: Literal[16, 28, 32, 64] = Field(28, description="Side of the square images the model sees, in pixels")
    color_mode: Literal["auto", "grey", "rgb"] = Field(
        "auto", description="Convert images to grey or colour; auto keeps the data set's own"
    )
    val_fraction: float = Field(
        0.1, ge=0.0, le=0.5, description="Share of the images held out for validation (seeded split)"
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Images per training step")
    max_items: int | None = Field(
        None, ge=8, description="Use at most this many images (quick experiments); empty uses all"
    )
    hflip: bool = Field(False, description="Randomly mirror training images left-right (augmentation)")
    num_workers: int = Field(
        0, ge=0, le=32, description="Background data-loading processes (0 loads in the training process)"
    )
    hf_split: str = Field("train", description="Split to read when the source is a Hugging Face dataset")
    hf_image_column: str = Field("image", description="Image column of a Hugging Face dataset")
    hf_label_column: str = Field("label", description="Label column of a Hugging Face dataset (ignored when absent)")


PairedSource = Literal["builtin", "folder", "zip"]
PairedLayout = Literal["two_folders", "side_by_side"]
BUILTIN_PAIRS = tuple(PAIR_SETS)


class PairedDataConfig(Section):
    """Two image domains A and B, paired (pix2pix) or unpaired (CycleGAN)."""

    source: PairedSource = Field(
        "builtin", description="Where the two domains come from: a built-in pair, folders or .zip uploads"
    )
    name: str = Field(
        "emoji",
        min_length=1,
        max_length=1000,
        description="Built-in pair (emoji: Twemoji->OpenMoji, edges2emoji: edges->Twemoji), or one folder/zip holding A/ and B/ (or trainA/ and trainB/) or side-by-side images",
    )
    path_a: str = Field(
        "",
        max_length=1000,
        description="Domain A as its own folder, zip or upload name (overrides name; needs path_b too)",
    )
    path_b: str = Field(
        "", max_length=1000, description="Domain B as its own folder, zip or upload name (used with path_a)"
    )
    layout: PairedLayout = Field(
        "two_folders",
        description="two_folders: A and B in separate folders (pairs matched by file name); side_by_side: each file is A|B joined left-right (the layout of Isola et al.'s data sets)",
    )
    paired: bool = Field(
        False,
        description="Train on aligned pairs (paired translation needs them); off draws B independently of A, true pairs are still kept for evaluation",
    )
    image_size: Literal[16, 32, 64, 128, 256] = Field(
        32, description="Side of the square images the model sees, in pixels"
    )
    load_size: int = Field(
        0,
        ge=0,
        le=512,
        description="Resize to this side, then randomly crop image_size (0: no crop; e.g. 36 for 32 px)",
    )
    hflip: bool = Field(
        True, description="Randomly mirror training images left-right (the same flip for both images of a pair)"
    )
    color_mode_a: Literal["auto", "grey", "rgb"] = Field(
        "auto", description="Colour of domain A; auto keeps the majority mode of its images"
    )
    color_mode_b: Literal["auto", "grey", "rgb"] = Field(
        "auto", description="Colour of domain B; auto keeps the majority mode of its images"
    )
    edge_sigma: float = Field(
        1.0, ge=0.1, le=10.0, description="edges2emoji: Canny smoothing (higher: fewer, longer edges)"
    )
    val_fraction: float = Field(
        0.05, ge=0.0, le=0.5, description="Share of the images (pairs) held out for validation (seeded split)"
    )
    batch_size: int = Field(4, ge=1, le=1024, description="Images per domain per training step")
    max_items: int | None = Field(
        None,
        ge=8,
        le=1_000_000,
        description="Use at most this many images per domain (quick experiments); empty uses all",
    )
    min_images: int = Field(8, ge=2, le=100_000, description="Refuse to train on fewer images per domain than this")
    num_workers: int = Field(
        0, ge=0, le=32, description="Background data-loading processes (0 loads in the training process)"
    )

    @model_validator(mode="after")
    def _check(self) -> PairedDataConfig:
        if self.load_size and self.load_size < self.image_size:
            raise ValueError(f"data.load_size ({self.load_size}) must be 0 or at least image_size ({self.image_size})")
        if bool(self.path_a) != bool(self.path_b):
            raise ValueError("data.path_a and data.path_b go together: give both domains or neither")
        if self.source == "builtin" and self.name not in BUILTIN_PAIRS:
            raise ValueError(
                f"data.name: unknown built-in pair {self.name!r}; choose one of: {', '.join(BUILTIN_PAIRS)}"
            )
        return self


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
        description="bpe: train a byte-level BPE on the corpus; char: one token per character; gpt2: the GPT-2 vocabulary; pretrained: the fine-tuned model's own; auto picks pretrained for fine-tunes, else the family's own (bpe for transformers, char for recurrent nets)",
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


MULTI_DOMAIN_SETS = ("emoji3", "emoji3_faces")  # built-in multi-domain sets (datamodules/multi_domain.py renders them)


class MultiDomainDataConfig(Section):
    """Three or more (at least two) image domains with no pairs between them (StarGAN): a built-in set, or a
    folder / zip holding one subfolder of images per domain (the subfolder's name is the domain's name)."""

    builtin_names: ClassVar[tuple[str, ...]] = MULTI_DOMAIN_SETS

    source: PairedSource = Field(
        "builtin", description="Where the domains come from: a built-in set, a folder or a .zip upload"
    )
    name: str = Field(
        "emoji3",
        min_length=1,
        max_length=1000,
        description="Built-in set (emoji3: Twemoji, OpenMoji, OpenMoji line art of ~3,965 emoji; emoji3_faces: their ~100 faces), or a folder/zip/upload with one subfolder per domain",
    )
    image_size: Literal[16, 32, 64, 128] = Field(32, description="Side of the square images the model sees, in pixels")
    hflip: bool = Field(True, description="Randomly mirror training images left-right (augmentation)")
    val_fraction: float = Field(
        0.05, ge=0.0, le=0.5, description="Share of each domain's images held out for validation (seeded split)"
    )
    batch_size: int = Field(16, ge=1, le=1024, description="Images per training step (domains mixed)")
    max_items: int | None = Field(
        None,
        ge=8,
        le=1_000_000,
        description="Use at most this many images per domain (quick experiments); empty uses all",
    )
    min_images: int = Field(8, ge=2, le=100_000, description="Refuse to train on fewer images in any domain than this")
    num_workers: int = Field(
        0, ge=0, le=32, description="Background data-loading processes (0 loads in the training process)"
    )

    @model_validator(mode="after")
    def _check(self) -> MultiDomainDataConfig:
        if self.source == "builtin" and self.name not in MULTI_DOMAIN_SETS:
            raise ValueError(
                f"data.name: unknown built-in multi-domain set {self.name!r}; choose one of: {', '.join(MULTI_DOMAIN_SETS)}"
            )
        return self
