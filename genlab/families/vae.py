"""VAE family config: a convolutional (beta-)VAE for 16-64 px images, grey or colour."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.config import OptimConfig, RunConfig, Section


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
    model: VAEModelConfig = Field(default_factory=VAEModelConfig, description="VAE architecture and loss")
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=2e-3), description="Optimizer and schedule")
