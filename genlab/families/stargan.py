"""StarGAN family config (Choi et al., 2018): one generator translates an image into any of several domains.

Torch-free: the UI form and `runs list` read these classes without importing torch. The data section
(several unpaired image domains) is genlab/core/data_config.py's MultiDomainDataConfig.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import MultiDomainDataConfig
from genlab.families.spec import Family


class StarGANModelConfig(Section):
    gen_width: int = Field(
        32, ge=4, le=256, description="Channels of the generator's first conv layer (conv_dim; 64 in the paper)"
    )
    gen_blocks: int = Field(
        6, ge=1, le=12, description="Residual blocks at the generator's bottleneck (6 in the paper)"
    )
    disc_width: int = Field(
        32, ge=4, le=256, description="Channels of the discriminator's first conv layer (64 in the paper)"
    )
    disc_layers: int = Field(
        4,
        ge=1,
        le=7,
        description="Strided layers of the discriminator (6 for 128 px in the paper; image_size / 2**layers >= 1)",
    )
    lambda_cls: float = Field(1.0, ge=0.0, le=100.0, description="Weight of the domain-classification loss")
    lambda_rec: float = Field(
        10.0, ge=0.0, le=1000.0, description="Weight of the cycle reconstruction L1 (x -> target -> original domain)"
    )
    lambda_gp: float = Field(10.0, ge=0.0, le=1000.0, description="Weight of the WGAN-GP gradient penalty")
    n_critic: int = Field(5, ge=1, le=20, description="Discriminator updates per generator update (5 in the paper)")
    constant_lr_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of training at constant learning rate before it decays linearly to zero"
    )
    eval_fid: bool = Field(False, description="Also compute FID/KID per target domain at validation (slow on a CPU)")
    fid_features: Literal["inception", "pixels"] = Field(
        "inception",
        description="FID/KID feature space: Inception-v3 (standard; slow on a CPU) or 16x16 pixels (fast, only comparable between GenLab runs)",
    )
    n_panel: int = Field(6, ge=1, le=32, description="Validation images in the sample panel (each into every domain)")


class StarGANRunConfig(RunConfig):
    family: Literal["stargan"] = Field("stargan", description="Model family")
    data: MultiDomainDataConfig = Field(default_factory=MultiDomainDataConfig, description="Several image domains")
    model: StarGANModelConfig = Field(default_factory=StarGANModelConfig, description="StarGAN networks and losses")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=1e-4, beta1=0.5, beta2=0.999),
        description="Optimizer (Adam 1e-4, betas 0.5/0.999 in the paper) for both nets; constant then linear decay",
    )

    @model_validator(mode="after")
    def _check_nets(self) -> StarGANRunConfig:
        size, layers = self.data.image_size, self.model.disc_layers
        if size // 2**layers < 1:
            fit = size.bit_length() - 1
            raise ValueError(f"model.disc_layers {layers} is too deep for {size} px images; use at most {fit}")
        return self


# Multi-domain image-to-image translation (several unpaired domains; datamodules/multi_domain.py).
FAMILY = Family(
    name="stargan",
    title="StarGAN",
    summary="One generator translates an image into any of several domains (domain-conditioned, WGAN-GP, cycle loss).",
    kind="paired",
    config_cls=StarGANRunConfig,
    monitor="val/cycle_l1",
    mode="min",
    capabilities=("Translator", "MultiDomainTranslator", "Exportable"),
    tiny_overrides={
        "data": {"name": "emoji3_faces", "image_size": 16, "batch_size": 4, "max_items": 16, "val_fraction": 0.25},
        "model": {"gen_width": 4, "gen_blocks": 1, "disc_width": 4, "disc_layers": 3, "n_critic": 2, "n_panel": 3},
        "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 8},
    },
    sweep_space={
        "optim.lr": {"low": 3e-5, "high": 5e-4, "log": True},
        "model.lambda_rec": {"low": 2.0, "high": 20.0, "log": True},
        "model.lambda_cls": {"low": 0.25, "high": 4.0, "log": True},
    },
)
