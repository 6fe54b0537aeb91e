"""Character-level LSTM/GRU family: the classic baseline that shares the GPT data module. Torch-free."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, SafetyConfig, Section, TrainerConfig
from genlab.core.data_config import TextDataConfig
from genlab.families.spec import Family
from genlab.families.text_common import TEXT_SWEEP_SPACE, TINY_TEXT_DATA, TINY_TEXT_TRAINER


class RNNModelConfig(Section):
    auto_tokenizer: ClassVar[str] = "char"  # data.tokenizer auto: a recurrent model learns characters best
    cell: Literal["lstm", "gru"] = Field("lstm", description="Recurrent cell")
    n_layer: int = Field(2, ge=1, le=8, description="Stacked recurrent layers")
    hidden: int = Field(256, ge=8, le=4096, description="Hidden state size")
    embed_dim: int = Field(64, ge=4, le=4096, description="Token embedding size")
    dropout: float = Field(0.1, ge=0.0, le=0.9, description="Dropout between layers and before the output")
    sample_prompts: list[str] = Field(
        default_factory=lambda: ["ROMEO:", "The king"],
        max_length=16,
        description="Prompts sampled every logging.sample_every_n_steps and stored as text samples",
    )
    sample_new_tokens: int = Field(200, ge=1, le=4096, description="Tokens generated per stored sample")
    sample_temperature: float = Field(0.8, ge=0.0, le=5.0, description="Temperature of stored samples (0: greedy)")
    sample_top_k: int = Field(0, ge=0, le=100_000, description="Top-k of stored samples (0: off)")


class RNNRunConfig(RunConfig):
    family: Literal["rnn"] = Field("rnn", description="Model family")
    data: TextDataConfig = Field(
        default_factory=lambda: TextDataConfig(tokenizer="char"), description="Text data and tokenizer"
    )
    model: RNNModelConfig = Field(default_factory=RNNModelConfig, description="Recurrent network")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(optimizer="adamw", lr=2e-3, schedule="cosine", warmup_steps=20),
        description="Optimizer and schedule",
    )
    trainer: TrainerConfig = Field(
        default_factory=lambda: TrainerConfig(gradient_clip_val=1.0), description="Training loop"
    )

    safety: SafetyConfig = Field(
        default_factory=SafetyConfig, description="Screening of generated text before anyone sees it"
    )

    @model_validator(mode="after")
    def _check_tokenizer(self) -> RNNRunConfig:
        if self.data.tokenizer == "pretrained":
            raise ValueError("data.tokenizer: the RNN has no pretrained model; choose char, bpe or gpt2")
        return self


FAMILY = Family(
    name="rnn",
    title="Char-RNN (LSTM/GRU)",
    summary="The classic character-level LSTM/GRU language model: the baseline that shows what attention buys.",
    kind="text",
    config_cls=RNNRunConfig,
    monitor="val/loss",
    mode="min",
    serve_checkpoint="last",
    capabilities=("TextGenerator", "Exportable"),
    tiny_overrides={
        "data": dict(TINY_TEXT_DATA, tokenizer="char"),
        "model": {"n_layer": 1, "hidden": 32, "embed_dim": 16, "sample_prompts": ["ROMEO:"], "sample_new_tokens": 8},
        "trainer": TINY_TEXT_TRAINER,
        "logging": {"sample_every_n_steps": 2},
    },
    sweep_space=TEXT_SWEEP_SPACE,
)
