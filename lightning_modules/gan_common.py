"""What the image GANs share: the three adversarial losses, DiffAugment and the generator's EMA."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------------
# Losses (logits in, scalar out)


def d_loss_fn(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    if kind == "nonsat":
        real_t = torch.full_like(real_logits, 1.0 - smoothing)
        return F.binary_cross_entropy_with_logits(real_logits, real_t) + F.binary_cross_entropy_with_logits(
            fake_logits, torch.zeros_like(fake_logits)
        )
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "wgan-gp":
        # the small drift term keeps the critic's output near 0 (Karras et al.)
        return fake_logits.mean() - real_logits.mean() + 1e-3 * (real_logits**2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss_fn(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "nonsat":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -fake_logits.mean()  # hinge and WGAN share the generator loss


def gradient_penalty(critic: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): (||grad_x D(x_hat)|| - 1)^2 on random interpolates of real and fake."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


# ---------------------------------------------------------------------------------------------------
# DiffAugment (Zhao et al. 2020): the same differentiable augmentation for real and fake inputs of D


def _color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy.unsqueeze(0) + dy).clamp(-1, h)  # (B, H, W); -1 and h index the zero padding
    gx = (gx.unsqueeze(0) + dx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    flat = padded.flatten(2)  # (B, C, (H+2)(W+2))
    index = ((gy + 1) * (w + 2) + (gx + 1)).flatten(1)  # (B, H*W)
    out = flat.gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))
    return out.view_as(x)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = ((gy.unsqueeze(0) - cy).abs() < ch // 2 + 1) & ((gx.unsqueeze(0) - cx).abs() < cw // 2 + 1)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply the comma-separated policy ("color,translation,cutout"); "off" returns x unchanged."""
    if not policy or policy == "off":
        return x
    for name in policy.split(","):
        x = _AUGMENTS[name.strip()](x)
    return x


# ---------------------------------------------------------------------------------------------------
# EMA of the generator


class EMA:
    """Keeps `shadow` = exponential moving average of `model`'s parameters (buffers copied as they are).

    The decay warms up as min(decay, (1 + n) / (10 + n)) over the n averaged steps, so a short run is not
    stuck near its early weights (a 0.999 average would otherwise lag ~1,000 steps behind).
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    @torch.no_grad()
    def update(self, shadow: nn.Module, model: nn.Module, average: bool = True, n: int | None = None) -> None:
        decay = self.decay if average else 0.0
        if average and n is not None:
            decay = min(decay, (1.0 + n) / (10.0 + n))
        for s, p in zip(shadow.parameters(), model.parameters(), strict=True):
            s.lerp_(p.detach(), 1.0 - decay)
        for s, b in zip(shadow.buffers(), model.buffers(), strict=True):
            s.copy_(b)


def make_shadow(model: nn.Module) -> nn.Module:
    shadow = copy.deepcopy(model)
    shadow.requires_grad_(False)
    shadow.eval()
    return shadow
