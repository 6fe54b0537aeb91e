"""StyleGAN-lite family config (torch-free): StyleGAN2's generator (a mapping network to W, modulated and
demodulated convolutions, noise inputs, style mixing, the truncation trick) and its training (R1 on reals,
equalised learning rate, non-saturating loss), sized for a CPU, with ProGAN's progressive growing
(resolution doubling with a fade-in) as an option.

The checks run when a config is loaded, so the CLI, the server and the UI say the same words.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from genlab.core.config import RunConfig, Section
from genlab.core.data_config import ImageDataConfig
from genlab.core.truncation import truncation_problem
from genlab.families.gan_common import GAN_SWEEP_SPACE, DiffAugmentPolicy, GANOptimConfig
from genlab.families.spec import Family
from genlab.metrics.config import ImageMetricsConfig


def check_truncation(psi: float, where: str = "") -> float:
    """The truncation psi a user asked for, or a ValueError in the words every door uses
    (genlab/core/truncation.py); `where` names the config field when the config is the door."""
    problem = truncation_problem(psi)
    if problem:
        raise ValueError(f"{where + ': ' if where else ''}{problem} (got {psi})")
    return float(psi)


def _power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


class StyleGANModelConfig(Section):
    """Mapping + synthesis widths, the StyleGAN regularisers and the optional progressive growing."""

    latent_dim: int = Field(64, ge=2, le=1024, description="Size of the noise vector z the mapping network reads")
    w_dim: int = Field(64, ge=2, le=1024, description="Size of the intermediate latent w (the styles' source)")
    mapping_layers: int = Field(4, ge=1, le=8, description="Fully connected layers of the mapping network z -> w")
    g_width: int = Field(64, ge=4, le=512, description="Generator channels at every resolution (a lite StyleGAN)")
    d_width: int = Field(64, ge=4, le=512, description="Discriminator channels at every resolution")
    noise: bool = Field(
        True, description="Per-pixel noise inputs after every synthesis convolution (stochastic detail)"
    )
    style_mixing: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Share of training batches whose styles switch from one w to another at a random layer",
    )
    # 4, not StyleGAN's 10 or a light 0.5: at 16-32 px on CPU budgets 0.5 collapsed to one digit in the 16 px
    # stage and 10 blurred (BENCHMARKS, StyleGAN-lite), so the default is the value the presets were measured with.
    r1_gamma: float = Field(
        4.0, ge=0.0, le=1000.0, description="R1 penalty weight on D's gradient at real images (0: off)"
    )
    r1_every: int = Field(4, ge=1, le=64, description="Lazy R1: the penalty every this many D steps, scaled to match")
    mapping_lr_mul: float = Field(0.01, gt=0.0, le=1.0, description="Learning-rate multiplier of the mapping network")
    w_avg_beta: float = Field(
        0.995, ge=0.0, lt=1.0, description="Decay of the tracked mean of w (the truncation centre)"
    )
    truncation_psi: float = Field(
        1.0,
        description="Truncation psi of samples, metrics and exports: w pulled toward the tracked mean w "
        "(1: none, the full variety; 0: the average image)",
    )
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0, description="EMA of generator weights (0: off); samples use it")
    ema_start_step: int = Field(0, ge=0, le=10_000_000, description="Generator steps before the EMA starts averaging")
    diffaugment: DiffAugmentPolicy = Field(
        "off", description="Differentiable augmentation of real and fake images seen by D (small data sets)"
    )
    progressive: bool = Field(
        False,
        description="Progressive growing (ProGAN): start at start_size and double with a fade-in up to the image size",
    )
    start_size: int = Field(8, ge=4, le=64, description="Progressive growing: the first resolution (a power of two)")
    stable_steps: int = Field(
        600, ge=1, le=10_000_000, description="Progressive growing: generator steps at each resolution once faded in"
    )
    fade_steps: int = Field(
        600,
        ge=1,
        le=10_000_000,
        description="Progressive growing: generator steps over which a new resolution fades in",
    )

    @field_validator("truncation_psi", mode="before")
    @classmethod
    def _psi(cls, v: float) -> float:
        problem = truncation_problem(v)
        if problem:
            raise ValueError(problem)
        return v


def check_growth(image_size: int, model: StyleGANModelConfig) -> None:
    """The synthesis doubles from a 4x4 constant; growing doubles from start_size up to the image size."""
    if not _power_of_two(image_size) or image_size < 8:
        raise ValueError(
            f"data.image_size: StyleGAN doubles from a 4x4 constant, so the image side must be a power of two "
            f"(16, 32 or 64); got {image_size}"
        )
    if not model.progressive:
        return
    start = model.start_size
    if not _power_of_two(start):
        raise ValueError(f"model.start_size: progressive growing starts at a power of two (4, 8, 16 ...); got {start}")
    if image_size <= start or not _power_of_two(image_size // start) or image_size % start:
        sizes = [s for s in (4, 8, 16, 32) if s < image_size]
        raise ValueError(
            f"model.start_size: progressive growing doubles from start_size to data.image_size, so the final size "
            f"must be start_size times a power of two; {image_size} is not {start} x 2^k. "
            f"Use a start_size of {', '.join(map(str, sizes))} for {image_size} px"
        )


class StyleGANRunConfig(RunConfig):
    family: Literal["stylegan"] = Field("stylegan", description="Model family")
    data: ImageDataConfig = Field(default_factory=lambda: ImageDataConfig(image_size=32), description="Images")
    model: StyleGANModelConfig = Field(
        default_factory=StyleGANModelConfig, description="StyleGAN-lite networks, regularisers and growing"
    )
    optim: GANOptimConfig = Field(
        default_factory=lambda: GANOptimConfig(lr_g=2e-3, lr_d=2e-3, beta1=0.0, beta2=0.99),
        description="Optimizers of generator and discriminator",
    )
    metrics: ImageMetricsConfig = Field(
        default_factory=ImageMetricsConfig, description="Sample-quality metrics (FID, KID, precision/recall)"
    )

    @model_validator(mode="after")
    def _check_growth(self) -> StyleGANRunConfig:
        check_growth(self.data.image_size, self.model)
        return self


TINY_STYLEGAN: dict = {
    "data": {"name": "digits", "image_size": 16, "batch_size": 8, "max_items": 64},
    "model": {
        "latent_dim": 8,
        "w_dim": 8,
        "mapping_layers": 2,
        "g_width": 8,
        "d_width": 8,
        "progressive": True,
        "start_size": 8,
        "stable_steps": 1,
        "fade_steps": 2,
        "r1_every": 2,
        "truncation_psi": 0.7,
    },
    "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 1, "log_every_n_steps": 1},
    "logging": {"sample_every_n_steps": 4, "n_samples": 16},
    "metrics": {"features": "pixels", "fid_samples": 64, "class_metrics": False},
}

FAMILY = Family(
    name="stylegan",
    title="StyleGAN-lite",
    summary="StyleGAN2's style-based generator on a CPU: truncation, style mixing, a walk in W; optional "
    "progressive growing (8 -> 16 -> 32 px).",
    kind="image",
    config_cls=StyleGANRunConfig,
    monitor="val/fid",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "StyleMixer", "Truncatable", "Exportable"),
    tiny_overrides=TINY_STYLEGAN,
    sweep_space={
        **GAN_SWEEP_SPACE,
        "optim.beta1": {"choices": [0.0]},
        "model.r1_gamma": {"low": 1.0, "high": 16.0, "log": True},
    },
)
