"""karpathy/nanoGPT's own train.py, unmodified, against GenLab's CLI at the identical configuration.

The user names a nanoGPT checkout (nothing is downloaded). Its train.py, model.py and configurator.py
are linked into a scratch folder beside char-level Shakespeare written in nanoGPT's data layout
(data/<name>/train.bin, val.bin, meta.pkl) from GenLab's built-in corpus, and train.py runs there with
`--key=value` overrides only. GenLab trains the same shape with `python -m genlab train --wait`.

Both are timed in steady state, start-up excluded: nanoGPT's own per-iteration time (it prints one at
every log_interval) and GenLab's per-step time from the wall-clock stamps of its logged metrics. The two
alternate in rounds, so a busy shared machine slows both alike.
"""

from __future__ import annotations

import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.cli_timing import genlab_seconds_per_step

ROOT = Path(__file__).resolve().parent.parent
LOG_EVERY = 10
SKIP_STEPS = 20  # warm-up steps left out of the steady state


def check_checkout(folder: Path) -> None:
    missing = [n for n in ("train.py", "model.py", "configurator.py") if not (folder / n).is_file()]
    if missing:
        raise SystemExit(f"{folder} is not a nanoGPT checkout (missing {', '.join(missing)})")


def write_char_dataset(workdir: Path, name: str, max_chars: int) -> int:
    """Char-level Shakespeare as nanoGPT's data/shakespeare_char/prepare.py writes it; returns the vocab size."""
    from datamodules.corpora import load_shakespeare

    text = load_shakespeare()[:max_chars]
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = int(len(ids) * 0.9)
    folder = workdir / "data" / name
    folder.mkdir(parents=True, exist_ok=True)
    ids[:n].tofile(folder / "train.bin")
    ids[n:].tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return len(chars)


def nanogpt_args(shape: dict[str, int], iters: int, dataset: str) -> list[str]:
    values: dict[str, Any] = {
        "out_dir": "out",
        "dataset": dataset,
        "device": "cpu",
        "dtype": "float32",
        "compile": False,
        "wandb_log": False,
        "eval_interval": 10**9,
        "eval_iters": 1,
        "log_interval": LOG_EVERY,
        "always_save_checkpoint": False,
        "gradient_accumulation_steps": 1,
        "batch_size": shape["batch_size"],
        "block_size": shape["block_size"],
        "n_layer": shape["n_layer"],
        "n_head": shape["n_head"],
        "n_embd": shape["n_embd"],
        "dropout": 0.0,
        "bias": False,
        "learning_rate": 1e-3,
        "beta2": 0.95,
        "weight_decay": 0.1,
        "grad_clip": 1.0,
        "warmup_iters": 10,
        "max_iters": iters,
        "lr_decay_iters": iters,
        "min_lr": 1e-4,
    }
    return [f"--{k}={v}" for k, v in values.items()]


def genlab_config(shape: dict[str, int], iters: int, max_chars: int) -> dict[str, Any]:
    return {
        "family": "gpt",
        "name": "bench-vs-nanogpt",
        "seed": 0,
        "data": {
            "source": "builtin",
            "name": "shakespeare",
            "tokenizer": "char",
            "block_size": shape["block_size"],
            "batch_size": shape["batch_size"],
            "eval_pairs": 0,
            "max_chars": max_chars,
        },
        "model": {
            "source": "scratch",
            "n_layer": shape["n_layer"],
            "n_head": shape["n_head"],
            "n_embd": shape["n_embd"],
            "dropout": 0.0,
            "bias": False,
        },
        "optim": {
            "optimizer": "adamw",
            "lr": 1e-3,
            "beta2": 0.95,
            "weight_decay": 0.1,
            "schedule": "cosine",
            "warmup_steps": 10,
        },
        "trainer": {
            "max_steps": iters,
            "accelerator": "cpu",
            "precision": "32",
            "gradient_clip_val": 1.0,
            "log_every_n_steps": LOG_EVERY,
            "limit_val_batches": 1,
        },
        "logging": {"sample_every_n_steps": 10**7, "wandb": "off"},
    }


def run_nanogpt(workdir: Path, checkout: Path, shape: dict[str, int], iters: int, env: dict[str, str]) -> float:
    """Seconds per iteration, median of the iterations nanoGPT timed after the warm-up."""
    for name in ("train.py", "model.py", "configurator.py"):
        link = workdir / name
        if not link.exists():
            link.symlink_to((checkout / name).resolve())
    out = subprocess.run(
        [sys.executable, "train.py", *nanogpt_args(shape, iters, "genlab_char")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"nanoGPT's train.py failed:\n{out.stderr[-3000:]}")
    times = [
        (int(m.group(1)), float(m.group(2)) / 1000)
        for m in re.finditer(r"iter (\d+): loss [\d.]+, time ([\d.]+)ms", out.stdout)
    ]
    steady = [t for i, t in times if i >= SKIP_STEPS]
    if not steady:
        raise SystemExit(f"nanoGPT printed no iteration times:\n{out.stdout[-2000:]}")
    return statistics.median(steady)


def compare(checkout: Path, shape: dict[str, int], *, iters: int, rounds: int, threads: int, max_chars: int) -> dict:
    check_checkout(checkout)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "WANDB_MODE": "disabled",
    }
    tokens = shape["batch_size"] * shape["block_size"]
    nano, genlab = [], []
    with tempfile.TemporaryDirectory(prefix="bench-nanogpt-") as tmp:
        workdir, home = Path(tmp) / "nanogpt", Path(tmp) / "genlab_home"
        workdir.mkdir()
        home.mkdir()
        vocab = write_char_dataset(workdir, "genlab_char", max_chars)
        config_path = Path(tmp) / "genlab.yaml"
        config_path.write_text(yaml.safe_dump(genlab_config(shape, iters, max_chars)))
        for r in range(rounds):
            nano.append(run_nanogpt(workdir, checkout, shape, iters, env))
            genlab.append(genlab_seconds_per_step(home, config_path, env, "train/loss", SKIP_STEPS))
            print(
                f"round {r + 1}: nanoGPT {tokens / nano[-1]:,.0f} tokens/s, GenLab {tokens / genlab[-1]:,.0f} tokens/s,"
                f" ratio {nano[-1] / genlab[-1]:.3f}",
                flush=True,
            )
    ratios = [n / g for n, g in zip(nano, genlab, strict=True)]
    return {
        "reference": "karpathy/nanoGPT train.py (unmodified)",
        "shape": shape,
        "char_vocab": vocab,
        "threads": threads,
        "iters_per_run": iters,
        "nanogpt_tokens_per_s": [tokens / t for t in nano],
        "genlab_tokens_per_s": [tokens / t for t in genlab],
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios),
    }
