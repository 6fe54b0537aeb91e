"""Encoder family config: a BERT-style encoder (transformers' BertForMaskedLM / BertForSequenceClassification)
pre-trained with masked-language modelling on a built-in corpus, or fine-tuned to classify texts (a built-in
labelled task or an uploaded CSV/JSONL of text and label), from scratch, from the offline MiniLM (a BERT
architecture), from a Hugging Face id or a local folder (an MLM run's exports/hf). Torch-free.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, SafetyConfig, Section, TrainerConfig
from genlab.families.spec import Family

# Built-in labelled sets (datamodules/labelled_text.py): their texts are also the MLM corpora.
LABELLED_SETS = ("shakespeare_genre", "kjv_or_shakespeare")
MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2")


class LabelledTextDataConfig(Section):
    """Texts with labels: a built-in task or a .csv/.jsonl file with a text and a label column."""

    # What `data.name` may be with source builtin (the Train page offers these, not the GPT corpora).
    builtin_names: ClassVar[tuple[str, ...]] = LABELLED_SETS

    source: Literal["builtin", "file", "upload"] = Field(
        "builtin", description="A built-in labelled set, a .csv/.jsonl path, or an uploaded file's name"
    )
    name: str = Field(
        "shakespeare_genre",
        min_length=1,
        description="Built-in set (shakespeare_genre: which kind of play a speech is from; kjv_or_shakespeare: "
        "Bible verse or Shakespeare line), a .csv/.jsonl path, or an upload name",
    )
    text_column: str = Field("text", min_length=1, description="Column holding the text in .csv/.jsonl files")
    label_column: str = Field("label", min_length=1, description="Column holding the label (classification)")
    max_items: int | None = Field(4000, ge=16, le=1_000_000, description="Use at most this many texts (seeded)")
    max_length: int = Field(64, ge=8, le=512, description="Tokens per text; longer texts are truncated (counted)")
    vocab_size: int = Field(2000, ge=200, le=65536, description="Vocabulary of the WordPiece trained from scratch")
    val_fraction: float = Field(0.1, ge=0.02, le=0.5, description="Share of the texts held out (seeded split)")
    batch_size: int = Field(32, ge=1, le=4096, description="Texts per training step")
    num_workers: int = Field(0, ge=0, le=32, description="Background data-loading processes")
    group_by_length: bool = Field(
        True,
        description="Batch texts of similar length together (shuffled in small groups): less padding, faster steps",
    )

    @model_validator(mode="after")
    def _check(self) -> LabelledTextDataConfig:
        if self.source == "builtin" and self.name not in LABELLED_SETS:
            raise ValueError(
                f"data.name: unknown built-in set {self.name!r}; choose one of: {', '.join(LABELLED_SETS)}"
            )
        return self


class EncoderModelConfig(Section):
    task: Literal["mlm", "classify"] = Field(
        "classify", description="mlm: masked-language-model pre-training; classify: predict each text's label"
    )
    source: Literal["scratch", "pretrained"] = Field(
        "scratch", description="Train a new BERT, or start from a pretrained one"
    )
    pretrained: str = Field(
        "minilm",
        min_length=1,
        description="Pretrained encoder: minilm (offline all-MiniLM-L6-v2), a Hugging Face id, or a local folder "
        "(an MLM run's exports/hf)",
    )
    n_layer: int = Field(2, ge=1, le=48, description="Transformer blocks (from scratch)")
    n_head: int = Field(4, ge=1, le=64, description="Attention heads; must divide hidden (from scratch)")
    hidden: int = Field(128, ge=8, le=4096, description="Width of the hidden states (from scratch)")
    intermediate: int = Field(256, ge=8, le=16384, description="Width of the feed-forward layer (from scratch)")
    dropout: float = Field(0.1, ge=0.0, le=0.9, description="Dropout on hidden states and attention (from scratch)")
    finetune: Literal["full", "lora"] = Field("full", description="Fine-tune all weights or LoRA adapters (pretrained)")
    lora_r: int = Field(8, ge=1, le=512, description="LoRA rank")
    lora_alpha: float = Field(16.0, gt=0.0, le=4096.0, description="LoRA scaling alpha")
    lora_dropout: float = Field(0.05, ge=0.0, le=0.9, description="Dropout on the LoRA input")
    mask_prob: float = Field(0.15, ge=0.01, le=0.8, description="Share of tokens masked in MLM training")
    sample_texts: list[str] = Field(
        default_factory=lambda: ["my lord, the [MASK] is coming.", "in the beginning god created the [MASK]."],
        max_length=16,
        description="Texts filled (mlm, one [MASK] each) or classified at every sample step",
    )

    @model_validator(mode="after")
    def _check(self) -> EncoderModelConfig:
        if self.source == "scratch" and self.hidden % self.n_head:
            raise ValueError(f"model.n_head ({self.n_head}) must divide model.hidden ({self.hidden})")
        return self


class EncoderRunConfig(RunConfig):
    family: Literal["bert"] = Field("bert", description="Model family")
    data: LabelledTextDataConfig = Field(default_factory=LabelledTextDataConfig, description="Labelled texts")
    model: EncoderModelConfig = Field(default_factory=EncoderModelConfig, description="BERT-style encoder")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(
            optimizer="adamw", lr=1e-3, weight_decay=0.01, schedule="cosine", warmup_steps=20
        ),
        description="Optimizer and schedule",
    )
    trainer: TrainerConfig = Field(
        default_factory=lambda: TrainerConfig(gradient_clip_val=1.0), description="Training loop"
    )
    safety: SafetyConfig = Field(
        default_factory=SafetyConfig, description="Screening of filled-in words before anyone sees them"
    )


FAMILY = Family(
    name="bert",
    title="BERT encoder (fill-mask, classify)",
    summary="A BERT-style encoder: masked-language-model pre-training on a corpus, then text classification; "
    "from scratch or from the offline MiniLM. Shows its attention.",
    kind="text",
    config_cls=EncoderRunConfig,
    monitor="val/loss",
    mode="min",
    serve_checkpoint="best",
    capabilities=("MaskFiller", "TextClassifier", "AttentionViewer", "Exportable", "HuggingFaceExportable"),
    tiny_overrides={
        "data": {"max_items": 64, "max_length": 16, "vocab_size": 200, "batch_size": 8},
        "model": {"n_layer": 1, "n_head": 2, "hidden": 16, "intermediate": 32, "sample_texts": ["my [MASK] lord"]},
        "trainer": {
            "max_epochs": 1,
            "max_steps": 3,
            "limit_train_batches": 3,
            "limit_val_batches": 2,
            "log_every_n_steps": 1,
        },
        "logging": {"sample_every_n_steps": 2},
    },
    sweep_space={
        "optim.lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.3},
    },
)
