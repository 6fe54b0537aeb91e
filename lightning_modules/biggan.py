"""BigGAN's ingredients at CPU size (Brock et al. 2019), on the conditional GAN's training step.

G: z -> linear -> seed x seed, then residual up-blocks whose batch norms are class-conditional (gain and
bias from a shared class embedding concatenated with z), an optional self-attention block (SAGAN) at one
side, BN-ReLU-conv-tanh out. D: residual down-blocks (average pooling), the same attention side, ReLU and
global sum pooling, then a linear score plus the projection <embed(y), h> (Miyato & Koyama 2018). Spectral
norm on every layer of both nets; orthogonal regularisation on G's weights; hinge loss; truncation at
sampling time (z = truncation * TruncNormal(-2, 2), as BigGAN's published sampler draws it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.errors import GenLabError
from genlab.core.truncation import truncation_problem
from genlab.families.biggan import FAMILY
from lightning_modules.base import Labels
from lightning_modules.cgan import CGANModule
from lightning_modules.gan_common import _label_tensor, _plan

TRUNCATION_BOUND = 2.0  # BigGAN's sampler truncates z to [-2, 2] before scaling it


def _sn(on: bool) -> Any:
    return nn.utils.spectral_norm if on else (lambda m: m)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine; gain (1 + linear(c)) and bias linear(c) from the condition c."""

    def __init__(self, channels: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = _sn(sn)(nn.Linear(cond_dim, channels, bias=False))
        self.bias = _sn(sn)(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(c)[:, :, None, None]  # (B, C, 1, 1)
        return self.bn(x) * gain + self.bias(c)[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN's block: x + gamma * o(g . softmax(theta^T phi)); phi and g max-pooled by 2; gamma starts at 0."""

    def __init__(self, channels: int, sn: bool) -> None:
        super().__init__()
        c8, c2 = max(1, channels // 8), max(1, channels // 2)
        self.theta = _sn(sn)(nn.Conv2d(channels, c8, 1, bias=False))
        self.phi = _sn(sn)(nn.Conv2d(channels, c8, 1, bias=False))
        self.g = _sn(sn)(nn.Conv2d(channels, c2, 1, bias=False))
        self.o = _sn(sn)(nn.Conv2d(c2, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (B, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (B, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (B, C/2, HW/4)
        beta = torch.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # (B, HW, HW/4)
        o = torch.bmm(g, beta.transpose(1, 2)).view(b, g.shape[1], h, w)  # (B, C/2, H, W)
        return x + self.gamma * self.o(o)


class GBlock(nn.Module):
    """CBN-ReLU-up-conv3-CBN-ReLU-conv3, plus an up-sampled 1x1 skip."""

    def __init__(self, cin: int, cout: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm(cin, cond_dim, sn)
        self.conv1 = _sn(sn)(nn.Conv2d(cin, cout, 3, 1, 1))
        self.bn2 = ConditionalBatchNorm(cout, cond_dim, sn)
        self.conv2 = _sn(sn)(nn.Conv2d(cout, cout, 3, 1, 1))
        self.skip = _sn(sn)(nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DBlock(nn.Module):
    """(ReLU)-conv3-ReLU-conv3-(avgpool), plus a 1x1 (avg-pooled) skip; the first block has no pre-ReLU."""

    def __init__(self, cin: int, cout: int, sn: bool, down: bool, preactivation: bool) -> None:
        super().__init__()
        self.conv1 = _sn(sn)(nn.Conv2d(cin, cout, 3, 1, 1))
        self.conv2 = _sn(sn)(nn.Conv2d(cout, cout, 3, 1, 1))
        self.skip = _sn(sn)(nn.Conv2d(cin, cout, 1)) if cin != cout or down else None
        self.down, self.preactivation = down, preactivation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        skip = x if self.skip is None else self.skip(x)
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


def _xavier_init(module: nn.Module) -> None:
    """BigGAN's init: Xavier-uniform weights (the raw weight under spectral norm), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            weight = getattr(m, "weight_orig", m.weight)
            nn.init.xavier_uniform_(weight) if not isinstance(m, nn.Embedding) else nn.init.normal_(weight, 0, 1)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


class BigGANGenerator(nn.Module):
    """(z (B, D), y (B,)) -> image (B, C, S, S) in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        shared_dim: int,
        channels: int,
        size: int,
        width: int,
        attention: int,
        sn: bool,
    ) -> None:
        super().__init__()
        seed, ups = _plan(size)
        widths = [width * 2 ** (ups - i) for i in range(ups + 1)]  # e.g. 28 px: [4w, 2w, w]
        cond = shared_dim + latent_dim
        self.shared = nn.Embedding(num_classes, shared_dim)  # one class embedding for every block
        self.linear = _sn(sn)(nn.Linear(latent_dim, widths[0] * seed * seed))
        self.blocks = nn.ModuleList(GBlock(widths[i], widths[i + 1], cond, sn) for i in range(ups))
        sides = [seed * 2 ** (i + 1) for i in range(ups)]  # side after each block
        self.attn_after = sides.index(attention) if attention in sides else -1
        self.attention = SelfAttention(widths[self.attn_after + 1], sn) if self.attn_after >= 0 else None
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = _sn(sn)(nn.Conv2d(widths[-1], channels, 3, 1, 1))
        self.seed, self.width0 = seed, widths[0]
        _xavier_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = torch.cat([self.shared(y).to(z.dtype), z], dim=1)  # (B, shared + D): skip-z condition
        h = self.linear(z).view(z.shape[0], self.width0, self.seed, self.seed)
        for i, block in enumerate(self.blocks):
            h = block(h, c)
            if i == self.attn_after:
                h = self.attention(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class ProjectionDiscriminator(nn.Module):
    """(x, y) -> logit (B,): psi(h) + <embed(y), h> over globally sum-pooled features h."""

    def __init__(self, channels: int, size: int, width: int, num_classes: int, attention: int, sn: bool) -> None:
        super().__init__()
        seed, downs = _plan(size)
        widths = [width * 2**i for i in range(downs)]  # e.g. 28 px: [w, 2w]
        blocks: list[nn.Module] = []
        side, cin = size, channels
        for i, cout in enumerate(widths):
            blocks.append(DBlock(cin, cout, sn, down=True, preactivation=i > 0))
            side, cin = side // 2, cout
            if side == attention:
                blocks.append(SelfAttention(cout, sn))
        blocks.append(DBlock(cin, cin, sn, down=False, preactivation=True))  # one more block at the seed side
        self.blocks = nn.Sequential(*blocks)
        self.linear = _sn(sn)(nn.Linear(cin, 1))
        self.embed = _sn(sn)(nn.Embedding(num_classes, cin))
        _xavier_init(self)
        nn.init.xavier_uniform_(getattr(self.embed, "weight_orig", self.embed.weight))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, F)
        return self.linear(h).squeeze(1) + (self.embed(y).to(h.dtype) * h).sum(dim=1)


def orthogonal_penalty(net: nn.Module, skip: tuple[nn.Parameter, ...] = ()) -> torch.Tensor:
    """BigGAN's orthogonal regularisation: sum over weights W (rows = outputs) of ||W W^T * (1 - I)||_F^2,
    so filters are pushed apart without constraining their norms. 1-D parameters and `skip` are left out."""
    keep = {id(p) for p in skip}
    total = torch.zeros(())
    for p in net.parameters():
        if p.ndim < 2 or id(p) in keep or not p.requires_grad:
            continue
        w = p.flatten(1)  # (out, in * k * k)
        gram = w @ w.t()
        total = total + (gram * (1.0 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))).pow(2).sum()
    return total


def truncated_latents(n: int, dim: int, truncation: float, seed: int | None = None) -> torch.Tensor:
    """z (n, dim): N(0, 1) at truncation 1 (what G trained on); below 1, truncation * TruncNormal(-2, 2)."""
    problem = truncation_problem(truncation)
    if problem:
        raise GenLabError(f"{problem} (got {truncation!r})")
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.empty(n, dim)
    if truncation >= 1.0:
        return z.normal_(generator=g)
    nn.init.trunc_normal_(z, 0.0, 1.0, -TRUNCATION_BOUND, TRUNCATION_BOUND, generator=g)
    return z * truncation


class BigGANModule(CGANModule):
    """The conditional GAN's step and per-class grids with BigGAN's nets, ortho regularisation and truncation.
    Capabilities: the cGAN's (ImageSampler, LatentWalker, Exportable, Distillable) and Truncatable."""

    family = FAMILY

    def build_nets(self) -> None:
        m = self.run_config.model
        self.generator = BigGANGenerator(
            m.latent_dim,
            self.num_classes,
            m.shared_dim,
            self.channels,
            self.image_size,
            m.g_width,
            m.attention_resolution,
            m.spectral_norm,
        )
        self.discriminator = ProjectionDiscriminator(
            self.channels, self.image_size, m.d_width, self.num_classes, m.attention_resolution, m.spectral_norm
        )
        self._ortho: torch.Tensor | None = None

    # -- orthogonal regularisation: added to the generator's loss at each of its steps ------------------

    def manual_step(self, optimizer: Any, loss: torch.Tensor) -> None:
        beta = self.run_config.model.ortho_reg
        if beta > 0 and optimizer is self.optimizers()[0]:  # the generator's optimizer
            penalty = orthogonal_penalty(self.generator, skip=(self.generator.shared.weight,))
            self._ortho = penalty.detach()
            loss = loss + beta * penalty
        super().manual_step(optimizer, loss)

    def log_step(self, values: dict[str, torch.Tensor | float], batch_size: int | None = None) -> None:
        if self._ortho is not None:
            values = {**values, "train/ortho": self._ortho}
        super().log_step(values, batch_size)

    # -- Truncatable --------------------------------------------------------------------------------

    @property
    def default_truncation(self) -> float:
        return float(self.run_config.model.truncation)

    def sample_truncated(
        self, n: int, *, seed: int = 0, labels: Labels = None, truncation: float = 1.0
    ) -> torch.Tensor:
        z = truncated_latents(n, self.latent_dim, truncation, seed)
        return self.generate(n, labels=_label_tensor(labels), z=z)

    def sample_images(self) -> dict[str, torch.Tensor]:
        """The cGAN's grids (fixed z, untruncated); with a truncation below 1, the per-class grid again at it."""
        out = super().sample_images()
        t = self.default_truncation
        if t < 1.0:
            k = self.num_classes
            z = truncated_latents(k, self.latent_dim, t, self.run_config.seed + 3).repeat(k, 1)
            out["per_class_truncated"] = self.generate(k * k, labels=torch.arange(k).repeat_interleave(k), z=z)
        return out

    def sample_grid_rows(self) -> dict[str, int]:
        return {**super().sample_grid_rows(), "per_class_truncated": self.num_classes}
