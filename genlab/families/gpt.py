"""GPT family config: a GPT-2-shaped transformer trained from scratch, or a pretrained causal LM
(the offline SmolLM2-135M-Instruct, a Hugging Face id or a local folder) fine-tuned fully or with LoRA.
Torch-free: the UI form and the CLI validate against these classes.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, SafetyConfig, Section, TrainerConfig
from genlab.core.data_config import TextDataConfig
from genlab.families.spec import Family
from genlab.families.text_common import TEXT_SWEEP_SPACE, TINY_TEXT_DATA, TINY_TEXT_TRAINER

DEFAULT_PROMPTS = ["ROMEO:", "To be, or not", "The king"]


class GPTModelConfig(Section):
    auto_tokenizer: ClassVar[str] = "bpe"  # data.tokenizer auto, from scratch: a BPE trained on the corpus
    source: Literal["scratch", "pretrained"] = Field(
        "scratch", description="Train a new GPT-2-shaped model, or fine-tune a pretrained one"
    )
    pretrained: str = Field(
        "smollm2",
        min_length=1,
        description="Pretrained model: smollm2 (offline SmolLM2-135M-Instruct), a Hugging Face id (gpt2, distilgpt2, ...) or a local model folder",
    )
    n_layer: int = Field(4, ge=1, le=96, description="Transformer blocks (from scratch)")
    n_head: int = Field(4, ge=1, le=128, description="Attention heads per block; must divide n_embd (from scratch)")
    n_embd: int = Field(128, ge=8, le=8192, description="Width of the residual stream (from scratch)")
    dropout: float = Field(
        0.1, ge=0.0, le=0.9, description="Dropout on attention, residual and embeddings (from scratch)"
    )
    bias: bool = Field(
        False,
        description="Biases in linear layers and layer norms, as GPT-2 has (from scratch; nanoGPT's default: none)",
    )
    finetune: Literal["full", "lora"] = Field(
        "lora", description="Fine-tune all weights, or train small LoRA adapters (pretrained)"
    )
    lora_r: int = Field(8, ge=1, le=512, description="LoRA rank")
    lora_alpha: float = Field(16.0, gt=0.0, le=4096.0, description="LoRA scaling alpha (update scaled by alpha / r)")
    lora_dropout: float = Field(0.05, ge=0.0, le=0.9, description="Dropout on the LoRA input")
    lora_targets: list[str] = Field(
        default_factory=list,
        description="Module names to adapt (e.g. q_proj, v_proj); empty picks the attention projections of the architecture",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass (less memory, slower)"
    )
    sample_prompts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROMPTS),
        max_length=16,
        description="Prompts sampled every logging.sample_every_n_steps and stored as text samples",
    )
    sample_new_tokens: int = Field(64, ge=1, le=2048, description="Tokens generated per stored sample")
    sample_temperature: float = Field(0.8, ge=0.0, le=5.0, description="Temperature of stored samples (0: greedy)")
    sample_top_k: int = Field(50, ge=0, le=100_000, description="Top-k of stored samples (0: off)")

    @model_validator(mode="after")
    def _check(self) -> GPTModelConfig:
        if self.source == "scratch" and self.n_embd % self.n_head:
            raise ValueError(f"model.n_head ({self.n_head}) must divide model.n_embd ({self.n_embd})")
        return self


class GPTRunConfig(RunConfig):
    family: Literal["gpt"] = Field("gpt", description="Model family")
    data: TextDataConfig = Field(default_factory=TextDataConfig, description="Text data and tokenizer")
    model: GPTModelConfig = Field(default_factory=GPTModelConfig, description="GPT architecture or pretrained model")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(
            optimizer="adamw", lr=1e-3, beta2=0.95, weight_decay=0.1, schedule="cosine", warmup_steps=50
        ),
        description="Optimizer and schedule",
    )
    trainer: TrainerConfig = Field(
        default_factory=lambda: TrainerConfig(gradient_clip_val=1.0), description="Training loop"
    )

    safety: SafetyConfig = Field(
        default_factory=SafetyConfig, description="Screening of generated text before anyone sees it"
    )

    @model_validator(mode="after")
    def _check_tokenizer(self) -> GPTRunConfig:
        tok = self.data.tokenizer
        if self.model.source == "pretrained" and tok not in ("auto", "pretrained"):
            raise ValueError(
                f"data.tokenizer: a pretrained model must use its own tokenizer (set auto or pretrained, got {tok})"
            )
        if self.model.source == "scratch" and tok == "pretrained":
            raise ValueError("data.tokenizer: 'pretrained' needs model.source=pretrained; choose bpe, char or gpt2")
        if self.data.format == "chat" and self.model.source == "scratch" and tok not in ("auto", "bpe", "gpt2", "char"):
            raise ValueError("data.tokenizer: unsupported for chat data")
        return self


FAMILY = Family(
    name="gpt",
    title="GPT (text)",
    summary="A GPT-2-shaped transformer trained from scratch on your text, or a pretrained LM (offline SmolLM2) fine-tuned fully or with LoRA; chatbots from dialogue data.",
    kind="text",
    config_cls=GPTRunConfig,
    monitor="val/loss",
    mode="min",
    serve_checkpoint="last",
    capabilities=(
        "TextGenerator",
        "Exportable",
        "HuggingFaceExportable",
        "HuggingFaceLoadable",
        "ChatFinetunable",
        "Distillable",
    ),
    tiny_overrides={
        "data": dict(TINY_TEXT_DATA, tokenizer="bpe"),
        "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "sample_prompts": ["ROMEO:"], "sample_new_tokens": 8},
        "trainer": TINY_TEXT_TRAINER,
        "logging": {"sample_every_n_steps": 2},
    },
    sweep_space=TEXT_SWEEP_SPACE,
)
