"""CycleGAN family config (unpaired image-to-image translation) (the two-domain data section is in genlab/core/data_config.py).

Torch-free: the UI form and `runs list` read these classes without importing torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import PairedDataConfig
from genlab.families.gan_common import check_patchgan
from genlab.families.spec import Family


class CycleGANModelConfig(Section):
    gen_width: int = Field(
        32, ge=4, le=256, description="Channels of the generators' first conv layer (ngf; 64 in the paper)"
    )
    gen_blocks: Literal[2, 3, 4, 6, 9] = Field(
        6, description="ResNet blocks in each generator (6 for 128 px, 9 for 256 px in the paper)"
    )
    disc_width: int = Field(
        32, ge=4, le=256, description="Channels of the discriminators' first conv layer (ndf; 64 in the paper)"
    )
    disc_layers: int = Field(
        3, ge=1, le=5, description="Strided layers of the PatchGAN (3 gives the 70x70 receptive field)"
    )
    lambda_cycle: float = Field(
        10.0, ge=0.0, le=1000.0, description="Weight of the cycle-consistency L1 loss (A->B->A and B->A->B)"
    )
    lambda_identity: float = Field(
        0.5,
        ge=0.0,
        le=10.0,
        description="Identity loss weight, relative to lambda_cycle (only when A and B have the same channels)",
    )
    pool_size: int = Field(50, ge=0, le=1000, description="Past fakes kept to train the discriminators on (0: no pool)")
    lr_d: float | None = Field(None, gt=0.0, le=1.0, description="Discriminator learning rate (empty: optim.lr)")
    constant_lr_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of training at constant learning rate before it decays linearly to zero"
    )
    eval_fid: bool = Field(False, description="Also compute FID/KID per direction at validation (slow on a CPU)")
    fid_features: Literal["inception", "pixels"] = Field(
        "inception",
        description="FID/KID feature space: Inception-v3 (standard; slow on a CPU) or 16x16 pixels (fast, only comparable between GenLab runs)",
    )
    n_panel: int = Field(
        6, ge=1, le=32, description="Validation images in each sample panel (input | translation | reconstruction)"
    )


class CycleGANRunConfig(RunConfig):
    family: Literal["cyclegan"] = Field("cyclegan", description="Model family")
    data: PairedDataConfig = Field(default_factory=PairedDataConfig, description="Two image domains")
    model: CycleGANModelConfig = Field(default_factory=CycleGANModelConfig, description="CycleGAN networks and losses")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=2e-4, beta1=0.5),
        description="Optimizer (Adam 2e-4, beta1 0.5 in the paper); the schedule is constant-then-linear-decay",
    )

    @model_validator(mode="after")
    def _check_nets(self) -> CycleGANRunConfig:
        check_patchgan(self.data.image_size, self.model.disc_layers)
        return self


# Image-to-image translation (two domains A and B; datamodules/paired.py).
FAMILY = Family(
    name="cyclegan",
    title="CycleGAN",
    summary="Unpaired image-to-image translation A <-> B (two ResNet generators, PatchGANs, cycle loss).",
    kind="paired",
    config_cls=CycleGANRunConfig,
    monitor="val/cycle_l1",
    mode="min",
    capabilities=("Translator", "Exportable"),
    tiny_overrides={
        "data": {"name": "edges2emoji", "image_size": 16, "batch_size": 4, "max_items": 32, "min_images": 8},
        "model": {"gen_width": 8, "gen_blocks": 2, "disc_width": 8, "disc_layers": 2, "pool_size": 8, "n_panel": 4},
        "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 8},
    },
    sweep_space={
        "optim.lr": {"low": 5e-5, "high": 1e-3, "log": True},
        "model.lambda_cycle": {"low": 2.0, "high": 20.0, "log": True},
        "model.lambda_identity": {"low": 0.0, "high": 1.0},
    },
)
