"""Conditional GAN: a DCGAN whose generator gets a label embedding beside z and whose discriminator
sees the label by projection (Miyato & Koyama 2018) or as one-hot planes concatenated to the image."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.errors import DataError
from genlab.families.cgan import FAMILY
from lightning_modules.gan_common import Discriminator, GANModule, Generator, normal_init


class ConditionalGenerator(nn.Module):
    """(z (B, D), y (B,)) -> image (B, C, S, S): z concatenated with a learned label embedding."""

    def __init__(
        self, latent_dim: int, num_classes: int, embed_dim: int, channels: int, size: int, width: int, batchnorm: bool
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = Generator(latent_dim + embed_dim, channels, size, width, batchnorm)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # same scale as z, so the label is not drowned out

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(y).to(z.dtype)], dim=1))


class ConditionalDiscriminator(nn.Module):
    """(x, y) -> logit (B,). projection: psi(h) + <embed(y), h>; concat: one-hot planes as extra channels."""

    def __init__(self, channels: int, size: int, width: int, num_classes: int, mode: str, **kw: Any) -> None:
        super().__init__()
        self.mode, self.num_classes = mode, num_classes
        if mode == "projection":
            self.body = Discriminator(channels, size, width, feature_out=True, **kw)
            self.linear = nn.Linear(self.body.feature_dim, 1)
            self.embed = nn.Embedding(num_classes, self.body.feature_dim)
            if kw.get("spectral_norm"):
                self.linear = nn.utils.spectral_norm(self.linear)
                self.embed = nn.utils.spectral_norm(self.embed)
            normal_init(self.linear)
            nn.init.normal_(getattr(self.embed, "weight_orig", self.embed.weight), 0.0, 0.1)
        else:
            self.body = Discriminator(channels + num_classes, size, width, **kw)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.mode == "projection":
            h = self.body(x)  # (B, F)
            return self.linear(h).squeeze(1) + (self.embed(y).to(h.dtype) * h).sum(dim=1)  # (B,)
        planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return self.body(torch.cat([x, planes], dim=1))


class CGANModule(GANModule):
    """Class-conditional DCGAN: pick the class to generate; per-class sample grids."""

    conditional = True
    family = FAMILY

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        num_classes = int(data_info.get("num_classes") or 0)
        if num_classes < 2:
            name = data_info.get("name", "this data set")
            raise DataError(
                f"The conditional GAN needs class labels, and {name!r} has "
                f"{'none' if num_classes == 0 else 'only one class'}. Use a labelled set (mnist, animals, digits), "
                "a folder or zip with one sub-folder per class, or a Hugging Face dataset with a label column; "
                "or train the unconditional DCGAN instead (family: dcgan)."
            )
        self.num_classes = num_classes
        super().__init__(config, data_info)

    def build_nets(self) -> None:
        m = self.run_config.model
        self.generator = ConditionalGenerator(
            m.latent_dim, self.num_classes, m.embed_dim, self.channels, self.image_size, m.g_width, m.g_batchnorm
        )
        self.discriminator = ConditionalDiscriminator(
            self.channels,
            self.image_size,
            m.d_width,
            self.num_classes,
            m.d_conditioning,
            norm=self.d_norm,
            spectral_norm=m.spectral_norm,
            minibatch_std=m.minibatch_std,
            leaky_slope=m.leaky_slope,
        )

    def _labels(self, y: torch.Tensor) -> torch.Tensor:
        return y.long()

    def generate_from(self, net: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        assert y is not None, "the conditional generator needs labels"
        return net(z, y.clamp(min=0))

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        assert y is not None, "the conditional discriminator needs labels"
        return self.discriminator(x, y.clamp(min=0))

    def class_names(self) -> list[str]:
        names = list(self.data_info.get("class_names") or [])
        return names if len(names) == self.num_classes else [str(i) for i in range(self.num_classes)]

    def sample_images(self) -> dict[str, torch.Tensor]:
        """Adds `per_class`: a K x K grid, row k = class k, columns = the same K fixed z across rows."""
        out = super().sample_images()
        k = self.num_classes
        z = (
            self.fixed_z[:k]
            if self.fixed_z.shape[0] >= k
            else torch.randn(
                k, self.fixed_z.shape[1], generator=torch.Generator().manual_seed(self.run_config.seed + 2)
            ).to(self.device)
        )
        z = z.repeat(k, 1)  # (K*K, D): row-major, row = class
        labels = torch.arange(k).repeat_interleave(k)
        out["per_class"] = self.generate(k * k, labels=labels, z=z)
        return out

    def sample_grid_rows(self) -> dict[str, int]:
        return {**super().sample_grid_rows(), "per_class": self.num_classes}  # row k = class k
