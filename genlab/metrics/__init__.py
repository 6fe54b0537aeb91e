"""Image-quality metrics used by every image family: FID, KID, precision/recall and class scores.

Import-light on purpose: `genlab.metrics.config` is torch-free (it feeds the UI form); the torch parts
live in `features`, `scores`, `classifier` and `evaluate` and are imported only when measuring.
"""

from genlab.metrics.config import ImageMetricsConfig

__all__ = ["ImageMetricsConfig"]
