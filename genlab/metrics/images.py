"""One measurement of a generator against its real data: features once, then every score.

Real-image features are cached per data set, resolution, feature kind and sample count under
GENLAB_HOME/cache/metrics, so each later measurement pays only for the generated images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from genlab.core.caching import cached_arrays
from genlab.core.paths import cache_dir
from genlab.metrics.classifier import cached_classifier, class_scores, dataset_digest, predict
from genlab.metrics.config import ImageMetricsConfig
from genlab.metrics.features import extract, get_extractor
from genlab.metrics.scores import fid, kid, precision_recall

REAL_SUBSET_SEED = 1234  # fixed, so runs with different seeds share the cached real statistics


def real_subset(images: torch.Tensor, n: int) -> torch.Tensor:
    """A fixed seeded subset of n uint8 images (all of them when there are fewer)."""
    if len(images) <= n:
        return images
    g = torch.Generator().manual_seed(REAL_SUBSET_SEED)
    return images[torch.randperm(len(images), generator=g)[:n].sort().values]


def real_features(images: torch.Tensor, kind: str, batch_size: int, device: Any = "cpu") -> tuple[torch.Tensor, str]:
    """Features of uint8 real images (N, C, H, W), cached on disk; returns (features, kind used)."""
    extractor, kind = get_extractor(kind)
    key = f"{kind}-{images.shape[1]}ch-{images.shape[-1]}px-n{len(images)}-{dataset_digest(images)}"
    z = cached_arrays(
        cache_dir("metrics", "real") / f"{key}.npz",
        lambda: {"features": extract(extractor, images.float() / 255.0, batch_size, device).numpy()},
    )
    return torch.from_numpy(z["features"]), kind


def measure(
    generate: Callable[[int, torch.Tensor | None], torch.Tensor],
    real_images: torch.Tensor,
    real_labels: torch.Tensor | None,
    num_classes: int,
    cfg: ImageMetricsConfig,
    conditional: bool = False,
    device: Any = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Score a generator. `generate(n, labels)` returns n images in [0, 1] (n, C, H, W) (labels (n,) or None).

    real_images: uint8 (N, C, H, W) of the training data; real_labels (N,) with -1 for unlabelled or None.
    Returns val-style names without the stage prefix: fid, kid, kid_std, precision, recall, fid_samples,
    and with labels class_coverage, class_entropy (and class_accuracy when conditional).
    """
    t0 = time.perf_counter()
    n = cfg.fid_samples
    real = real_subset(real_images, n)
    real_feats, kind = real_features(real, cfg.features, cfg.batch_size, device)
    labels = None
    if conditional and num_classes > 0:
        g = torch.Generator().manual_seed(seed)
        labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
    fakes = []
    for i in range(0, n, cfg.batch_size):
        fakes.append(
            generate(min(cfg.batch_size, n - i), None if labels is None else labels[i : i + cfg.batch_size]).cpu()
        )
    fake = torch.cat(fakes)  # (n, C, H, W) in [0, 1]
    extractor, _ = get_extractor(kind)
    fake_feats = extract(extractor, fake, cfg.batch_size, device)
    out: dict[str, float] = {"fid": fid(real_feats, fake_feats)}
    out["kid"], out["kid_std"] = kid(real_feats, fake_feats, cfg.kid_subsets, cfg.kid_subset_size)
    out["precision"], out["recall"] = precision_recall(real_feats, fake_feats, cfg.pr_k)
    out["fid_samples"] = float(min(len(real_feats), len(fake_feats)))
    out["fid_pixel_features"] = float(kind == "pixels")
    if cfg.class_metrics and real_labels is not None and num_classes > 1 and bool((real_labels >= 0).any()):
        net, real_acc = cached_classifier(real_images, real_labels, num_classes)
        out.update(class_scores(predict(net, fake), num_classes, labels))
        out["classifier_real_accuracy"] = real_acc
    out["metrics_seconds"] = time.perf_counter() - t0
    return out
