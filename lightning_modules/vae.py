"""Convolutional (beta-)VAE for 16, 28, 32 and 64 px images, grey or colour.

beta = 0 gives a plain autoencoder; kl_warmup_steps ramps beta from 0 (avoids posterior collapse).
Logs train/val loss (the negative ELBO per image), reconstruction and KL.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from datamodules.images import ImageDataModule
from genlab.families.vae import FAMILY
from lightning_modules.base import GenLabModule, Labels
from lightning_modules.export_nets import ExportNet

# Downsamplings by image size: 28 -> 14 -> 7; 16 -> 8 -> 4; 32 -> 4 in 3; 64 -> 4 in 4.
N_DOWN = {16: 2, 28: 2, 32: 3, 64: 4}


def conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)
    )


def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ConvVAE(nn.Module):
    def __init__(self, channels: int, image_size: int, latent_dim: int, base_width: int) -> None:
        super().__init__()
        if image_size not in N_DOWN:
            raise ValueError(f"image_size {image_size} not supported; use one of {sorted(N_DOWN)}")
        n = N_DOWN[image_size]
        widths = [base_width * 2**i for i in range(n)]
        self.bottom = image_size // 2**n
        self.top_width = widths[-1]
        enc, cin = [], channels
        for w in widths:
            enc.append(conv_block(cin, w))
            cin = w
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = widths[-1] * self.bottom**2
        self.to_mu = nn.Linear(flat, latent_dim)
        self.to_logvar = nn.Linear(flat, latent_dim)
        self.from_z = nn.Sequential(nn.Linear(latent_dim, flat), nn.ReLU(inplace=True))
        dec = [up_block(widths[i], widths[i - 1]) for i in range(n - 1, 0, -1)]
        dec.append(nn.ConvTranspose2d(widths[0], channels, 4, 2, 1))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (B, flat)
        return self.to_mu(h), self.to_logvar(h).clamp(-20, 10)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_z(z).view(-1, self.top_width, self.bottom, self.bottom)
        return self.decoder(h)  # (B, C, H, W) logits

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decode_logits(z), mu, logvar


class _Decoder(nn.Module):
    """z (B, latent) -> image (B, C, H, W) in [0, 1]: the decoder a phone samples with."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.vae.decode_logits(z))


class _Encoder(nn.Module):
    """image (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, latent)."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode(x)


class VAEModule(GenLabModule):
    """Capabilities: ImageSampler (from the prior), LatentWalker (decode chosen z), Reconstructor."""

    family = FAMILY
    datamodule_class = ImageDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        m = self.run_config.model
        self.net = ConvVAE(data_info["channels"], data_info["image_size"], m.latent_dim, m.base_width)
        g = torch.Generator().manual_seed(self.run_config.seed)
        self.register_buffer("fixed_z", torch.randn(self.run_config.logging.n_samples, m.latent_dim, generator=g))
        self._fixed_x: torch.Tensor | None = None

    # -- loss --------------------------------------------------------------------------------------

    def kl_weight(self) -> float:
        m = self.run_config.model
        if m.kl_warmup_steps <= 0:
            return m.beta
        return m.beta * min(1.0, self.global_step / m.kl_warmup_steps)

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.run_config.trainer.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits, mu, logvar = self.net(x)
        b = x.shape[0]
        if self.run_config.model.reconstruction == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
        else:
            recon = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / b
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
        return {"recon": recon, "kl": kl}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        parts = self.losses(batch[0])
        loss = parts["recon"] + self.kl_weight() * parts["kl"]
        self.log_step({"train/loss": loss, "train/recon": parts["recon"], "train/kl": parts["kl"]}, batch[0].shape[0])
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        parts = self.losses(batch[0])
        elbo = -(parts["recon"] + parts["kl"])
        loss = parts["recon"] + self.run_config.model.beta * parts["kl"]
        self.log_dict(
            {"val/loss": loss, "val/recon": parts["recon"], "val/kl": parts["kl"], "val/elbo": elbo},
            batch_size=batch[0].shape[0],
        )

    # -- generation (Playground, samples) ----------------------------------------------------------

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes (B, latent) -> images (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.net.decode_logits(z.to(self.device)))

    @property
    def latent_dim(self) -> int:
        return int(self.run_config.model.latent_dim)

    @torch.no_grad()
    def sample_images_n(self, n: int, *, seed: int = 0, labels: Labels = None) -> torch.Tensor:
        """n images decoded from the prior N(0, I); `labels` does not apply (the VAE is unconditional)."""
        g = torch.Generator().manual_seed(seed)
        return self.decode(torch.randn(n, self.latent_dim, generator=g))

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor:
        return self.decode(z)

    def class_names(self) -> list[str]:
        return []

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode_images(x))

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> posterior means (B, latent)."""
        mu, _ = self.net.encode(x.to(self.device))
        return mu

    @torch.no_grad()
    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Decode points on the line between the codes of two image batches: (B * steps, C, H, W)."""
        z0, _ = self.net.encode(x0.to(self.device))
        z1, _ = self.net.encode(x1.to(self.device))
        t = torch.linspace(0, 1, steps, device=self.device).view(1, steps, 1)
        z = (z0[:, None] * (1 - t) + z1[:, None] * t).reshape(-1, z0.shape[-1])
        return self.decode(z)

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        return self.decode(self.fixed_z[:8])

    def export_nets(self) -> dict[str, ExportNet]:
        """The decoder (z -> image) and the encoder (image -> mu, logvar), on the run's fixed latents."""
        z = self.fixed_z[:8].detach().float().cpu()  # (8, latent)
        with torch.no_grad():
            images = _Decoder(self.net).eval()(z)  # (8, C, H, W) decoded samples feed the encoder
        image_meta = {"range": [0.0, 1.0], "layout": "NCHW", "channels": int(self.data_info["channels"])}
        z_meta = {"meaning": "latent code; the prior is standard normal N(0, 1)"}
        return {
            "decoder": ExportNet(
                _Decoder(self.net).eval(),
                (z,),
                ["z"],
                ["image"],
                {"image": "image"},
                {"inputs": {"z": z_meta}, "outputs": {"image": image_meta}},
            ),
            "encoder": ExportNet(
                _Encoder(self.net).eval(),
                (images,),
                ["image"],
                ["mu", "logvar"],
                {"mu": "tensor", "logvar": "tensor"},
                {"inputs": {"image": image_meta}, "outputs": {"mu": z_meta, "logvar": {"meaning": "log variance"}}},
            ),
        }

    def _fixed_batch(self) -> torch.Tensor | None:
        if self._fixed_x is None:
            dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
            if dm is None or not hasattr(dm, "fixed_batch"):
                return None
            self._fixed_x = dm.fixed_batch(32)[0]
        return self._fixed_x

    def sample_images(self) -> dict[str, torch.Tensor]:
        out = {"prior": self.decode(self.fixed_z)}
        x = self._fixed_batch()
        if x is not None and len(x) >= 2:
            x = x.to(self.device)
            n = min(16, len(x))
            out["reconstruction"] = torch.cat([x[:n], self.reconstruct(x[:n])])  # top half real, bottom half recon
            k = min(8, len(x) // 2)
            out["interpolation"] = self.interpolate(x[:k], x[k : 2 * k], steps=10)
        return out

    def sample_grid_rows(self) -> dict[str, int]:
        return {"reconstruction": 16, "interpolation": 10}  # real row over its reconstruction; 10 steps
