"""Run configs: pydantic models that are the single source of truth for a run.

Every field has a type, a default, bounds and a one-line description, because the UI form is generated
from them. Unknown keys are errors (a typo must never be silently ignored). Family-specific configs
subclass RunConfig and live in genlab/families/; genlab/core/parsing.py picks the class from the registry.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genlab.core.errors import GenLabError

MAX_DEVICES = 64  # per machine; the machine's own count is checked when a run starts (jobs.check_devices)


class ConfigError(GenLabError, ValueError):
    """A config that cannot be used; the message names the field path and what is allowed."""


class Section(BaseModel):
    """Base for every config section: unknown keys are rejected, assignments re-validated, and NaN or
    infinity is refused as "should be a finite number" before any bound is checked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


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

    @field_validator("devices")
    @classmethod
    def _devices_in_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= MAX_DEVICES:
            raise ValueError(f"must be 'auto' or a whole number from 1 to {MAX_DEVICES}")
        return value


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


# Screening of generated text (genlab/safety/gate.py). Defaults, and why:
# - 0.7 for toxicity, obscene and insult: Detoxify's scores estimate how likely Jigsaw's raters were to
#   call a text that; at 0.7 most would, so merely rough language passes and plain insults do not
#   (0.7 is also the toxicity cut the issue cites from Detoxify's maintainers).
# - 0.5 for severe_toxicity, threat, identity_attack and sexual_explicit: rarer, costlier to miss, and
#   scored lower by the models (few training examples), so a lower bar.
# - 0.95 for profanity (the alt-profanity-check fallback): its probabilities saturate, and its own 0.5
#   boundary flags any swear word ("damn, that was a hard day" scores 0.91); on our labelled set
#   (benchmarks/data/safety_labelled.tsv) merely rough lines score at most 0.91, plain insults 0.99+.
# - block_list: a listed word scores 1.0, so any threshold up to 1 flags it.
THRESHOLD_DEFAULTS: dict[str, float] = {
    "toxicity": 0.7,
    "severe_toxicity": 0.5,
    "obscene": 0.7,
    "threat": 0.5,
    "insult": 0.7,
    "identity_attack": 0.5,
    "sexual_explicit": 0.5,
    "profanity": 0.95,
    "block_list": 0.5,
}
SCREEN_CATEGORIES = tuple(THRESHOLD_DEFAULTS)


def _threshold(category: str, what: str) -> Any:
    return Field(
        THRESHOLD_DEFAULTS[category],
        ge=0.0,
        le=1.0,
        description=f"Flag text whose {what} score reaches this (0 flags everything; default "
        f"{THRESHOLD_DEFAULTS[category]})",
    )


class SafetyConfig(Section):
    """How generated text is screened before anyone sees it: which screen, thresholds, what happens."""

    model: Literal["auto", "original", "unbiased", "multilingual", "fallback"] = Field(
        "auto",
        description="Detoxify model (its checkpoint must be installed: python -m genlab screen --install-checkpoint);"
        " auto takes the first installed of original, unbiased, multilingual; fallback: profanity only",
    )
    action: Literal["block", "mask", "annotate"] = Field(
        "block",
        description="block: withhold flagged text; mask: hide the flagged words (blocks when masking is not "
        "enough); annotate: show it with a warning",
    )
    max_regenerations: int = Field(
        2, ge=0, le=10, description="Chat: generate a flagged reply again up to this many times before refusing"
    )
    reveal_in_audit: bool = Field(
        False, description="Keep the text of flagged outputs in the audit table (default: only its sha256)"
    )
    drop_flagged_data: bool = Field(
        False, description="Screen the training text first and drop its flagged lines (chat data: conversations)"
    )
    toxicity: float = _threshold("toxicity", "toxicity")
    severe_toxicity: float = _threshold("severe_toxicity", "severe toxicity")
    obscene: float = _threshold("obscene", "obscenity")
    threat: float = _threshold("threat", "threat")
    insult: float = _threshold("insult", "insult")
    identity_attack: float = _threshold("identity_attack", "identity attack")
    sexual_explicit: float = _threshold("sexual_explicit", "sexual explicitness (unbiased model)")
    profanity: float = _threshold("profanity", "profanity (fallback screen)")
    block_list: float = _threshold("block_list", "block-list match (1.0 on a listed word)")

    def thresholds(self) -> dict[str, float]:
        return {c: float(getattr(self, c)) for c in SCREEN_CATEGORIES}


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """`--threshold [CATEGORY=]VALUE` values as {category: value}; a bare value sets every category."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.rpartition("=")
        name = name.strip()
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"--threshold expects [CATEGORY=]VALUE with VALUE in [0, 1], got {item!r}") from None
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"--threshold {item!r}: VALUE must be between 0 and 1 (0 flags everything)")
        if sep and name not in SCREEN_CATEGORIES:
            raise ConfigError(f"--threshold {item!r}: unknown category; one of {', '.join(SCREEN_CATEGORIES)}")
        for c in [name] if sep else SCREEN_CATEGORIES:
            out[c] = value
    return out


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
