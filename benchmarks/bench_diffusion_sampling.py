"""Sampling speed of the diffusion family against diffusers' own DDIMPipeline on the same net.

    PYTHONPATH=. python benchmarks/bench_diffusion_sampling.py --run <run id>   # a trained epsilon/v run's EMA UNet
    PYTHONPATH=. python benchmarks/bench_diffusion_sampling.py                  # the MNIST preset's UNet, fresh weights

Both sides sample the same batch with the same seed, DDIM and the same number of steps, in the same process,
alternating in rounds (images/s, median of the rounds); the images are checked to be the same. GenLab's
side is DiffusionModule.sample (what the CLI, the Playground and the server call); diffusers' side is
DDIMPipeline.from_pretrained over the folder the run exports (DiffusionModule.export_diffusers).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from diffusers import DDIMPipeline

from genlab.core.parsing import load_config
from genlab.runner.checkpoints import load_module
from genlab.store.runs import RunStore
from lightning_modules.diffusion import DiffusionModule

MNIST = {"name": "mnist", "channels": 1, "image_size": 28, "num_classes": 10, "class_names": list("0123456789")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a finished epsilon or v-prediction diffusion run (default: fresh preset net)")
    p.add_argument("--n", type=int, default=16, help="images per call")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    if a.run:
        module = load_module(RunStore(), a.run)
    else:
        config = load_config("configs/diffusion_mnist.yaml", ["model.objective=epsilon"])
        torch.manual_seed(0)
        module = DiffusionModule(config, MNIST)
    module.eval()
    with tempfile.TemporaryDirectory() as folder:
        pipe = DDIMPipeline.from_pretrained(module.export_diffusers(folder))
    pipe.set_progress_bar_config(disable=True)

    def ours() -> np.ndarray:
        return module.sample(a.n, seed=0, sampler="ddim", steps=a.steps).permute(0, 2, 3, 1).numpy()

    def theirs() -> np.ndarray:
        gen = torch.Generator().manual_seed(0)
        return pipe(batch_size=a.n, generator=gen, num_inference_steps=a.steps, output_type="np").images

    np.testing.assert_allclose(ours(), theirs(), atol=1e-5)  # the same images (and a warm-up of both)
    rates: dict[str, list[float]] = {"genlab": [], "diffusers": []}
    for _ in range(a.rounds):
        for name, fn in (("genlab", ours), ("diffusers", theirs)):
            t = time.perf_counter()
            fn()
            rates[name].append(a.n / (time.perf_counter() - t))
    g, d = statistics.median(rates["genlab"]), statistics.median(rates["diffusers"])
    print(
        f"DDIM {a.steps} steps, {a.n} images per call, {a.rounds} interleaved rounds, torch threads {torch.get_num_threads()}"
    )
    print(f"genlab    {g:7.2f} images/s  {' '.join(f'{r:.2f}' for r in rates['genlab'])}")
    print(f"diffusers {d:7.2f} images/s  {' '.join(f'{r:.2f}' for r in rates['diffusers'])}")
    print(f"ratio genlab / diffusers: {g / d:.3f}x")


if __name__ == "__main__":
    main()
