"""DCGAN family config (torch-free): Radford et al.'s conv GAN with the stabilisers that fight collapse."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.core.config import RunConfig
from genlab.core.data_config import ImageDataConfig
from genlab.families.gan_common import GAN_SWEEP_SPACE, TINY_GAN, GANModelConfig, GANOptimConfig, check_gan
from genlab.families.spec import Family
from genlab.metrics.config import ImageMetricsConfig


class DCGANRunConfig(RunConfig):
    family: Literal["dcgan"] = Field("dcgan", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Images")
    model: GANModelConfig = Field(default_factory=GANModelConfig, description="DCGAN networks, loss and stabilisers")
    optim: GANOptimConfig = Field(
        default_factory=GANOptimConfig, description="Optimizers of generator and discriminator"
    )
    metrics: ImageMetricsConfig = Field(
        default_factory=ImageMetricsConfig, description="Sample-quality metrics (FID, KID, precision/recall)"
    )

    @model_validator(mode="after")
    def _check_gan(self) -> DCGANRunConfig:
        check_gan(self.model)
        return self


FAMILY = Family(
    name="dcgan",
    title="DCGAN",
    summary="Deep convolutional GAN: sharp samples from noise; FID/KID/precision/recall measured as it trains.",
    kind="image",
    config_cls=DCGANRunConfig,
    monitor="val/fid",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "Exportable", "Distillable"),
    tiny_overrides=TINY_GAN,
    sweep_space=GAN_SWEEP_SPACE,
)
