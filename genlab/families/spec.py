"""What a model family is, in one torch-free record: each genlab/families/<name>.py exports one `FAMILY`.

The engine, CLI and UI read everything about a family from here: its config class (the UI form is
generated from it), the metric checkpointing, early stopping and sweeps watch, which checkpoint serves,
a seconds-long tiny config, its default sweep space, and what a trained model can do (capabilities,
the protocols of lightning_modules/base.py). The spec names no module: the family's LightningModule
(lightning_modules/<name>.py) imports its spec and says `family = FAMILY`, and genlab/runner/build.py finds
it from there, so spec and module never point at each other and torch stays out of the CLI's and the UI's
start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from genlab.core.config import RunConfig

# What a trained model can do: the one list of capability names. Each is a runtime-checkable Protocol of
# the same name in lightning_modules/base.py, which builds its PROTOCOLS from this list (importing it fails
# on a name without a protocol; tests/test_capabilities.py fails on a protocol without a name). A new
# capability: add its name here and its Protocol there.
Capability = Literal[
    "ImageSampler",
    "LatentWalker",
    "Reconstructor",
    "Encoder",
    "Translator",
    "MultiDomainTranslator",
    "TextGenerator",
    "Exportable",
    "HuggingFaceExportable",
    "HuggingFaceLoadable",
    "ChatFinetunable",
    "Distillable",
    "MaskFiller",
    "TextClassifier",
    "AttentionViewer",
    "BatchDecoder",
    "PreferenceTunable",
    "DenoisingSampler",
    "StyleMixer",
    "Truncatable",
]
CAPABILITIES: tuple[str, ...] = get_args(Capability)


@dataclass(frozen=True)
class Family:
    """What GenLab needs to know to train, monitor, sweep and serve one model family."""

    name: str
    title: str
    summary: str
    kind: Literal["image", "paired", "text"]
    config_cls: type[RunConfig]
    monitor: str  # the metric checkpointing, early stopping and sweeps read
    mode: Literal["min", "max"]
    capabilities: tuple[Capability, ...] = ()
    # A seconds-long config (tiny nets, few images, few steps) for tests, the UI's quick try and e2e:
    # section -> {field: value}.
    tiny_overrides: dict[str, Any] = field(default_factory=dict)
    # The default search space of a sweep: `--set` path -> {"low", "high", "log"} or {"choices"}.
    sweep_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The checkpoint the Playground and the CLI use unless told otherwise. Text runs use the last one:
    # it is what the Hugging Face export holds, and a chat fine-tune on a small set keeps learning its
    # answers after held-out perplexity (the monitor) has bottomed out.
    serve_checkpoint: Literal["best", "last"] = "best"

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"family {self.name}: unknown capabilities {sorted(unknown)}")

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def default_config(self, **overrides: Any) -> RunConfig:
        return self.config_cls(family=self.name, **overrides)

    def tiny_config(self) -> RunConfig:
        """The family's default config shrunk by tiny_overrides."""
        raw = self.config_cls(family=self.name).model_dump(mode="json")
        for section, values in self.tiny_overrides.items():
            if isinstance(values, dict):
                raw[section].update(values)
            else:
                raw[section] = values
        return self.config_cls.model_validate(raw)
