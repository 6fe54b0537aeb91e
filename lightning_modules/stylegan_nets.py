"""StyleGAN-lite's networks (Karras et al. 2019/2020), sized for a CPU, with ProGAN's fade-in (2018).

- Equalised learning rate: weights are stored N(0, 1) and scaled by 1/sqrt(fan_in) at run time, so Adam
  moves every layer at the same speed (the mapping network further slowed by lr_mul).
- Mapping: pixel-normalised z through fully connected layers to w; `w_avg` tracks the mean w, the centre
  the truncation trick pulls toward.
- Synthesis: a learned 4x4 constant, two modulated + demodulated 3x3 convolutions per resolution (each
  reads its own w, so style mixing switches w at a layer), per-pixel noise with a learned strength, and a
  1x1 toRGB per resolution. Modulation scales the input channels and demodulation the output channels
  (StyleGAN2's non-fused form: the same maths as the per-sample weights, with plain convolutions that
  TFLite and ONNX run).
- Growth: `level` picks the top resolution (0 = 4 px) and `alpha` fades it in: the image is
  alpha * toRGB(top) + (1 - alpha) * upsample(toRGB(previous)); the discriminator mirrors it with a
  fromRGB per resolution. A net built for 32 px trains at 8, 16 then 32 px.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lightning_modules.gan_common import MinibatchStd

SQRT2 = math.sqrt(2.0)


def resolutions(size: int) -> list[int]:
    """4, 8, ... size: one synthesis block (and one discriminator stage) per entry."""
    return [4 * 2**i for i in range(int(math.log2(size // 4)) + 1)]


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2  # gain sqrt(2) keeps the activations' scale (equalised lr)


def up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class EqualLinear(nn.Module):
    def __init__(self, d_in: int, d_out: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((d_out,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(d_in), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return lrelu(out) if self.act else out


class EqualConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, act: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale, self.pad, self.act = 1.0 / math.sqrt(c_in * k * k), k // 2, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)
        return lrelu(out) if self.act else out


class MappingNetwork(nn.Module):
    """z (B, Z) -> w (B, W); `w_avg` (W,) is the running mean of w that training updates."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, act=True) for i in range(layers)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # pixel norm
        return self.net(z)


