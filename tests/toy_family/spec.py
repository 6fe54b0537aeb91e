"""A toy family, as a contributor writes one: the torch-free config and its FAMILY spec (file 1 of 2), the
template of genlab/families/<name>.py. The spec names no module: the module imports it.

A linear autoencoder over tiny images with a Gaussian latent: enough to sample, walk and reconstruct.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import ImageDataConfig
from genlab.families.spec import Family


class ToyModelConfig(Section):
    latent_dim: int = Field(4, ge=1, le=64, description="Size of the latent code")


class ToyRunConfig(RunConfig):
    family: Literal["toy"] = Field("toy", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Images")
    model: ToyModelConfig = Field(default_factory=ToyModelConfig, description="The toy network")
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=1e-2), description="Optimizer")


FAMILY = Family(
    name="toy",
    title="Toy autoencoder",
    summary="A linear autoencoder: the smallest family, written to prove adding one needs two files.",
    kind="image",
    config_cls=ToyRunConfig,
    monitor="val/loss",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "Reconstructor"),
    tiny_overrides={
        "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 64},
        "trainer": {"max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 1, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 4},
    },
)
