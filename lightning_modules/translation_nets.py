"""Networks and helpers shared by CycleGAN and pix2pix.

- ResnetGenerator: reflection padding, InstanceNorm, 2 down-samplings, 6 or 9 residual blocks (Johnson et
  al., the CycleGAN generator).
- UNetGenerator: encoder-decoder with skip connections and dropout in the innermost decoder blocks (pix2pix).
- PatchDiscriminator: 3 strided 4x4 convs + 2 stride-1 convs = 70x70 receptive field per output logit.
- ImagePool: a buffer of past fakes the discriminators also learn from (Shrivastava et al.).
- linear_decay: constant learning rate, then a linear decay to zero (both papers' schedule).
Images are in [-1, 1] inside the networks (tanh output).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.BatchNorm2d(channels)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm == "instance"),
            norm_layer(norm, channels),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm == "instance"),
            norm_layer(norm, channels),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(B, in_c, H, W) -> (B, out_c, H, W) in [-1, 1]; H and W must be multiples of 4."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        n_down: int = 2,
    ) -> None:
        super().__init__()
        bias = norm == "instance"  # BatchNorm has its own shift
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=bias),
            norm_layer(norm, width),
            nn.ReLU(True),
        ]
        ch = width
        for _ in range(n_down):
            layers += [
                nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias),
                norm_layer(norm, ch * 2),
                nn.ReLU(True),
            ]
            ch *= 2
        layers += [ResnetBlock(ch, norm) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UNetGenerator(nn.Module):
    """U-Net: `depth` stride-2 4x4 convs down to H / 2**depth, mirrored up with skip concatenations.

    Widths double from `width` up to 8 * width; the innermost layer has no norm; dropout acts in the
    (up to) three decoder blocks nearest the bottleneck, as in pix2pix (its only noise source).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        depth: int = 8,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        bias = norm == "instance"
        chans = [min(width * 2**i, width * 8) for i in range(depth)]  # encoder outputs
        self.down = nn.ModuleList()
        prev = in_channels
        for i, ch in enumerate(chans):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.LeakyReLU(0.2, True))
            layers.append(nn.Conv2d(prev, ch, 4, stride=2, padding=1, bias=bias or i == 0 or i == depth - 1))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, ch))
            self.down.append(nn.Sequential(*layers))
            prev = ch
        self.up = nn.ModuleList()
        for j, i in enumerate(reversed(range(depth))):  # decoder block j undoes encoder block i
            in_ch = chans[i] if i == depth - 1 else chans[i] * 2
            if i == 0:
                layers = [nn.ReLU(True), nn.ConvTranspose2d(in_ch, out_channels, 4, stride=2, padding=1), nn.Tanh()]
            else:
                out_ch = chans[i - 1]
                layers = [
                    nn.ReLU(True),
                    nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=bias),
                    norm_layer(norm, out_ch),
                ]
                if dropout and j < 3:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()  # bottleneck (B, 8w, H/2^d, W/2^d)
        for k, block in enumerate(self.up):
            if k > 0:
                x = torch.cat([x, skips.pop()], dim=1)  # skip connection
            x = block(x)
        return x


class PatchDiscriminator(nn.Module):
    """(B, in_c, H, W) -> (B, 1, h, w) logits, one per overlapping patch (70x70 with n_layers=3)."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, n_layers):
            nxt = width * min(2**i, 8)
            layers += [
                nn.Conv2d(ch, nxt, 4, stride=2, padding=1, bias=bias),
                norm_layer(norm, nxt),
                nn.LeakyReLU(0.2, True),
            ]
            ch = nxt
        nxt = width * min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ch, nxt, 4, stride=1, padding=1, bias=bias),
            norm_layer(norm, nxt),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(nxt, 1, 4, stride=1, padding=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """N(0, 0.02) convs and N(1, 0.02) norm scales, as in both reference implementations."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def gan_loss(logits: torch.Tensor, real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Least-squares (MSE to 1/0) or vanilla (BCE with logits) adversarial loss, averaged over patches."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class ImagePool:
    """Keeps up to `size` past fakes; half the time a fake is swapped for an older one (stabilises D)."""

    def __init__(self, size: int, generator: torch.Generator | None = None) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.gen = generator or torch.Generator().manual_seed(0)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif torch.rand(1, generator=self.gen).item() < 0.5:
                i = int(torch.randint(0, self.size, (1,), generator=self.gen))
                out.append(self.images[i].clone())
                self.images[i] = img
            else:
                out.append(img)
        return torch.cat(out)


