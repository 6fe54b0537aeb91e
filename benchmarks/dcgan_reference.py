"""pytorch/examples' dcgan/main.py, unmodified, against GenLab's CLI at the same configuration.

The user names a checkout of pytorch/examples and a Python that has torchvision (a throwaway venv:
torchvision must never sit beside GenLab's torch). main.py runs with `--dataset fake` (torchvision's
FakeData: random 64 px colour images), batch 64, z 100, 64 filters in G and D, its default 2 loader
workers. It prints one line per iteration; the parent stamps each line as it arrives, and the median gap
between consecutive iterations of one epoch (the sample-saving iterations left out) is its time per
iteration. GenLab trains its DCGAN on the built-in colour emoji at 64 px with the same shapes, timed from
its logged steps. Both run with the same number of threads, alternating in rounds.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.cli_timing import genlab_seconds_per_step

LINE = re.compile(r"^\[(\d+)/\d+\]\[(\d+)/(\d+)\]")


def example_seconds_per_iter(checkout: Path, python: str, outf: Path, epochs: int, batch: int, env: dict) -> float:
    main = checkout / "dcgan" / "main.py"
    if not main.is_file():
        raise SystemExit(f"{checkout} is not a pytorch/examples checkout (no dcgan/main.py)")
    cmd = [python, str(main), "--dataset", "fake", "--imageSize", "64", "--batchSize", str(batch)]
    cmd += ["--nz", "100", "--ngf", "64", "--ndf", "64", "--niter", str(epochs), "--outf", str(outf)]
    cmd += ["--manualSeed", "0"]
    proc = subprocess.Popen(cmd, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, text=True)
    stamps: list[tuple[int, int, float]] = []
    for line in proc.stdout:  # type: ignore[union-attr]
        m = LINE.match(line)
        if m:
            stamps.append((int(m.group(1)), int(m.group(2)), time.perf_counter()))
    if proc.wait():
        raise SystemExit(f"dcgan/main.py failed (exit {proc.returncode}); does {python} have torchvision?")
    gaps = [
        t1 - t0
        for (e0, i0, t0), (e1, i1, t1) in zip(stamps, stamps[1:], strict=False)
        if e0 == e1 and i1 == i0 + 1 and i0 % 100 != 0  # same epoch; not after a sample save
    ]
    if not gaps:
        raise SystemExit("dcgan/main.py printed too few iterations to time")
    return statistics.median(gaps)


def genlab_config(batch: int, steps: int) -> dict[str, Any]:
    return {
        "family": "dcgan",
        "name": "bench-vs-pytorch-examples",
        "seed": 0,
        "data": {"name": "emoji", "image_size": 64, "color_mode": "rgb", "batch_size": batch, "val_fraction": 0.0},
        "model": {"latent_dim": 100, "g_width": 64, "d_width": 64, "loss": "nonsat"},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
        "trainer": {"max_steps": steps, "limit_val_batches": 0, "accelerator": "cpu", "log_every_n_steps": 5},
        "logging": {"sample_every_n_steps": 0, "wandb": "off"},
        "metrics": {"features": "pixels", "fid_every_n_epochs": 100000},
    }


def compare(checkout: Path, python: str, *, rounds: int, epochs: int, steps: int, batch: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WANDB_MODE": "disabled"}
    ex, gl = [], []
    with tempfile.TemporaryDirectory(prefix="bench-dcgan-") as tmp:
        home, outf = Path(tmp) / "home", Path(tmp) / "out"
        home.mkdir()
        outf.mkdir()
        config_path = Path(tmp) / "dcgan.yaml"
        config_path.write_text(yaml.safe_dump(genlab_config(batch, steps)))
        for r in range(rounds):
            ex.append(example_seconds_per_iter(checkout, python, outf, epochs, batch, env))
            gl.append(genlab_seconds_per_step(home, config_path, env, "train/g_loss", 10))
            print(
                f"round {r + 1}: pytorch/examples {batch / ex[-1]:.1f} images/s, GenLab {batch / gl[-1]:.1f} images/s,"
                f" ratio {ex[-1] / gl[-1]:.3f}",
                flush=True,
            )
    ratios = [e / g for e, g in zip(ex, gl, strict=True)]
    return {
        "reference": "pytorch/examples dcgan/main.py --dataset fake (unmodified)",
        "batch": batch,
        "threads": threads,
        "example_images_per_s": [batch / t for t in ex],
        "genlab_images_per_s": [batch / t for t in gl],
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios),
    }
