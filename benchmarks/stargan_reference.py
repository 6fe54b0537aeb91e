"""yunjey/stargan's solver, unmodified, against GenLab's CLI at the same configuration: images/s.

The user names a checkout of yunjey/stargan and a Python that has torchvision (a throwaway venv:
torchvision must never sit beside GenLab's torch). The reference trains with `--dataset RaFD` (its
ImageFolder loader: one subfolder per domain), here on the built-in emoji3 domains written out as 64 px
PNGs (twemoji/, openmoji/, openmoji_lines/), centre-cropped at 64 and resized to 32 px by its own
transforms; 3 domains (1,000 images each), conv_dim 16 in G and D (the preset's widths), 4 residual
blocks, 4 strided D layers, batch 16, n_critic 5, its default 1 loader worker, no TensorBoard, no sample or model saves within the run. It
prints one line per 5 iterations; the parent stamps each line as it arrives and the median gap (the
first two left out) over 5 is its time per iteration. GenLab trains the same nets on the same images
(the same PNG folder, decoded once and held in memory) from `python -m genlab train`, timed from the
wall-clock of its logged steps (also every 5). Both run with the same thread count, alternating in rounds, so load drifts hit both alike.

    python -m benchmarks.stargan_reference --checkout /path/to/stargan --python /tmp/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from benchmarks.cli_timing import genlab_seconds_per_step

LOG_EVERY = 5  # iterations between the reference's log lines (its --log_step) and GenLab's logged rows
LINE = re.compile(r"Elapsed \[[^\]]+\], Iteration \[(\d+)/\d+\]")
WIDTH, BLOCKS, D_LAYERS, SIZE = 16, 4, 4, 32  # configs/stargan_emoji_faces.yaml's nets
PER_DOMAIN = 1000  # images written per domain: more than one run's batches, so neither restarts its loader


def write_domains(root: Path) -> Path:
    """The emoji3 domains as an ImageFolder tree of 64 px PNGs (what the reference's RaFD loader reads, and
    GenLab's folder source too: both train on the same files)."""
    from datamodules.multi_domain import load_emoji3

    arrays, names = load_emoji3()
    for arr, name in zip(arrays, names, strict=True):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(arr[:PER_DOMAIN]):
            Image.fromarray(img).save(root / name / f"{i:05d}.png")
    return root


def reference_seconds_per_iter(
    checkout: Path, python: str, data: Path, out: Path, iters: int, batch: int, env: dict
) -> float:
    main = checkout / "main.py"
    if not (main.is_file() and (checkout / "solver.py").is_file()):
        raise SystemExit(f"{checkout} is not a yunjey/stargan checkout (no main.py / solver.py)")
    cmd = [python, str(main), "--mode", "train", "--dataset", "RaFD", "--rafd_image_dir", str(data)]
    cmd += ["--c_dim", "3", "--rafd_crop_size", "64", "--image_size", str(SIZE), "--batch_size", str(batch)]
    cmd += ["--g_conv_dim", str(WIDTH), "--d_conv_dim", str(WIDTH), "--g_repeat_num", str(BLOCKS)]
    cmd += ["--d_repeat_num", str(D_LAYERS), "--n_critic", "5", "--num_iters", str(iters), "--num_iters_decay", "0"]
    cmd += ["--use_tensorboard", "False", "--log_step", str(LOG_EVERY), "--sample_step", "1000000000"]
    cmd += ["--model_save_step", "1000000000", "--lr_update_step", "1000000000"]
    for flag in ("log_dir", "model_save_dir", "sample_dir", "result_dir"):
        cmd += [f"--{flag}", str(out / flag)]
    proc = subprocess.Popen(cmd, cwd=checkout, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, text=True)
    stamps: list[tuple[int, float]] = []
    for line in proc.stdout:  # type: ignore[union-attr]
        m = LINE.search(line)
        if m:
            stamps.append((int(m.group(1)), time.perf_counter()))
    if proc.wait():
        raise SystemExit(f"yunjey/stargan main.py failed (exit {proc.returncode}); does {python} have torchvision?")
    gaps = [(t1 - t0) / (i1 - i0) for (i0, t0), (i1, t1) in zip(stamps[2:], stamps[3:], strict=False)]
    if not gaps:
        raise SystemExit("main.py printed too few iterations to time; raise --iters")
    return statistics.median(gaps)


def genlab_config(data: Path, batch: int, steps: int) -> dict[str, Any]:
    return {
        "family": "stargan",
        "name": "bench-vs-yunjey-stargan",
        "seed": 0,
        "data": {
            "source": "folder",
            "name": str(data),
            "image_size": SIZE,
            "batch_size": batch,
            "val_fraction": 0.0,
            "hflip": True,
        },
        "model": {
            "gen_width": WIDTH,
            "gen_blocks": BLOCKS,
            "disc_width": WIDTH,
            "disc_layers": D_LAYERS,
            "n_critic": 5,
            "eval_fid": False,
        },
        "optim": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.999},
        "trainer": {"max_steps": steps, "limit_val_batches": 0, "accelerator": "cpu", "log_every_n_steps": LOG_EVERY},
        "logging": {"sample_every_n_steps": 0, "wandb": "off"},
    }


def compare(
    checkout: Path, python: str, *, rounds: int, iters: int, batch: int, threads: int, data: Path | None = None
) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WANDB_MODE": "disabled"}
    ref, gl, loads = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-stargan-") as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        home.mkdir()
        cache = Path(os.environ.get("GENLAB_HOME", "genlab_home")).expanduser() / "cache"
        if cache.is_dir():  # reuse the rendered emoji instead of drawing them again
            (home / "cache").symlink_to(cache.resolve(), target_is_directory=True)
        data = data or write_domains(Path(tmp) / "emoji3")
        config_path = Path(tmp) / "stargan.yaml"
        config_path.write_text(yaml.safe_dump(genlab_config(data, batch, iters)))
        for r in range(rounds):
            loads.append(os.getloadavg()[0])
            ref.append(reference_seconds_per_iter(checkout, python, data, out / str(r), iters, batch, env))
            gl.append(genlab_seconds_per_step(home, config_path, env, "train/d_loss", 2 * LOG_EVERY))
            print(
                f"round {r + 1} (load {loads[-1]:.1f}): yunjey/stargan {batch / ref[-1]:.1f} images/s, "
                f"GenLab {batch / gl[-1]:.1f} images/s, ratio {ref[-1] / gl[-1]:.3f}",
                flush=True,
            )
    ratios = [e / g for e, g in zip(ref, gl, strict=True)]
    return {
        "reference": "yunjey/stargan main.py --dataset RaFD (unmodified)",
        "image_size": SIZE,
        "widths": WIDTH,
        "batch": batch,
        "threads": threads,
        "load_at_round_start": loads,
        "reference_images_per_s": [batch / t for t in ref],
        "genlab_images_per_s": [batch / t for t in gl],
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkout", type=Path, required=True, help="a checkout of github.com/yunjey/stargan")
    p.add_argument("--python", required=True, help="a Python with torch and torchvision (a throwaway venv)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=200, help="iterations (batches) per run of each")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, help="an ImageFolder tree an earlier run wrote (default: write one)")
    args = p.parse_args()
    result = compare(
        args.checkout,
        args.python,
        rounds=args.rounds,
        iters=args.iters,
        batch=args.batch,
        threads=args.threads,
        data=args.data,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
