"""pix2pix family config (paired image-to-image translation). Torch-free."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import PairedDataConfig
from genlab.families.gan_common import check_patchgan
from genlab.families.spec import Family


class Pix2PixModelConfig(Section):
    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="Which way to translate: A->B or B->A")
    gen_width: int = Field(32, ge=4, le=256, description="Channels of the U-Net's first layer (ngf; 64 in the paper)")
    unet_depth: int = Field(
        5, ge=2, le=8, description="Down-sampling levels of the U-Net (at most log2(image_size); 8 for 256 px)"
    )
    dropout: float = Field(
        0.5, ge=0.0, le=0.9, description="Dropout in the three innermost decoder blocks (the paper's noise source)"
    )
    norm: Literal["batch", "instance"] = Field("batch", description="Normalisation layers of both networks")
    disc_width: int = Field(32, ge=4, le=256, description="Channels of the discriminator's first conv layer (ndf)")
    disc_layers: int = Field(
        3, ge=1, le=5, description="Strided layers of the conditional PatchGAN (3 gives the 70x70 receptive field)"
    )
    gan_mode: Literal["vanilla", "lsgan"] = Field(
        "vanilla", description="Adversarial loss: vanilla (BCE, the paper) or least squares"
    )
    lambda_l1: float = Field(100.0, ge=0.0, le=10_000.0, description="Weight of the L1 loss to the target image")
    lr_d: float | None = Field(None, gt=0.0, le=1.0, description="Discriminator learning rate (empty: optim.lr)")
    constant_lr_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of training at constant learning rate before it decays linearly to zero"
    )
    eval_fid: bool = Field(False, description="Also compute FID/KID of the translations at validation (slow on a CPU)")
    fid_features: Literal["inception", "pixels"] = Field(
        "inception",
        description="FID/KID feature space: Inception-v3 (standard; slow on a CPU) or 16x16 pixels (fast, only comparable between GenLab runs)",
    )
    n_panel: int = Field(
        6, ge=1, le=32, description="Validation images in each sample panel (input | translation | target)"
    )


def _paired_default() -> PairedDataConfig:
    return PairedDataConfig(paired=True)


class Pix2PixRunConfig(RunConfig):
    family: Literal["pix2pix"] = Field("pix2pix", description="Model family")
    data: PairedDataConfig = Field(default_factory=_paired_default, description="Aligned image pairs")
    model: Pix2PixModelConfig = Field(default_factory=Pix2PixModelConfig, description="pix2pix networks and losses")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=2e-4, beta1=0.5),
        description="Optimizer (Adam 2e-4, beta1 0.5 in the paper); the schedule is constant-then-linear-decay",
    )

    @model_validator(mode="before")
    @classmethod
    def _paired_by_default(cls, raw: Any) -> Any:
        """A partial data section (from YAML or a form) is paired unless it says otherwise."""
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict) and "paired" not in raw["data"]:
            raw = {**raw, "data": {**raw["data"], "paired": True}}
        return raw

    @model_validator(mode="after")
    def _check_pix2pix(self) -> Pix2PixRunConfig:
        if not self.data.paired:
            raise ValueError(
                "data.paired must be true for pix2pix (it learns from aligned pairs; use cyclegan for unpaired data)"
            )
        if 2**self.model.unet_depth > self.data.image_size:
            raise ValueError(
                f"model.unet_depth {self.model.unet_depth} halves {self.data.image_size} px below 1 px; "
                f"use at most {self.data.image_size.bit_length() - 1}"
            )
        check_patchgan(self.data.image_size, self.model.disc_layers)
        return self


FAMILY = Family(
    name="pix2pix",
    title="pix2pix",
    summary="Paired image-to-image translation A -> B (U-Net generator, conditional PatchGAN, L1 x 100).",
    kind="paired",
    config_cls=Pix2PixRunConfig,
    monitor="val/l1",
    mode="min",
    capabilities=("Translator", "Exportable"),
    tiny_overrides={
        "data": {"name": "edges2emoji", "image_size": 16, "batch_size": 4, "max_items": 32, "min_images": 8},
        "model": {"gen_width": 8, "unet_depth": 4, "disc_width": 8, "disc_layers": 2, "n_panel": 4},
        "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 8},
    },
    sweep_space={
        "optim.lr": {"low": 5e-5, "high": 1e-3, "log": True},
        "model.lambda_l1": {"low": 10.0, "high": 200.0, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.5},
    },
)
