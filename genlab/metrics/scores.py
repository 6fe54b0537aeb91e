"""FID, KID (torchmetrics' implementations, fed precomputed features) and Kynkaanniemi precision/recall.

Features are computed once per measurement and shared by every score: torchmetrics gets an identity
"feature extractor", so the Inception forward pass is not repeated per metric.
"""

from __future__ import annotations

import torch
from torch import nn


class _Precomputed(nn.Module):
    """Identity feature extractor: lets torchmetrics' FID/KID take features instead of images."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to real (N, F) and fake (M, F) features."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least 2 real and 2 generated samples")
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]), normalize=True)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid(
    real: torch.Tensor, fake: torch.Tensor, subsets: int = 20, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance (mean, std over subsets); unbiased, so usable at small sample counts."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = max(2, min(subset_size, len(real), len(fake)))
    metric = KernelInceptionDistance(
        feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=size, normalize=True
    )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the subsets are drawn with torch's global RNG; keep training's stream untouched
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def _kth_radii(feats: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (N,)."""
    k = min(k, len(feats) - 1)
    radii = []
    for i in range(0, len(feats), chunk):
        d = torch.cdist(feats[i : i + chunk], feats)  # (c, N); includes the 0 self-distance
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _coverage(query: torch.Tensor, support: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query row: does it fall inside some support ball (||q - s_j|| <= r_j)?  (Q,) bool."""
    inside = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i : i + chunk], support)  # (c, S)
        inside.append((d <= radii.unsqueeze(0)).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Kynkaanniemi et al. (2019): precision = share of fakes inside the real k-NN manifold (fidelity);
    recall = share of reals inside the fake k-NN manifold (diversity)."""
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("precision/recall need at least 2 real and 2 generated samples")
    real, fake = real.double(), fake.double()
    precision = _coverage(fake, real, _kth_radii(real, k)).double().mean().item()
    recall = _coverage(real, fake, _kth_radii(fake, k)).double().mean().item()
    return precision, recall
