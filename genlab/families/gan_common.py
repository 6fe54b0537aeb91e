"""What the image GAN families share in their torch-free configs: the two-rate optimizer section, the GAN
model section (nets, loss, stabilisers), its WGAN-GP check, the PatchGAN depth check of the translation
GANs, the seconds-long tiny setting and the default sweep space. No family is named here: each family's
spec file picks the pieces it uses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from genlab.core.config import OptimBase, Section

GANLoss = Literal["nonsat", "hinge", "wgan-gp"]
DiffAugmentPolicy = Literal["off", "translation", "color,translation", "color,translation,cutout"]


class GANOptimConfig(OptimBase):
    """Two learning rates, one per network (TTUR: D may learn faster than G), on the shared optimizer fields."""

    lr_g: float = Field(2e-4, gt=0.0, le=1.0, description="Generator learning rate")
    lr_d: float = Field(2e-4, gt=0.0, le=1.0, description="Discriminator (critic) learning rate")
    beta1: float = Field(
        0.5, ge=0.0, lt=1.0, description="Adam first-moment decay (0.5 in Radford et al., 0 for WGAN-GP)"
    )
    n_critic: int = Field(1, ge=1, le=20, description="Discriminator steps per generator step (5 for WGAN-GP)")


class GANModelConfig(Section):
    """A DCGAN-shaped generator and discriminator, the adversarial loss and the stabilisers against collapse."""

    latent_dim: int = Field(100, ge=2, le=1024, description="Size of the noise vector z the generator starts from")
    g_width: int = Field(
        64, ge=4, le=1024, description="Generator width: channels of its last hidden layer (doubling towards the input)"
    )
    d_width: int = Field(
        64, ge=4, le=1024, description="Discriminator width: channels of its first layer (doubling with depth)"
    )
    g_batchnorm: bool = Field(True, description="BatchNorm in the generator (on in Radford et al.)")
    d_norm: Literal["auto", "batch", "layer", "none"] = Field(
        "auto",
        description="Normalisation in the discriminator; auto: batch, but layer for WGAN-GP and none with spectral norm",
    )
    leaky_slope: float = Field(0.2, ge=0.0, le=1.0, description="Negative slope of the discriminator's LeakyReLU")
    loss: GANLoss = Field(
        "nonsat", description="Adversarial loss: non-saturating BCE, hinge, or Wasserstein with gradient penalty"
    )
    gp_weight: float = Field(10.0, ge=0.0, le=1000.0, description="WGAN-GP gradient-penalty weight")
    label_smoothing: float = Field(
        0.0, ge=0.0, le=0.5, description="One-sided label smoothing: real targets become 1 - this (BCE loss only)"
    )
    instance_noise: float = Field(
        0.0, ge=0.0, le=2.0, description="Std of Gaussian noise added to the discriminator's inputs, annealed to 0"
    )
    instance_noise_steps: int = Field(
        2000, ge=1, le=10_000_000, description="Generator steps over which the instance noise decays to 0"
    )
    spectral_norm: bool = Field(
        False, description="Spectral normalisation of every discriminator layer (Miyato et al.)"
    )
    minibatch_std: bool = Field(
        False,
        description="Minibatch standard-deviation channel before the discriminator's last layer (shows D the batch variety)",
    )
    ema_decay: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Exponential moving average of generator weights (0: off; 0.999 typical); samples come from the EMA copy",
    )
    ema_start_step: int = Field(
        0,
        ge=0,
        le=10_000_000,
        description="Generator steps before the EMA starts averaging (it copies the weights until then)",
    )
    diffaugment: DiffAugmentPolicy = Field(
        "off", description="Differentiable augmentation of real and fake images seen by D (small data sets)"
    )


def check_gan(model: GANModelConfig) -> None:
    """Batch norm in the critic breaks the WGAN-GP gradient penalty (it mixes the samples of a batch)."""
    if model.loss == "wgan-gp" and model.d_norm == "batch":
        raise ValueError("model.d_norm: batch norm breaks the WGAN-GP gradient penalty; use auto, layer or none")


def check_patchgan(image_size: int, disc_layers: int) -> None:
    """A PatchGAN with n strided layers needs image_size / 2**n >= 3 to output at least one patch."""
    if image_size / 2**disc_layers < 3:
        fit = max(1, (image_size // 3).bit_length() - 1)
        raise ValueError(f"model.disc_layers {disc_layers} is too deep for {image_size} px images; use at most {fit}")


# The same seconds-long setting for the image GANs (tests, docs, quick tries).
TINY_GAN: dict = {
    "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 96},
    "model": {"latent_dim": 8, "g_width": 8, "d_width": 8},
    "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
    "logging": {"sample_every_n_steps": 4, "n_samples": 16},
    "metrics": {"features": "pixels", "fid_samples": 64, "class_metrics": False},
}

# GANs monitor FID (logged at every validation by callbacks/image_metrics.py; a validation between
# measurements repeats the last value, so "best" stays the measured best).
# The default search space of a GAN sweep: the two learning rates (TTUR) and Adam's momentum.
GAN_SWEEP_SPACE: dict[str, Any] = {
    "optim.lr_g": {"low": 5e-5, "high": 1e-3, "log": True},
    "optim.lr_d": {"low": 5e-5, "high": 1e-3, "log": True},
    "optim.beta1": {"choices": [0.0, 0.5]},
}
