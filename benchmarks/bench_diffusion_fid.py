"""Quality per CPU-minute: FID of the MNIST diffusion preset against dcgan_mnist after the same wall-clock budget.

    python benchmarks/bench_diffusion_fid.py --budget-s 480

Both presets train AT THE SAME TIME (two background runs, one CPU thread each, so both see the same machine
load for the same minutes) in a throwaway GENLAB_HOME, with no validation inside the budget. When the budget
is spent both runs are cancelled (each saves its last checkpoint), and both checkpoints are scored by the
same genlab.metrics.images.measure on the same real MNIST subset with the same Inception-v3 features the
presets' own FID uses: 500 samples each, the diffusion run with its preset sampler (20 Euler steps, flow
matching; at most 50 as the issue asks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("diffusion_mnist", "dcgan_mnist")
# No validation inside the budget; the one validation every run ends with measures a cheap 50-sample pixel FID,
# so the runs stop soon after the cancel and the comparison below is the only Inception measurement.
NO_VALIDATION = [
    "trainer.max_epochs=1000",
    "trainer.val_every_n_epochs=1000",
    "trainer.checkpoint_every_n_steps=100",
    "metrics.features=pixels",
    "metrics.fid_samples=50",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=480.0, help="wall-clock training seconds of each preset")
    p.add_argument("--fid-samples", type=int, default=500, help="generated and real images per FID (both presets)")
    a = p.parse_args()
    home = tempfile.mkdtemp(prefix="bench_diffusion_fid_")
    os.environ.update(GENLAB_HOME=home, GENLAB_MAX_JOBS="2", OMP_NUM_THREADS="1")
    import torch

    from genlab.core.parsing import load_config
    from genlab.metrics.images import measure
    from genlab.runner import jobs
    from genlab.runner.build import build_datamodule
    from genlab.runner.checkpoints import load_module
    from genlab.store.runs import RunStore

    torch.set_num_threads(1)
    store = RunStore()
    load0 = os.getloadavg()
    runs = {stem: jobs.start(load_config(ROOT / "configs" / f"{stem}.yaml", NO_VALIDATION), store) for stem in PRESETS}
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.budget_s:
        time.sleep(5)  # a wall-clock budget, not a synchronisation
    for run in runs.values():
        jobs.cancel(run.id, store)
    for stem, run in runs.items():
        runs[stem] = jobs.wait(run.id, store)
    load1 = os.getloadavg()
    print(f"budget {a.budget_s:.0f} s each, both at once; load average at start {load0[0]:.1f}, at end {load1[0]:.1f}")
    torch.set_num_threads(os.cpu_count() or 1)  # training is over: score on every core, one model after the other
    config = load_config(ROOT / "configs" / "diffusion_mnist.yaml")
    dm = build_datamodule(config)
    dm.setup("fit")
    real = dm.images[torch.as_tensor(dm.train_idx)]
    for stem, run in runs.items():
        module = load_module(store, run.id, "last").eval()
        step = int(run.step or 0)
        cfg = module.run_config.metrics.model_copy(update={"fid_samples": a.fid_samples, "features": "inception"})
        gen = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        with torch.no_grad():
            scores = measure(lambda n, y, m=module, g=gen: m.images_for_metrics(n, None, g), real, None, 0, cfg)
        print(
            f"{stem:16s} status {run.status:9s} steps {step:5d}  FID {scores['fid']:7.2f}  KID {scores['kid']:.4f}  "
            f"precision {scores['precision']:.3f} recall {scores['recall']:.3f}  ({time.perf_counter() - t:.0f} s to score)"
        )
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
