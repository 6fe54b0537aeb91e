"""VAE family config: a convolutional (beta-)VAE for 16-64 px images, grey or colour."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import ImageDataConfig
from genlab.families.spec import Family


class VAEModelConfig(Section):
    latent_dim: int = Field(16, ge=1, le=1024, description="Size of the latent code z")
    base_width: int = Field(
        32, ge=4, le=512, description="Channels of the first conv layer (doubles at each downsampling)"
    )
    beta: float = Field(
        1.0, ge=0.0, le=100.0, description="Weight of the KL term (beta-VAE); 0 trains a plain autoencoder"
    )
    kl_warmup_steps: int = Field(
        0, ge=0, le=10_000_000, description="Ramp the KL weight from 0 to beta over this many steps"
    )
    reconstruction: Literal["bce", "mse"] = Field(
        "bce", description="Reconstruction loss: BCE (sharp for digits) or MSE"
    )


class VAERunConfig(RunConfig):
    family: Literal["vae"] = Field("vae", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Images")
    model: VAEModelConfig = Field(default_factory=VAEModelConfig, description="VAE architecture and loss")
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=2e-3), description="Optimizer and schedule")


FAMILY = Family(
    name="vae",
    title="VAE",
    summary="Variational autoencoder: learns a smooth latent space; samples, reconstructions and interpolations.",
    kind="image",
    config_cls=VAERunConfig,
    monitor="val/loss",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "Reconstructor", "Encoder", "Exportable"),
    tiny_overrides={
        "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 96},
        "model": {"latent_dim": 4, "base_width": 8},
        "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 8},
    },
    sweep_space={
        "optim.lr": {"low": 1e-4, "high": 1e-2, "log": True},
        "model.latent_dim": {"choices": [8, 16, 32]},
        "model.base_width": {"choices": [16, 32, 64]},
    },
)
