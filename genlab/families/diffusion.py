"""Diffusion family config (torch-free): a diffusers UNet2DModel trained from scratch on small image sets.

Three objectives share one network: noise prediction (DDPM), v-prediction, and flow matching (rectified
flow). The sampler, its number of steps and the guidance scale are chosen when sampling; the values here
are only the defaults the sample grids, FID and the Playground start from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.core.config import OptimConfig, RunConfig, Section
from genlab.core.data_config import ImageDataConfig
from genlab.families.spec import Family
from genlab.metrics.config import ImageMetricsConfig

Objective = Literal["epsilon", "v_prediction", "flow_matching"]
Sampler = Literal["auto", "ddpm", "ddim", "dpmsolver++", "euler"]
# Which samplers solve which objective: the DDPM family of schedulers integrates a noise schedule, Euler
# integrates the straight-line flow of flow matching.
SAMPLERS_FOR: dict[str, tuple[str, ...]] = {
    "epsilon": ("ddpm", "ddim", "dpmsolver++"),
    "v_prediction": ("ddpm", "ddim", "dpmsolver++"),
    "flow_matching": ("euler",),
}
MAX_SAMPLING_STEPS = 1000  # the training timesteps bound any sampler's steps


class DiffusionModelConfig(Section):
    objective: Objective = Field(
        "flow_matching",
        description="What the UNet learns: the added noise (epsilon, DDPM), v-prediction, or the straight-line velocity (flow matching)",
    )
    noise_schedule: Literal["cosine", "linear"] = Field(
        "cosine", description="Noise schedule of epsilon and v-prediction (flow matching uses a straight line)"
    )
    train_timesteps: int = Field(
        1000, ge=10, le=MAX_SAMPLING_STEPS, description="Noise levels of the training schedule"
    )
    base_width: int = Field(
        32, ge=8, le=512, description="Channels of the UNet's first level (a multiple of 8: group norm uses 8 groups)"
    )
    width_mults: list[int] = Field(
        [1, 2, 2],
        min_length=1,
        max_length=5,
        description="Channels of each UNet level as multiples of base_width; each level after the first halves the image",
    )
    layers_per_block: int = Field(1, ge=1, le=4, description="ResNet blocks per UNet level")
    attention: bool = Field(True, description="Self-attention at the lowest resolution level")
    conditional: bool = Field(
        False, description="Class-conditional: the UNet sees the label (needs a labelled set); enables guidance"
    )
    label_dropout: float = Field(
        0.1,
        ge=0.0,
        le=0.9,
        description="Conditional runs: share of labels replaced by 'no class' in training (classifier-free guidance learns from it)",
    )
    ema_decay: float = Field(
        0.999, ge=0.0, lt=1.0, description="Decay of the EMA weights (0: none); samples come from the EMA copy"
    )
    sampler: Sampler = Field(
        "auto",
        description="Default sampler of grids, FID and the Playground (auto: DDIM, or Euler for flow matching); any sampler that fits the objective can be chosen when sampling",
    )
    sampling_steps: int = Field(
        30, ge=1, le=MAX_SAMPLING_STEPS, description="Default number of sampling steps (fewer: faster, rougher)"
    )
    guidance_scale: float = Field(
        2.0,
        ge=0.0,
        le=20.0,
        description="Default classifier-free guidance of conditional runs (1: plain conditional, higher: more typical of the class)",
    )

    @model_validator(mode="after")
    def _check(self) -> DiffusionModelConfig:
        if self.base_width % 8:
            raise ValueError(f"model.base_width: {self.base_width} is not a multiple of 8 (group norm uses 8 groups)")
        if any(m < 1 or m > 16 for m in self.width_mults):
            raise ValueError("model.width_mults: each multiple must be between 1 and 16")
        if self.sampler != "auto" and self.sampler not in SAMPLERS_FOR[self.objective]:
            raise ValueError(
                f"model.sampler: {self.sampler} does not solve the {self.objective} objective; "
                f"choose auto or one of {', '.join(SAMPLERS_FOR[self.objective])}"
            )
        return self


class DiffusionRunConfig(RunConfig):
    family: Literal["diffusion"] = Field("diffusion", description="Model family")
    data: ImageDataConfig = Field(default_factory=ImageDataConfig, description="Images (labelled for conditional runs)")
    model: DiffusionModelConfig = Field(
        default_factory=DiffusionModelConfig, description="UNet, objective, EMA and sampling defaults"
    )
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(optimizer="adamw", lr=1e-3, warmup_steps=100),
        description="Optimizer and schedule",
    )
    metrics: ImageMetricsConfig = Field(
        default_factory=lambda: ImageMetricsConfig(fid_every_n_epochs=10, fid_samples=500),
        description="Sample-quality metrics (FID, KID, precision/recall): the same Inception features as the GANs",
    )

    @model_validator(mode="after")
    def _check_size(self) -> DiffusionRunConfig:
        halvings = len(self.model.width_mults) - 1
        if self.data.image_size % 2**halvings:
            fits = max(k for k in range(halvings + 1) if self.data.image_size % 2**k == 0)
            raise ValueError(
                f"model.width_mults: {len(self.model.width_mults)} levels halve the image {halvings} times, which "
                f"{self.data.image_size} px cannot divide; use at most {fits + 1} levels for {self.data.image_size} px"
            )
        return self


FAMILY = Family(
    name="diffusion",
    title="Diffusion",
    summary="Denoising diffusion and flow matching (diffusers UNet): DDPM, DDIM, DPM-Solver++ or Euler sampling, class guidance.",
    kind="image",
    config_cls=DiffusionRunConfig,
    monitor="val/loss",
    mode="min",
    capabilities=("ImageSampler", "LatentWalker", "DenoisingSampler", "Exportable"),
    tiny_overrides={
        "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 96},
        "model": {"base_width": 8, "width_mults": [1, 2], "train_timesteps": 50, "sampling_steps": 3},
        "trainer": {"max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 1, "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 2, "n_samples": 4},
        "metrics": {"features": "pixels", "fid_samples": 50, "fid_every_n_epochs": 1, "class_metrics": False},
    },
    sweep_space={
        "optim.lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "model.base_width": {"choices": [16, 32, 48]},
        "model.ema_decay": {"choices": [0.99, 0.995, 0.999]},
    },
)
