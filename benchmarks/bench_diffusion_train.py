"""Training speed of the diffusion family against diffusers' own example, train_unconditional.py, unmodified.

    PYTHONPATH=. python benchmarks/bench_diffusion_train.py --reference ~/diffusers --reference-python ~/tv-venv/bin/python

The user names a checkout of huggingface/diffusers and a Python that has what its example needs (torchvision,
datasets, accelerate, tensorboard: a throwaway venv, since torchvision must never sit beside GenLab's torch).
Both sides train the same UNet2DModel (the diffusion_emoji preset's 32-64-64-64 config, handed to the example
with --model_config_name_or_path) on the same 96 built-in emoji faces at 32 px RGB, batch 32, fp32, noise
prediction on a linear 1000-level schedule, AdamW with warm-up and cosine decay, EMA weights, horizontal
flips. The example's tqdm bar is stamped as each step ends (the median gap within an epoch is its time per
step; epoch starts, its sampling and saving are left out); GenLab's side is `python -m genlab train --wait`,
timed from its logged steps (benchmarks/cli_timing.py). Both run with the same threads, alternating in rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from PIL import Image

from benchmarks.cli_timing import genlab_seconds_per_step

BAR = re.compile(r"Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")
N_IMAGES = 96  # three full batches of 32 per epoch: no short last batch on either side


def genlab_config(batch: int, steps: int) -> dict:
    return {
        "family": "diffusion",
        "name": "bench-vs-diffusers-example",
        "seed": 0,
        "data": {
            "source": "builtin",
            "name": "emoji_faces",
            "image_size": 32,
            "color_mode": "rgb",
            "batch_size": batch,
            "val_fraction": 0.0,
            "hflip": True,
            "max_items": N_IMAGES,
        },
        "model": {
            "objective": "epsilon",
            "noise_schedule": "linear",
            "train_timesteps": 1000,
            "base_width": 32,
            "width_mults": [1, 2, 2, 2],
            "layers_per_block": 1,
            "attention": True,
            "ema_decay": 0.995,
        },
        "optim": {"optimizer": "adamw", "lr": 2e-3, "schedule": "cosine", "warmup_steps": 5},
        "trainer": {"max_steps": steps, "limit_val_batches": 0, "accelerator": "cpu", "log_every_n_steps": 1},
        "logging": {"sample_every_n_steps": 0, "wandb": "off"},
        "metrics": {"features": "pixels", "fid_every_n_epochs": 100000, "fid_samples": 50},
    }


def prepare(tmp: Path, batch: int, steps: int) -> tuple[Path, Path, Path]:
    """The GenLab config file, the example's image folder (the same 96 faces) and its UNet config folder."""
    os.environ["GENLAB_HOME"] = str(tmp / "home")
    from genlab.core.parsing import parse_config
    from genlab.runner.build import build_datamodule
    from lightning_modules.diffusion import build_unet

    raw = genlab_config(batch, steps)
    config_path = tmp / "diffusion.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    config = parse_config(raw)
    dm = build_datamodule(config)
    dm.setup("fit")
    images = dm.images[dm.train_idx[:N_IMAGES]]  # uint8 (N, 3, 32, 32)
    folder = tmp / "faces"
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    unet_dir = tmp / "unet_config"
    build_unet(config.model, 3, 32, 0).save_config(unet_dir)
    return config_path, folder, unet_dir


def example_seconds_per_step(
    script: Path, python: str, faces: Path, unet_dir: Path, out: Path, epochs: int, batch: int, env: dict
) -> float:
    cmd = [python, str(script), "--train_data_dir", str(faces), "--model_config_name_or_path", str(unet_dir)]
    cmd += ["--resolution", "32", "--center_crop", "--random_flip", "--train_batch_size", str(batch)]
    cmd += ["--num_epochs", str(epochs), "--learning_rate", "2e-3", "--lr_warmup_steps", "5", "--use_ema"]
    cmd += ["--mixed_precision", "no", "--ddpm_num_steps", "1000", "--ddpm_beta_schedule", "linear"]
    cmd += ["--prediction_type", "epsilon", "--output_dir", str(out), "--save_images_epochs", "100000"]
    cmd += ["--save_model_epochs", "100000", "--eval_batch_size", "1", "--ddpm_num_inference_steps", "2"]
    cmd += ["--checkpointing_steps", "100000", "--dataloader_num_workers", "0"]
    proc = subprocess.Popen(
        cmd, env={**env, "PYTHONUNBUFFERED": "1"}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    stamps: dict[tuple[int, int], float] = {}
    buf = b""
    while True:
        chunk = proc.stderr.read1(4096)  # type: ignore[union-attr]
        if not chunk:
            break
        now = time.perf_counter()
        buf += chunk
        *lines, buf = re.split(rb"[\r\n]", buf)
        for line in lines:
            m = BAR.search(line.decode("utf-8", "replace"))
            if m and int(m.group(2)) > 0:
                stamps.setdefault((int(m.group(1)), int(m.group(2))), now)
    if proc.wait():
        raise SystemExit(f"train_unconditional.py failed (exit {proc.returncode}); does {python} have its packages?")
    gaps = [t - stamps[(e, n - 1)] for (e, n), t in stamps.items() if (e, n - 1) in stamps]
    if not gaps:
        raise SystemExit("train_unconditional.py printed too few steps to time")
    return statistics.median(gaps)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="a huggingface/diffusers checkout")
    p.add_argument("--reference-python", required=True, help="a Python with torchvision, datasets, accelerate")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=6, help="example epochs per round (3 steps each)")
    p.add_argument("--steps", type=int, default=18, help="GenLab steps per round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    script = a.reference / "examples" / "unconditional_image_generation" / "train_unconditional.py"
    if not script.is_file():
        raise SystemExit(f"{a.reference} is not a diffusers checkout (no {script.relative_to(a.reference)})")
    t = str(a.threads)
    env = {**os.environ, "OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-diffusion-train-") as tmp_name:
        tmp = Path(tmp_name)
        config_path, faces, unet_dir = prepare(tmp, a.batch, a.steps)
        home = tmp / "home"
        ex, gl = [], []
        for r in range(a.rounds):
            load = os.getloadavg()[0]
            ex.append(
                example_seconds_per_step(
                    script, a.reference_python, faces, unet_dir, tmp / f"out{r}", a.epochs, a.batch, env
                )
            )
            gl.append(genlab_seconds_per_step(home, config_path, env, "train/loss", 4))
            print(
                f"round {r + 1} (load {load:.1f} -> {os.getloadavg()[0]:.1f}): diffusers example "
                f"{a.batch / ex[-1]:.1f} images/s, GenLab {a.batch / gl[-1]:.1f} images/s, ratio {ex[-1] / gl[-1]:.3f}",
                flush=True,
            )
    ratios = [e / g for e, g in zip(ex, gl, strict=True)]
    print(
        f"median ratio GenLab / example: {statistics.median(ratios):.3f}x over {a.rounds} rounds, {a.threads} threads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
