"""Run configs: pydantic models that are the single source of truth for a run.

Every field has a type, a default, bounds and a one-line description, because the UI form is generated
from them. Unknown keys are errors (a typo must never be silently ignored). Family-specific configs
subclass RunConfig and live in genlab/families/; `parse_config` picks the class from the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genlab.errors import GenLabError

MAX_DEVICES = 64  # per machine; the machine's own count is checked when a run starts (jobs.check_devices)


class ConfigError(GenLabError, ValueError):
    """A config that cannot be used; the message names the field path and what is allowed."""


class Section(BaseModel):
    """Base for every config section: unknown keys are rejected, assignments re-validated, and NaN or
    infinity is refused as "should be a finite number" before any bound is checked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


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


class OptimConfig(Section):
    optimizer: Literal["adam", "adamw", "sgd", "adabelief"] = Field("adam", description="Optimizer")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam-family first-moment decay (momentum for SGD)")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam-family second-moment decay")
    weight_decay: float = Field(
        0.0, ge=0.0, le=1.0, description="Weight decay (L2 for SGD/Adam, decoupled for AdamW/AdaBelief)"
    )
    schedule: Literal["constant", "cosine", "step", "plateau"] = Field("constant", description="Learning-rate schedule")
    warmup_steps: int = Field(0, ge=0, le=1_000_000, description="Linear warm-up steps (constant and cosine schedules)")
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Cosine schedule ends at lr times this ratio")
    step_size: int = Field(10, ge=1, le=100_000, description="Step schedule: epochs between decays")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="Step and plateau schedules: decay factor")
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


class RunConfig(Section):
    """The common shape of every run; families narrow `family`, `model` and sometimes `data`."""

    family: str = Field(..., description="Model family")
    name: str = Field("", max_length=120, description="A name to recognise the run by (empty: generated)")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed for weights, data split and sampling")
    tags: list[str] = Field(default_factory=list, description="Free labels for filtering runs")
    notes: str = Field("", max_length=10_000, description="Free text notes")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Data")
    model: Section = Field(default_factory=Section, description="Model")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="Optimizer and schedule")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="Training loop")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Samples and trackers")

    @model_validator(mode="after")
    def _check_steps(self) -> RunConfig:
        if self.trainer.checkpoint_every_n_steps and self.trainer.max_steps > 0:
            if self.trainer.checkpoint_every_n_steps > self.trainer.max_steps:
                raise ValueError(
                    "trainer.checkpoint_every_n_steps is larger than trainer.max_steps; no mid-run checkpoint would be saved"
                )
        return self

    def to_yaml(self) -> str:
        """YAML text that `parse_config(yaml.safe_load(text))` turns back into an equal config."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------------
# Parsing with readable errors


def _allowed_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Walk a model class along an error location to list the keys allowed where a bad key stood."""
    current: Any = cls
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def format_validation_error(err: ValidationError, cls: type[BaseModel]) -> str:
    """One line per problem: `field.path: what is wrong (got value)`."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        path = ".".join(str(p) for p in loc) or "(config)"
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(cls, loc)
            msg = "unknown key" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
            lines.append(f"{path}: {msg}")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"{path}: {msg}{shown}")
    return "Invalid config:\n  " + "\n  ".join(lines)


def parse_config(raw: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a plain dict (from YAML, a form, or --set) into the family's RunConfig subclass."""
    from genlab.registry import get_family

    if isinstance(raw, RunConfig):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        raise ConfigError(f"Invalid config: expected a mapping of keys to values, got {type(raw).__name__}")
    if "family" not in raw:
        from genlab.registry import FAMILIES

        raise ConfigError(f"Invalid config:\n  family: missing; choose one of: {', '.join(FAMILIES)}")
    family = get_family(str(raw["family"]))
    try:
        return family.config_cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, family.config_cls)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config file, apply `key.path=value` overrides, and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    return parse_config(apply_overrides(raw or {}, overrides or []))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` strings (value parsed as YAML, so 0.1, true, [1,2] keep their types)."""
    raw = yaml.safe_load(yaml.safe_dump(raw))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key.path=value, got {item!r}")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set expects key.path=value, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return raw


def field_schema(cls: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a config class: what the UI form generator reads (types, bounds, descriptions)."""
    return cls.model_json_schema()