def linear_decay(total_steps: int, constant_fraction: float):
    """LambdaLR factor: 1 for the first constant_fraction of steps, then linearly down to 0 at the end."""
    total = max(1, total_steps)
    start = int(total * constant_fraction)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total - start))

    return factor


def to_net(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2.0 - 1.0


def from_net(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (x + 1.0) * 0.5


def as_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 1 or 3, H, W) -> (B, 3, H, W), for panels that mix grey and colour domains."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def panel(*columns: torch.Tensor) -> torch.Tensor:
    """Interleave columns (each (N, C, H, W)) row by row: (N * k, 3, H, W) for a grid with nrow=k."""
    cols = [as_rgb(c.clamp(0, 1)) for c in columns]
    return torch.stack(cols, dim=1).flatten(0, 1)


class TranslationEval(nn.Module):
    """Per-direction L1, PSNR and SSIM (torchmetrics) against ground truth, and FID/KID of translations.

    L1/PSNR/SSIM need true pairs (aligned validation data); FID/KID compare the translations with the
    real images of the target domain and need no pairs. Names: val/l1_AtoB ... (or val/l1 with suffix "").
    """

    def __init__(
        self, directions: list[str], aligned: bool, fid: bool, image_size: int, fid_features: str = "inception"
    ) -> None:
        super().__init__()
        from torchmetrics import MeanMetric
        from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

        self.directions, self.aligned, self.fid, self.fid_features = list(directions), aligned, fid, fid_features
        kernel = 11 if image_size >= 32 else 7
        self.l1 = nn.ModuleDict({d or "_": MeanMetric() for d in self.directions})
        self.psnr = nn.ModuleDict({d or "_": PeakSignalNoiseRatio(data_range=1.0) for d in self.directions})
        self.ssim = nn.ModuleDict(
            {d or "_": StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=kernel) for d in self.directions}
        )
        self._real: dict[str, list[torch.Tensor]] = {d: [] for d in self.directions}
        self._fake: dict[str, list[torch.Tensor]] = {d: [] for d in self.directions}
        self._seen = False

    @staticmethod
    def _name(metric: str, direction: str) -> str:
        return f"val/{metric}_{direction}" if direction else f"val/{metric}"

    @torch.no_grad()
    def update(self, direction: str, fake: torch.Tensor, target: torch.Tensor) -> None:
        """fake, target: (B, C, H, W) in [0, 1] of the same domain (target: the true partner or any real)."""
        fake, target = fake.float().clamp(0, 1), target.float()
        key = direction or "_"
        self._seen = True
        if self.aligned:
            self.l1[key].update((fake - target).abs().flatten(1).mean(1))
            self.psnr[key].update(fake, target)
            self.ssim[key].update(fake, target)
        if self.fid:
            self._fake[direction].append(fake.cpu())
            self._real[direction].append(target.cpu())

    def compute_and_reset(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if not self._seen:
            return out
        for d in self.directions:
            key = d or "_"
            if self.aligned:
                out[self._name("l1", d)] = float(self.l1[key].compute())
                out[self._name("psnr", d)] = float(self.psnr[key].compute())
                out[self._name("ssim", d)] = float(self.ssim[key].compute())
            if self.fid and self._fake[d]:
                out.update(
                    {
                        self._name(k, d): v
                        for k, v in fid_kid(
                            torch.cat(self._real[d]), torch.cat(self._fake[d]), self.fid_features
                        ).items()
                    }
                )
        for metrics in (self.l1, self.psnr, self.ssim):
            for m in metrics.values():
                m.reset()
        self._real = {d: [] for d in self.directions}
        self._fake = {d: [] for d in self.directions}
        self._seen = False
        return out


def fid_kid(real: torch.Tensor, fake: torch.Tensor, features: str = "inception") -> dict[str, float]:
    """FID and KID between real and translated images (N, C, H, W) in [0, 1], with genlab.metrics' features.

    Inception-v3 by default (falls back to 16x16 pixels, with a message, when its weights are missing).
    """
    from genlab.metrics.features import extract, get_extractor
    from genlab.metrics.scores import fid, kid

    extractor, kind = get_extractor(features)
    real_feats, fake_feats = extract(extractor, real), extract(extractor, fake)
    if len(real_feats) < 2 or len(fake_feats) < 2:
        return {}
    kid_mean, _ = kid(real_feats, fake_feats, subsets=10, subset_size=min(100, len(real_feats), len(fake_feats)))
    return {
        "fid": fid(real_feats, fake_feats),
        "kid": kid_mean,
        "fid_samples": float(len(fake_feats)),
        "fid_pixel_features": float(kind == "pixels"),
    }
