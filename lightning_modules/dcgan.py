"""DCGAN (Radford et al. 2015): the unconditional GAN over the shared nets and training step of
gan_common.py (losses, DiffAugment, EMA, GANModule)."""

from __future__ import annotations

import torch

from genlab.families.dcgan import FAMILY
from lightning_modules.gan_common import Discriminator, GANModule, Generator


class DCGANModule(GANModule):
    """Unconditional DCGAN; samples come from fixed z (EMA generator when enabled)."""

    family = FAMILY

    def build_nets(self) -> None:
        m = self.run_config.model
        self.generator = Generator(m.latent_dim, self.channels, self.image_size, m.g_width, m.g_batchnorm)
        self.discriminator = Discriminator(
            self.channels, self.image_size, m.d_width, self.d_norm, m.spectral_norm, m.minibatch_std, m.leaky_slope
        )

    def generate_from(self, net: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return net(z)  # (B, C, S, S) in [-1, 1]

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.discriminator(x)  # (B,)
