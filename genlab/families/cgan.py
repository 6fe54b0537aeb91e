"""Conditional GAN family config (torch-free): a DCGAN whose nets both see the class label."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.core.config import RunConfig
from genlab.core.data_config import ImageDataConfig
from genlab.families.gan_common import GAN_SWEEP_SPACE, TINY_GAN, GANModelConfig, GANOptimConfig, check_gan
from genlab.families.spec import Family
from genlab.metrics.config import ImageMetricsConfig


class CGANModelConfig(GANModelConfig):
    embed_dim: int = Field(
        50, ge=1, le=1024, description="Size of the label embedding concatenated to z in the generator"
    )
    d_conditioning: Literal["projection", "concat"] = Field(
        "projection",
        description="How D sees the label: projection (Miyato & Koyama) or one-hot planes concatenated to the image",
    )


class CGANRunConfig(RunConfig):
    family: Literal["cgan"] = Field("cgan", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Labelled images")
    model: CGANModelConfig = Field(
        default_factory=CGANModelConfig, description="Conditional GAN networks, loss and stabilisers"
    )
    optim: GANOptimConfig = Field(
        default_factory=GANOptimConfig, description="Optimizers of generator and discriminator"
    )
    metrics: ImageMetricsConfig = Field(
        default_factory=ImageMetricsConfig,
        description="Sample-quality metrics (FID, KID, precision/recall, class accuracy)",
    )

    @model_validator(mode="after")
    def _check_gan(self) -> CGANRunConfig:
        check_gan(self.model)
        return self


FAMILY = Family(
    name="cgan",
    title="Conditional GAN",
    summary="Class-conditional DCGAN: choose the class to generate; needs a labelled data set.",
    kind="image",
    config_cls=CGANRunConfig,
    monitor="val/fid",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "Exportable", "Distillable"),
    tiny_overrides=TINY_GAN,
    sweep_space=GAN_SWEEP_SPACE,
)
