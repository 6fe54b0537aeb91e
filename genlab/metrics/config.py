"""Torch-free settings of the image-quality metrics (FID, KID, precision/recall, class coverage).

Shared by every image family that reports sample quality; the UI form is generated from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.core.config import Section


class ImageMetricsConfig(Section):
    features: Literal["inception", "pixels"] = Field(
        "inception",
        description="Feature space of FID/KID/precision/recall: Inception-v3 (comparable with papers; ~0.3 s per image on a CPU) or 16x16 pixels (fast, only comparable between GenLab runs). Falls back to pixels, with a message, when the Inception weights are missing",
    )
    fid_every_n_epochs: int = Field(
        5,
        ge=1,
        le=100_000,
        description="Measure every this many epochs (and at the last epoch); validations in between repeat the last value",
    )
    fid_samples: int = Field(
        1000,
        ge=50,
        le=50_000,
        description="Generated and real images per measurement (FID is biased upwards at small counts; the count is logged beside it)",
    )
    batch_size: int = Field(50, ge=1, le=1024, description="Images per Inception forward pass (memory vs speed)")
    kid_subset_size: int = Field(500, ge=10, le=10_000, description="KID subset size (capped at the sample count)")
    kid_subsets: int = Field(20, ge=1, le=1000, description="KID subsets averaged")
    pr_k: int = Field(
        3,
        ge=1,
        le=50,
        description="Neighbours that define the real/fake manifolds for precision and recall (Kynkaanniemi et al. use 3)",
    )
    class_metrics: bool = Field(
        True,
        description="On labelled data, score samples with a small cached classifier (class accuracy for conditional models, class coverage)",
    )
