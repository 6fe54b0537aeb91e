"""Seq2seq family config: a T5-style encoder-decoder (transformers' T5ForConditionalGeneration) trained
from scratch on source -> target pairs (built-in tasks, or a .csv/.jsonl with source and target columns),
or a pretrained seq2seq model (a Hugging Face id or a local folder) fine-tuned fully or with LoRA.
Torch-free.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, SafetyConfig, Section, TrainerConfig
from genlab.families.spec import Family

# Built-in pair tasks (datamodules/text_pairs.py says why each one).
PAIR_TASKS = ("emoji_category", "emoji_shortcode", "shakespeare_reply")


class TextPairsDataConfig(Section):
    """Source -> target text pairs: a built-in task or a .csv/.jsonl file with two named columns."""

    # What `data.name` may be with source builtin (the Train page offers these, not the GPT corpora).
    builtin_names: ClassVar[tuple[str, ...]] = PAIR_TASKS

    source: Literal["builtin", "file", "upload"] = Field(
        "builtin", description="A built-in task, a .csv/.jsonl path, or an uploaded file's name"
    )
    name: str = Field(
        "emoji_category",
        min_length=1,
        description="Built-in task (emoji_category: emoji name -> its category; emoji_shortcode: emoji name -> "
        ":shortcode:; shakespeare_reply: a line -> the reply to it), a .csv/.jsonl path, or an upload name",
    )
    source_column: str = Field("source", min_length=1, description="Column holding the input text")
    target_column: str = Field("target", min_length=1, description="Column holding the text to produce")
    max_items: int | None = Field(None, ge=16, le=1_000_000, description="Use at most this many pairs (seeded)")
    max_source_len: int = Field(32, ge=4, le=1024, description="Source tokens; longer sources are truncated (counted)")
    max_target_len: int = Field(16, ge=2, le=1024, description="Target tokens; longer targets are truncated (counted)")
    vocab_size: int = Field(1000, ge=300, le=65536, description="Vocabulary of the BPE trained from scratch")
    val_fraction: float = Field(0.1, ge=0.02, le=0.5, description="Share of the pairs held out (seeded split)")
    batch_size: int = Field(32, ge=1, le=4096, description="Pairs per training step")
    eval_pairs: int = Field(
        64, ge=1, le=4096, description="Held-out pairs generated at each validation for BLEU, chrF and exact match"
    )
    num_workers: int = Field(0, ge=0, le=32, description="Background data-loading processes")
    group_by_length: bool = Field(
        True,
        description="Batch texts of similar length together (shuffled in small groups): less padding, faster steps",
    )

    @model_validator(mode="after")
    def _check(self) -> TextPairsDataConfig:
        if self.source == "builtin" and self.name not in PAIR_TASKS:
            raise ValueError(f"data.name: unknown built-in task {self.name!r}; choose one of: {', '.join(PAIR_TASKS)}")
        return self


class Seq2SeqModelConfig(Section):
    source: Literal["scratch", "pretrained"] = Field(
        "scratch", description="Train a new T5-style model, or fine-tune a pretrained seq2seq model"
    )
    pretrained: str = Field(
        "t5-small",
        min_length=1,
        description="Pretrained seq2seq model: a Hugging Face id (t5-small, ...) or a local folder",
    )
    n_layer: int = Field(2, ge=1, le=48, description="Encoder blocks, and as many decoder blocks (from scratch)")
    n_head: int = Field(4, ge=1, le=64, description="Attention heads; must divide d_model (from scratch)")
    d_model: int = Field(128, ge=8, le=4096, description="Width of the hidden states (from scratch)")
    d_ff: int = Field(256, ge=8, le=16384, description="Width of the feed-forward layers (from scratch)")
    dropout: float = Field(0.1, ge=0.0, le=0.9, description="Dropout (from scratch)")
    finetune: Literal["full", "lora"] = Field("full", description="Fine-tune all weights or LoRA adapters (pretrained)")
    lora_r: int = Field(8, ge=1, le=512, description="LoRA rank")
    lora_alpha: float = Field(16.0, gt=0.0, le=4096.0, description="LoRA scaling alpha")
    lora_dropout: float = Field(0.05, ge=0.0, le=0.9, description="Dropout on the LoRA input")
    sample_sources: list[str] = Field(
        default_factory=lambda: ["grinning face with smiling eyes", "teddy bear", "flag of france"],
        max_length=16,
        description="Inputs turned into outputs at every sample step and stored as text samples",
    )
    sample_new_tokens: int = Field(24, ge=1, le=1024, description="Most tokens generated per stored sample")

    @model_validator(mode="after")
    def _check(self) -> Seq2SeqModelConfig:
        if self.source == "scratch" and self.d_model % self.n_head:
            raise ValueError(f"model.n_head ({self.n_head}) must divide model.d_model ({self.d_model})")
        return self


class Seq2SeqRunConfig(RunConfig):
    family: Literal["t5"] = Field("t5", description="Model family")
    data: TextPairsDataConfig = Field(default_factory=TextPairsDataConfig, description="Source -> target pairs")
    model: Seq2SeqModelConfig = Field(default_factory=Seq2SeqModelConfig, description="T5-style encoder-decoder")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(
            optimizer="adamw", lr=2e-3, weight_decay=0.01, schedule="cosine", warmup_steps=30
        ),
        description="Optimizer and schedule",
    )
    trainer: TrainerConfig = Field(
        default_factory=lambda: TrainerConfig(gradient_clip_val=1.0), description="Training loop"
    )
    safety: SafetyConfig = Field(
        default_factory=SafetyConfig, description="Screening of generated text before anyone sees it"
    )


FAMILY = Family(
    name="t5",
    title="T5 encoder-decoder (text to text)",
    summary="A T5-style encoder-decoder that learns to turn one text into another (built-in tasks or your "
    "source/target pairs), from scratch or a pretrained T5; scored against copying the input. Shows its attention.",
    kind="text",
    config_cls=Seq2SeqRunConfig,
    monitor="val/loss",
    mode="min",
    serve_checkpoint="best",
    # ONNX goes through torch.onnx's TorchScript exporter: the dynamo one cannot decompose T5 attention's
    # reshape (a view of a transposed tensor); see ExportNet.onnx_dynamo and docs/BENCHMARKS.md.
    capabilities=("TextGenerator", "AttentionViewer", "Exportable", "HuggingFaceExportable"),
    tiny_overrides={
        "data": {
            "max_items": 64,
            "max_source_len": 12,
            "max_target_len": 6,
            "vocab_size": 300,
            "batch_size": 8,
            "eval_pairs": 2,
        },
        "model": {
            "n_layer": 1,
            "n_head": 2,
            "d_model": 16,
            "d_ff": 32,
            "sample_sources": ["teddy bear"],
            "sample_new_tokens": 4,
        },
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
        "optim.lr": {"low": 3e-4, "high": 5e-3, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.3},
    },
)
