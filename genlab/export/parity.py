"""Proof that an export computes what the PyTorch net computes, on the net's fixed inputs.

Figures: max abs diff over every output, PSNR for images ([0, 1] units), top-1 agreement and max
logit diff for logits, perplexity of the input sequences for language models (the quality change of a
quantised variant), size on disk, and latency per call against PyTorch eager, timed interleaved
(eager, export, eager, export ...) so both see the same machine load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch

from lightning_modules.export_nets import ExportNet

FP32_TOLERANCE = 1e-4  # fp32 exports must match within this max abs diff, or they are marked failed
PSNR_IDENTICAL_DB = 200.0  # what identical images report (their PSNR is infinite)


def eager_outputs(net: ExportNet, i: int) -> list[np.ndarray]:
    with torch.no_grad():
        out = net.module(*net.parity_input(i))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().float().numpy() for o in out]


def size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _psnr(ref: np.ndarray, got: np.ndarray) -> float:
    mse = float(np.mean((ref.astype(np.float64) - got.astype(np.float64)) ** 2))
    return PSNR_IDENTICAL_DB if mse == 0 else min(PSNR_IDENTICAL_DB, 10.0 * math.log10(1.0 / mse))


def _perplexity(logits: np.ndarray, ids: np.ndarray) -> float:
    """exp of the mean next-token cross-entropy of the sequences `ids` (N, T) under `logits` (N, T, V)."""
    x = torch.from_numpy(logits[:, :-1].astype(np.float64))
    y = torch.from_numpy(ids[:, 1:].astype(np.int64))
    nll = torch.nn.functional.cross_entropy(x.reshape(-1, x.shape[-1]), y.reshape(-1))
    return float(math.exp(min(float(nll), 50.0)))


def compare(net: ExportNet, run: Callable[[list[np.ndarray]], list[np.ndarray]], variant: str) -> dict[str, Any]:
    """Run every parity input through the eager net and the export; the figures and pass/fail."""
    refs: list[list[np.ndarray]] = []
    gots: list[list[np.ndarray]] = []
    for i in range(net.n_parity):
        refs.append(eager_outputs(net, i))
        gots.append([np.asarray(g, dtype=np.float32) for g in run([t.numpy() for t in net.parity_input(i)])])
    figures: dict[str, Any] = {"n_inputs": net.n_parity, "outputs": {}}
    worst = 0.0
    for k, name in enumerate(net.output_names):
        ref = np.concatenate([r[k] for r in refs])
        got = np.concatenate([g[k].reshape(r[k].shape) for g, r in zip(gots, refs, strict=True)])
        diff = float(np.max(np.abs(ref - got))) if np.all(np.isfinite(got)) else float("nan")
        worst = diff if math.isnan(diff) else max(worst, diff)
        one: dict[str, Any] = {"max_abs_diff": diff}
        kind = net.output_kinds.get(name, "tensor")
        if kind == "image":
            one["psnr_db"] = _psnr(ref, got)
        elif kind == "logits":
            one["top1_agreement"] = float(np.mean(ref.argmax(-1) == got.argmax(-1)))
            one["max_logit_diff"] = diff
            if ref.ndim == 3 and net.parity_inputs[0].ndim == 2:  # a sequence model: ids (N, T)
                ids = net.parity_inputs[0].numpy()
                one["perplexity_eager"] = _perplexity(ref, ids)
                one["perplexity_export"] = _perplexity(got, ids)
        figures["outputs"][name] = one
    figures["max_abs_diff"] = worst
    figures["variant"] = variant
    if variant == "fp32":
        figures["tolerance"] = FP32_TOLERANCE
        figures["passed"] = bool(worst <= FP32_TOLERANCE)  # NaN compares False: failed
    else:
        figures["tolerance"] = None  # quantised: the figures show the quality change instead
        figures["passed"] = bool(math.isfinite(worst))
    return figures


def latency(net: ExportNet, run: Callable[[list[np.ndarray]], list[np.ndarray]], reps: int = 20) -> dict[str, float]:
    """Median ms per batch-1 call of eager PyTorch and the export, timed interleaved after a warm-up.

    Both sides run on one thread (`run` is made with one): two thread pools taking turns on a shared
    CPU slow each other by orders of magnitude, which would measure the machine, not the export."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        e, x = _timed(net, run, reps)
    finally:
        torch.set_num_threads(threads)
    return {"eager_ms": e, "export_ms": x, "speedup_vs_eager": e / x if x > 0 else float("nan"), "threads": 1}


def _timed(net: ExportNet, run: Callable[[list[np.ndarray]], list[np.ndarray]], reps: int) -> tuple[float, float]:
    inputs = net.example_inputs
    arrays = [t.numpy() for t in inputs]
    eager, exported = [], []
    with torch.no_grad():
        for _ in range(2):
            net.module(*inputs)
            run(arrays)
        for _ in range(max(1, reps)):
            t0 = time.perf_counter()
            net.module(*inputs)
            t1 = time.perf_counter()
            run(arrays)
            t2 = time.perf_counter()
            eager.append(t1 - t0)
            exported.append(t2 - t1)
    return median(eager) * 1e3, median(exported) * 1e3
