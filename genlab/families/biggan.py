"""BigGAN family config (torch-free): BigGAN's ingredients for class-conditional generation at CPU size.

Brock et al. 2019 (arXiv:1809.11096): class-conditional batch norm in G whose gains and biases come from a
shared class embedding with z (skip-z), a projection discriminator (Miyato & Koyama 2018), a self-attention
block (SAGAN, Zhang et al. 2019) at one chosen resolution, orthogonal regularisation of G, spectral norm in
both nets, the hinge loss, and truncation at sampling time (z from a truncated normal).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from genlab.core.config import RunConfig, Section
from genlab.core.data_config import ImageDataConfig
from genlab.core.truncation import truncation_problem
from genlab.families.gan_common import TINY_GAN, DiffAugmentPolicy, GANOptimConfig
from genlab.families.spec import Family
from genlab.metrics.config import ImageMetricsConfig


def attention_sides(image_size: int) -> list[int]:
    """The sides both nets work at between their blocks: G doubles from its 4 px (7 px for 28) seed to the
    image, D halves back down, so a block of each ends at every side from twice the seed to half the image."""
    seed = 7 if image_size == 28 else 4
    ups = round(math.log2(image_size // seed))
    return [seed * 2**i for i in range(1, ups)]


class BigGANModelConfig(Section):
    """BigGAN-style nets (residual blocks), their conditioning, regularisers and sampling truncation."""

    latent_dim: int = Field(64, ge=2, le=1024, description="Size of the noise vector z the generator starts from")
    shared_dim: int = Field(
        32,
        ge=1,
        le=1024,
        description="Size of the shared class embedding that, with z, sets every conditional batch norm's gain and bias",
    )
    g_width: int = Field(
        32, ge=4, le=1024, description="Generator width: channels of its last block (doubling towards the input)"
    )
    d_width: int = Field(
        32, ge=4, le=1024, description="Discriminator width: channels of its first block (doubling with depth)"
    )
    attention_resolution: int = Field(
        14,
        ge=0,
        le=64,
        description="Side in px where both nets get a self-attention block (0: none); between the nets' first and last block",
    )
    ortho_reg: float = Field(
        1e-4,
        ge=0.0,
        le=1.0,
        description="Orthogonal regularisation of the generator's weights (BigGAN's beta; 0: off)",
    )
    spectral_norm: bool = Field(True, description="Spectral normalisation of every layer of both nets")
    loss: Literal["hinge", "nonsat"] = Field(
        "hinge", description="Adversarial loss: hinge (BigGAN) or non-saturating BCE"
    )
    truncation: float = Field(
        1.0,
        description="Sampling truncation: z from a normal truncated to [-2, 2] scaled by this (1: plain N(0, 1), no truncation)",
    )
    ema_decay: float = Field(
        0.999,
        ge=0.0,
        lt=1.0,
        description="Exponential moving average of generator weights (0: off); samples come from the EMA copy",
    )
    ema_start_step: int = Field(
        100, ge=0, le=10_000_000, description="Generator steps before the EMA starts averaging (it copies until then)"
    )
    diffaugment: DiffAugmentPolicy = Field(
        "off", description="Differentiable augmentation of real and fake images seen by D (small data sets)"
    )

    @field_validator("truncation", mode="before")
    @classmethod
    def _truncation(cls, value: float) -> float:
        problem = truncation_problem(value)
        if problem:
            raise ValueError(problem)
        return float(value)


class BigGANOptimConfig(GANOptimConfig):
    """BigGAN's Adam with beta1 0, at the rates measured on the built-in sets, not BigGAN's own.

    BigGAN's 1e-4 / 4e-4 (tuned for batch 2048 on ImageNet) left every row of the per-class grid the same digit
    after 740 steps at batch 64; at 350 steps class accuracy rose with the rate (2e-4 0.16, 4e-4 0.27, 8e-4 0.46),
    so both nets default to 8e-4 (BENCHMARKS, BigGAN-style).
    """

    lr_g: float = Field(8e-4, gt=0.0, le=1.0, description="Generator learning rate")
    lr_d: float = Field(8e-4, gt=0.0, le=1.0, description="Discriminator learning rate")
    beta1: float = Field(0.0, ge=0.0, lt=1.0, description="Adam first-moment decay (0 in BigGAN)")


class BigGANRunConfig(RunConfig):
    family: Literal["biggan"] = Field("biggan", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Labelled images")
    model: BigGANModelConfig = Field(
        default_factory=BigGANModelConfig, description="BigGAN-style networks, regularisers and truncation"
    )
    optim: BigGANOptimConfig = Field(
        default_factory=BigGANOptimConfig, description="Optimizers of generator and discriminator"
    )
    metrics: ImageMetricsConfig = Field(
        default_factory=ImageMetricsConfig,
        description="Sample-quality metrics (FID, KID, precision/recall, class accuracy)",
    )

    @model_validator(mode="after")
    def _attention_reached(self) -> BigGANRunConfig:
        res, size = self.model.attention_resolution, self.data.image_size
        sides = attention_sides(size)
        if res and res not in sides:
            choices = ", ".join(map(str, sides)) or "none at this size"
            raise ValueError(
                f"model.attention_resolution: the nets never work at {res} px with {size} px images; "
                f"use 0 (no attention) or one of: {choices}"
            )
        return self


TINY_BIGGAN: dict = {
    **TINY_GAN,
    "model": {"latent_dim": 8, "shared_dim": 8, "g_width": 8, "d_width": 8, "attention_resolution": 8},
}

FAMILY = Family(
    name="biggan",
    title="BigGAN-style conditional GAN",
    summary="BigGAN's ingredients at CPU size: conditional batch norm, projection D, self-attention, "
    "orthogonal regularisation, spectral norm, hinge loss, truncation; needs a labelled data set.",
    kind="image",
    config_cls=BigGANRunConfig,
    monitor="val/fid",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "Exportable", "Distillable", "Truncatable"),
    tiny_overrides=TINY_BIGGAN,
    sweep_space={
        "optim.lr_g": {"low": 2e-4, "high": 2e-3, "log": True},
        "optim.lr_d": {"low": 2e-4, "high": 2e-3, "log": True},
        "optim.beta1": {"choices": [0.0]},
    },
)
