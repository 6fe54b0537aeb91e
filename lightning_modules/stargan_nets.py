"""StarGAN's two nets (Choi et al., 2018; the layer plan of the authors' model.py).

G: the image with the target domain's one-hot code tiled over it as extra channels -> 7x7 conv, two
strided 4x4 convs down, residual blocks, two 4x4 transposed convs up, 7x7 conv, tanh; instance norm
(affine) after every conv but the last. D: strided 4x4 convs with LeakyReLU(0.01), then two heads on the
same features: a 3x3 conv giving a patch map of real/fake scores (the WGAN critic) and a conv over the
whole remaining map giving the domain logits (the auxiliary classifier).

One difference from model.py: the instance norms do not track running statistics. With
track_running_stats=True a module in eval mode would normalise with averages of training batches; the
authors never switch to eval mode, so their nets always use each image's own statistics, which is what
these nets do in both modes (and what the exported generator computes).
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(ch: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(ch, affine=True)


class ResidualBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            _norm(ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            _norm(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class StarGenerator(nn.Module):
    """(image (B, C, H, W) in [-1, 1], target code (B, n_domains)) -> image (B, C, H, W) in [-1, 1]."""

    def __init__(self, channels: int, n_domains: int, width: int = 64, blocks: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(channels + n_domains, width, 7, 1, 3, bias=False),
            _norm(width),
            nn.ReLU(inplace=True),
        ]
        ch = width
        for _ in range(2):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), _norm(ch * 2), nn.ReLU(inplace=True)]
            ch *= 2
        layers += [ResidualBlock(ch) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), _norm(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.Conv2d(ch, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.n_domains = n_domains

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        tiled = code.view(code.shape[0], code.shape[1], 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, tiled.to(x.dtype)], dim=1))


class StarDiscriminator(nn.Module):
    """image (B, C, S, S) -> (critic patch map (B, 1, S/2^n, S/2^n), domain logits (B, n_domains))."""

    def __init__(self, channels: int, image_size: int, n_domains: int, width: int = 64, layers: int = 6) -> None:
        super().__init__()
        body: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
        ch = width
        for _ in range(1, layers):
            body += [nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            ch *= 2
        side = image_size // 2**layers
        self.main = nn.Sequential(*body)
        self.src = nn.Conv2d(ch, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(ch, n_domains, side, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.src(h), self.cls(h).flatten(1)


def one_hot(labels: torch.Tensor, n: int) -> torch.Tensor:
    """(B,) domain indices -> (B, n) float one-hot codes, as an identity-matrix lookup: an embedding
    gather exports to every runtime, where a scatter into zeros does not."""
    eye = torch.eye(n, device=labels.device)
    return nn.functional.embedding(labels.long(), eye)


class Translate01ToDomain(nn.Module):
    """The exported generator: (image (B, C, H, W) in [0, 1], domain (B,) int32) -> image in [0, 1]."""

    def __init__(self, net: StarGenerator) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("eye", torch.eye(net.n_domains), persistent=False)

    def forward(self, image: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        code = nn.functional.embedding(domain.long(), self.eye)  # (B, n_domains)
        return (self.net(image * 2.0 - 1.0, code) + 1.0) * 0.5
