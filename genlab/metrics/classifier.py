"""A small CNN trained once per labelled data set (cached) that scores generated images by class.

It answers the questions FID cannot: does a conditional generator draw the class it was asked for
(class accuracy), and how many classes does an unconditional one cover, and how evenly (mode collapse).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.caching import read_or_rebuild
from genlab.core.paths import cache_dir


class SmallClassifier(nn.Module):
    """images (B, C, H, W) in [0, 1] -> class logits (B, K); three conv blocks and global pooling."""

    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(4 * w, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float() * 2.0 - 1.0)


def dataset_digest(images: torch.Tensor, labels: torch.Tensor | None = None) -> str:
    """A short hash of the exact pixels (and labels): the cache key of statistics and classifiers."""
    h = hashlib.sha1()
    h.update(str(tuple(images.shape)).encode())
    h.update(images.contiguous().cpu().numpy().tobytes())
    if labels is not None:
        h.update(labels.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int = 3, seed: int = 0
) -> tuple[SmallClassifier, float]:
    """Train on uint8 images (N, C, H, W) with labels (N,); returns the net and its held-out accuracy."""
    keep = labels >= 0
    images, labels = images[keep], labels[keep]
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=g)
    n_val = max(1, len(images) // 10)
    val, train = order[:n_val], order[n_val:]
    torch.manual_seed(seed)
    net = SmallClassifier(images.shape[1], num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    epochs = max(epochs, min(30, math.ceil(400 / math.ceil(len(train) / 128))))  # >= ~400 steps on small sets
    steps = epochs * math.ceil(len(train) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(1, steps))
    net.train()
    for _ in range(epochs):
        perm = train[torch.randperm(len(train), generator=g)]
        for i in range(0, len(perm), 128):
            idx = perm[i : i + 128]
            if len(idx) < 2:
                continue
            x = images[idx].float() / 255.0
            # small random shifts make it robust to the slight misplacements generators produce
            x = torch.roll(
                x,
                shifts=(int(torch.randint(-2, 3, (1,), generator=g)), int(torch.randint(-2, 3, (1,), generator=g))),
                dims=(2, 3),
            )
            loss = F.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(images[val[i : i + 512]].float() / 255.0).argmax(1) for i in range(0, len(val), 512)])
    return net, float((pred == labels[val]).float().mean())


def cached_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[SmallClassifier, float]:
    """The classifier for this exact data set, trained on first use and cached under GENLAB_HOME/cache."""
    key = f"{images.shape[1]}ch-{images.shape[-1]}px-{num_classes}cls-{dataset_digest(images, labels)}"

    def read(path: Path) -> tuple[SmallClassifier, float]:
        blob: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        net = SmallClassifier(images.shape[1], num_classes)
        net.load_state_dict(blob["state_dict"])
        return net.eval(), float(blob["val_accuracy"])

    def build() -> tuple[SmallClassifier, float]:
        with torch.inference_mode(False), torch.enable_grad():  # callers may sit inside Lightning's validation
            return train_classifier(images.clone(), labels.clone(), num_classes)

    def write(value: tuple[SmallClassifier, float], path: Path) -> None:
        torch.save({"state_dict": value[0].state_dict(), "val_accuracy": value[1]}, path)

    return read_or_rebuild(cache_dir("metrics", "classifiers") / f"{key}.pt", read, build, write)


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes (N,) of images (N, C, H, W) in [0, 1]."""
    net.eval()
    return torch.cat([net(images[i : i + batch_size].cpu()).argmax(1) for i in range(0, len(images), batch_size)])


def class_scores(pred: torch.Tensor, num_classes: int, requested: torch.Tensor | None = None) -> dict[str, float]:
    """coverage: share of classes that get at least a fifth of a fair share of the samples;
    entropy: normalised entropy of the predicted-class histogram (1 = perfectly even, 0 = one class);
    accuracy (conditional only): share of samples classified as the class they were asked for."""
    counts = torch.bincount(pred, minlength=num_classes).double()
    p = counts / counts.sum()
    fair = len(pred) / num_classes
    out = {
        "class_coverage": float((counts >= max(1.0, 0.2 * fair)).double().mean()),
        "class_entropy": float(-(p[p > 0] * p[p > 0].log()).sum() / math.log(num_classes)) if num_classes > 1 else 1.0,
    }
    if requested is not None:
        out["class_accuracy"] = float((pred == requested.cpu()).double().mean())
    return out
