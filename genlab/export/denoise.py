"""Sample images with an exported denoiser through the same sampling loop as the run.

A denoiser is exported with batch 1 (x (1, C, H, W) in noise units, timestep (1,) float[, label (1,) int]);
the sampling loop (schedulers, guidance) runs outside the net. ExportedDenoiser gives an ONNX or TFLite
runner the loop's denoise-function surface, one row per call, so the run's own sampler drives it unchanged:
the same seed gives the eager sampler's image, and a quantised file shows what quantisation costs in pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Run = Callable[[list[np.ndarray]], list[np.ndarray]]


class ExportedDenoiser:
    """(x (B, C, H, W), timestep (scalar or (B,)), labels (B,) or None) -> the exported net's prediction
    (B, C, H, W). A conditional export always takes a label: None asks for `null_label` ("no class")."""

    def __init__(self, run: Run, *, conditional: bool, null_label: int = 0) -> None:
        self.run, self.conditional, self.null_label = run, conditional, int(null_label)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        xs = x.detach().float().cpu().numpy()
        ts = np.broadcast_to(np.asarray(t.detach().float().cpu().numpy(), dtype=np.float32).reshape(-1), (len(xs),))
        ys = np.full(len(xs), self.null_label) if y is None else y.detach().cpu().numpy().reshape(-1)
        rows = []
        for i in range(len(xs)):
            inputs = [xs[i : i + 1], ts[i : i + 1].copy()]
            if self.conditional:
                inputs.append(np.asarray(ys[i : i + 1], dtype=np.int64))
            rows.append(np.asarray(self.run(inputs)[0], dtype=np.float32).reshape(1, *xs.shape[1:]))
        return torch.from_numpy(np.concatenate(rows)).to(x.device)