class ModulatedConv(nn.Module):
    """A convolution whose input channels are scaled by a style from w, outputs demodulated to unit scale."""

    def __init__(self, c_in: int, c_out: int, k: int, w_dim: int, demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.scale, self.pad, self.demodulate = 1.0 / math.sqrt(c_in * k * k), k // 2, demodulate

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (B, C_in)
        weight = self.weight * self.scale  # (C_out, C_in, k, k)
        out = F.conv2d(x * s[:, :, None, None], weight, padding=self.pad)
        if self.demodulate:  # 1 / ||w_ij * s_i|| over inputs and taps, per sample and output channel
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + 1e-8)  # (B, C_out)
            out = out * d[:, :, None, None]
        return out


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + noise (random while training, a fixed map in eval) + bias + leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, res: int, noise: bool) -> None:
        super().__init__()
        self.conv = ModulatedConv(c_in, c_out, 3, w_dim)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.use_noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, res, res))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w)
        if self.use_noise:
            noise = torch.randn_like(x[:, :1]) if self.training else self.noise_const
            x = x + noise * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    def __init__(self, c_in: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(c_in, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, W) -> image (B, C, r, r) at the resolution `level` picks, linear around [-1, 1]."""

    def __init__(self, w_dim: int, width: int, size: int, channels: int, noise: bool) -> None:
        super().__init__()
        self.res = resolutions(size)
        self.const = nn.Parameter(torch.randn(1, width, 4, 4))
        self.layers = nn.ModuleList()
        for r in self.res:
            self.layers.append(SynthesisLayer(width, width, w_dim, r, noise))
            self.layers.append(SynthesisLayer(width, width, w_dim, r, noise))
        self.to_rgb = nn.ModuleList(ToRGB(width, channels, w_dim) for _ in self.res)
        self.num_ws = 2 * len(self.res)

    def forward(self, ws: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        prev_rgb = None
        for i in range(level + 1):
            if i > 0:
                x = up2(x)
            x = self.layers[2 * i](x, ws[:, 2 * i])
            x = self.layers[2 * i + 1](x, ws[:, 2 * i + 1])
            if i == level - 1 and alpha < 1.0:
                prev_rgb = self.to_rgb[i](x, ws[:, 2 * i + 1])
        rgb = self.to_rgb[level](x, ws[:, 2 * level + 1])
        if prev_rgb is not None:
            rgb = alpha * rgb + (1.0 - alpha) * up2(prev_rgb)
        return rgb


class StyleGenerator(nn.Module):
    """Mapping + synthesis: z (B, Z) -> image (B, C, size, size), smaller levels upsampled to `size`."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        mapping_layers: int,
        lr_mul: float,
        width: int,
        size: int,
        channels: int,
        noise: bool,
    ) -> None:
        super().__init__()
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_mul)
        self.synthesis = SynthesisNetwork(w_dim, width, size, channels, noise)
        self.size, self.num_ws = size, self.synthesis.num_ws

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick: w pulled toward the tracked mean, w_avg + psi (w - w_avg)."""
        if psi == 1.0:
            return w
        avg = self.mapping.w_avg
        return avg + psi * (w - avg)

    def ws(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """(B, num_ws, W): the same w for every layer."""
        return self.truncate(self.mapping(z), psi).unsqueeze(1).expand(-1, self.num_ws, -1)

    def synthesise(self, ws: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        img = self.synthesis(ws, level, alpha)
        while img.shape[-1] < self.size:  # a growing run shows its current resolution at full size
            img = up2(img)
        return img

    def forward(self, z: torch.Tensor, psi: float = 1.0, level: int = -1, alpha: float = 1.0) -> torch.Tensor:
        level = level if level >= 0 else len(self.synthesis.res) - 1
        return self.synthesise(self.ws(z, psi), level, alpha)


class TruncatedGenerator(nn.Module):
    """What is exported: z -> image with truncation, resolution and fade fixed (plain tensor ops only)."""

    def __init__(self, generator: StyleGenerator, psi: float, level: int, alpha: float) -> None:
        super().__init__()
        self.generator, self.psi, self.level, self.alpha = generator, psi, level, alpha

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, self.psi, self.level, self.alpha)


class StyleDiscriminator(nn.Module):
    """image (B, C, r, r) at the level's resolution -> logit (B,): fromRGB, two 3x3 convs and a 2x average
    pool per resolution, then minibatch std, a 3x3 conv and two linear layers at 4x4."""

    def __init__(self, channels: int, size: int, width: int) -> None:
        super().__init__()
        self.res = resolutions(size)
        self.from_rgb = nn.ModuleList(EqualConv(channels, width, 1) for _ in self.res)
        # stage i (i >= 1) takes res[i] down to res[i - 1]; stage 0 is the 4x4 epilogue below
        self.stages = nn.ModuleList(
            nn.Sequential(EqualConv(width, width, 3), EqualConv(width, width, 3), nn.AvgPool2d(2)) for _ in self.res[1:]
        )
        self.mbstd = MinibatchStd()
        self.conv = EqualConv(width + 1, width, 3)
        self.fc = EqualLinear(width * 16, width, act=True)
        self.out = EqualLinear(width, 1)

    def forward(self, x: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        h = self.from_rgb[level](x)
        for i in range(level, 0, -1):
            h = self.stages[i - 1](h)
            if i == level and alpha < 1.0:  # fade: the new stage blended with the old fromRGB on a half image
                h = alpha * h + (1.0 - alpha) * self.from_rgb[i - 1](F.avg_pool2d(x, 2))
        h = self.conv(self.mbstd(h))
        return self.out(self.fc(h.flatten(1))).squeeze(1)
