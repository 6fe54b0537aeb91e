"""Run configs: pydantic models that are the single source of truth for a run.

Every field has a type, a default, bounds and a one-line description, because the UI form is generated
from them. Unknown keys are errors (a typo must never be silently ignored). Family-specific configs
subclass RunConfig and live in genlab/families/; genlab/parsing.py picks the class from the registry.
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from genlab.errors import GenLabError


class ConfigError(GenLabError, ValueError):
    """A config that cannot be used; the message names the field path and what is allowed."""


class Section(BaseModel):
    """Base for every config section: unknown keys are rejected, assignments re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OptimBase(Section):
    """What every optimizer section shares; OptimConfig adds one learning rate, GANOptimConfig two."""

    optimizer: Literal["adam", "adamw", "sgd", "adabelief"] = Field("adam", description="Optimizer")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam-family first-moment decay (momentum for SGD)")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam-family second-moment decay")
    weight_decay: float = Field(
        0.0, ge=0.0, le=1.0, description="Weight decay (L2 for SGD/Adam, decoupled for AdamW/AdaBelief)"
    )
    schedule: Literal["constant", "cosine", "step"] = Field("constant", description="Learning-rate schedule")
    warmup_steps: int = Field(0, ge=0, le=1_000_000, description="Linear warm-up steps (constant and cosine schedules)")
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Cosine schedule ends at lr times this ratio")
    step_size: int = Field(10, ge=1, le=100_000, description="Step schedule: epochs between decays")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="Step and plateau schedules: decay factor")


class OptimConfig(OptimBase):
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate")
    schedule: Literal["constant", "cosine", "step", "plateau"] = Field(  # type: ignore[assignment]
        "constant", description="Learning-rate schedule (plateau: decay when the monitored metric stalls)"
    )
    plateau_patience: int = Field(
        3, ge=0, le=1000, description="Plateau schedule: epochs without improvement before decaying"
    )


class TrainerConfig(Section):
    max_epochs: int = Field(10, ge=1, le=100_000, description="Stop after this many passes over the data")
    max_steps: int = Field(-1, ge=-1, le=100_000_000, description="Stop after this many optimizer steps (-1: no limit)")
    accelerator: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="Where to train; auto uses a GPU when present"
    )
    devices: int | Literal["auto"] = Field(
        "auto", description="How many devices per machine (auto: all GPUs, or 1 CPU process)"
    )
    num_nodes: int = Field(1, ge=1, le=1024, description="Machines taking part (multi-node DDP via torchrun or SLURM)")
    strategy: Literal["auto", "ddp", "ddp_spawn", "fsdp"] = Field(
        "auto", description="Distributed strategy (Lightning's)"
    )
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = Field(
        "auto", description="Numeric precision; auto picks bf16-mixed on GPUs that support it, else 32"
    )
    deterministic: bool = Field(False, description="Deterministic algorithms (reproducible, slower)")
    gradient_clip_val: float = Field(0.0, ge=0.0, le=1e6, description="Clip gradient norm to this value (0: off)")
    accumulate_grad_batches: int = Field(
        1, ge=1, le=1024, description="Add up gradients over this many batches per optimizer step"
    )
    limit_train_batches: int | None = Field(
        None, ge=1, description="Use at most this many batches per epoch (quick experiments)"
    )
    limit_val_batches: int | None = Field(None, ge=0, description="Use at most this many validation batches per check")
    val_every_n_epochs: int = Field(1, ge=1, le=10_000, description="Validate every this many epochs")
    log_every_n_steps: int = Field(10, ge=1, le=100_000, description="Log training metrics every this many steps")
    early_stopping_patience: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Stop when the monitored metric has not improved for this many validations (0: off)",
    )
    checkpoint_every_n_steps: int = Field(
        0,
        ge=0,
        le=10_000_000,
        description="Also save the last checkpoint every this many steps (0: at each epoch end only)",
    )
    compile: bool = Field(False, description="torch.compile the model (faster on GPUs after a warm-up)")
    channels_last: bool = Field(
        False, description="Channels-last memory layout for conv nets (faster with bf16 on GPUs)"
    )


class LoggingConfig(Section):
    sample_every_n_steps: int = Field(
        200, ge=0, le=10_000_000, description="Save a sample grid every this many steps (0: only at epoch ends)"
    )
    n_samples: int = Field(64, ge=1, le=256, description="Images in each sample grid (fixed latent batch)")
    wandb: Literal["off", "auto", "offline", "online"] = Field(
        "off", description="Weights & Biases: auto goes online when WANDB_API_KEY is set, else offline"
    )
    wandb_project: str = Field("genlab", min_length=1, description="W&B project name")
    wandb_entity: str | None = Field(None, description="W&B team or user (empty: your default)")


class RunConfig(Section):
    """The common shape of every run; families narrow `family`, `model` and sometimes `data`."""

    family: str = Field(..., description="Model family")
    name: str = Field("", max_length=120, description="A name to recognise the run by (empty: generated)")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed for weights, data split and sampling")
    tags: list[str] = Field(default_factory=list, description="Free labels for filtering runs")
    notes: str = Field("", max_length=10_000, description="Free text notes")
    data: Section = Field(default_factory=Section, description="Data (each family narrows it)")
    model: Section = Field(default_factory=Section, description="Model")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="Optimizer and schedule")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="Training loop")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Samples and trackers")

    def advisories(self) -> list[str]:
        """Settings that work but may surprise, said before the run starts (the CLI prints them, the Train
        page shows them). A shortened preset must still run, so these are notes, not errors."""
        t = self.trainer
        notes = []
        if t.checkpoint_every_n_steps and 0 < t.max_steps < t.checkpoint_every_n_steps:
            notes.append(
                f"trainer.checkpoint_every_n_steps ({t.checkpoint_every_n_steps}) is beyond trainer.max_steps "
                f"({t.max_steps}): the checkpoint is saved at the end of the run"
            )
        return notes

    def to_yaml(self) -> str:
        """YAML text that `parse_config(yaml.safe_load(text))` turns back into an equal config."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
