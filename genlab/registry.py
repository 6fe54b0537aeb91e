"""The closed registry of model families.

The UI lists FAMILIES; the CLI validates `family:` against it. Modules are imported by explicit code
below, never from a dotted path found in a user's YAML. Configs are torch-free so `runs list` and the
UI start fast; the LightningModule and data module are imported only when a run is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from genlab.config import ConfigError, RunConfig
from genlab.families.vae import VAERunConfig

if TYPE_CHECKING:
    import lightning as L


@dataclass(frozen=True)
class Family:
    """What GenLab needs to know to train, monitor and show one model family."""

    name: str
    title: str
    summary: str
    kind: Literal["image", "paired", "text"]
    config_cls: type[RunConfig]
    monitor: str  # the metric checkpointing, early stopping and sweeps read
    mode: Literal["min", "max"]
    module_loader: Callable[[], type[L.LightningModule]]
    datamodule_loader: Callable[[], Callable[[RunConfig], L.LightningDataModule]]

    def module_class(self) -> type[L.LightningModule]:
        return self.module_loader()

    def build_datamodule(self, config: RunConfig) -> L.LightningDataModule:
        return self.datamodule_loader()(config)

    def default_config(self, **overrides: Any) -> RunConfig:
        return self.config_cls(family=self.name, **overrides)


def _vae_module() -> type[L.LightningModule]:
    from lightning_modules.vae import VAEModule

    return VAEModule


def _image_datamodule() -> Callable[[RunConfig], L.LightningDataModule]:
    from datamodules.images import ImageDataModule

    return ImageDataModule


FAMILIES: dict[str, Family] = {
    "vae": Family(
        name="vae",
        title="VAE",
        summary="Variational autoencoder: learns a smooth latent space; samples, reconstructions and interpolations.",
        kind="image",
        config_cls=VAERunConfig,
        monitor="val/loss",
        mode="min",
        module_loader=_vae_module,
        datamodule_loader=_image_datamodule,
    ),
}


def get_family(name: str) -> Family:
    """The family called `name`, or a ConfigError listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"Invalid config:\n  family: unknown family {name!r}; choose one of: {', '.join(FAMILIES)}"
        ) from None
