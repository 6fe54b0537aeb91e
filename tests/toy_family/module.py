"""The toy family's module (file 2 of 2), the template of lightning_modules/<name>.py: a linear autoencoder
with the three image capabilities. Setting `family = FAMILY` in the class body makes it the family's module;
`datamodule_class` says what feeds it. The optional hooks (sample_grid_rows, conditional, ...) are
declared with their defaults on GenLabModule (docs/ARCHITECTURE.md, "Adding a family")."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from datamodules.images import ImageDataModule
from lightning_modules.base import GenLabModule, Labels
from tests.toy_family.spec import FAMILY


class ToyModule(GenLabModule):
    family = FAMILY
    datamodule_class = ImageDataModule

    def __init__(self, config: Any, data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        c, s, d = int(data_info["channels"]), int(data_info["image_size"]), self.run_config.model.latent_dim
        self.shape = (c, s, s)
        self.encoder = nn.Linear(c * s * s, d)  # (B, C*S*S) -> (B, D)
        self.decoder = nn.Linear(d, c * s * s)  # (B, D) -> (B, C*S*S)
        g = torch.Generator().manual_seed(self.run_config.seed)
        self.register_buffer("fixed_z", torch.randn(self.run_config.logging.n_samples, d, generator=g))

    @property
    def latent_dim(self) -> int:
        return int(self.run_config.model.latent_dim)

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z.to(self.device))).view(-1, *self.shape)

    def sample_images_n(self, n: int, *, seed: int = 0, labels: Labels = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self.images_from_latents(z)

    def class_names(self) -> list[str]:
        return []

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.images_from_latents(self.encoder(x.flatten(1)))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.reconstruct(x), x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch[0])
        self.log_step({"train/loss": loss}, batch[0].shape[0])
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self.loss(batch[0]), on_epoch=True, batch_size=batch[0].shape[0])

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        return self.images_from_latents(self.fixed_z)

    def sample_images(self) -> dict[str, torch.Tensor]:
        return {"samples": self.reference_output()}
