"""GenLab's DCGAN training step vs the classic PyTorch DCGAN example loop, same nets, loss, batch and data.

Both sides train the same Generator/Discriminator (lightning_modules/gan_common.py, same seed) with
non-saturating BCE, Adam(2e-4, 0.5), batch 64, on the same MNIST images (28 px). The plain side is the
loop of pytorch/examples/dcgan (D on real, D on fake.detach(), G on the same fake; per-item DataLoader);
GenLab's side is a real Lightning Trainer fit of DCGANModule with its ImageDataModule. Timed after a
warm-up, alternating sides, median of repeats. Ratio = plain seconds per batch / GenLab seconds per batch
(> 1: GenLab is faster).

    python benchmarks/bench_dcgan.py --steps 40 --repeats 3
    python benchmarks/bench_dcgan.py --reference ~/examples --reference-python ~/tv-venv/bin/python
        # pytorch/examples' dcgan/main.py, unmodified, vs GenLab's CLI (benchmarks/dcgan_reference.py)
    python benchmarks/bench_dcgan.py --device cuda --precision bf16-mixed --channels-last --compile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from genlab.core.parsing import parse_config  # noqa: E402
from genlab.runner.train import build_trainer, prepare  # noqa: E402
from lightning_modules.gan_common import Discriminator, Generator  # noqa: E402


def make_config(args: argparse.Namespace, steps: int) -> Any:
    return parse_config(
        {
            "family": "dcgan",
            "seed": 0,
            "data": {"name": "mnist", "image_size": 28, "batch_size": args.batch, "val_fraction": 0.0},
            "model": {"latent_dim": args.latent, "g_width": args.width, "d_width": args.width, "loss": "nonsat"},
            "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
            "trainer": {
                "max_epochs": 1000,
                "max_steps": 2 * steps,
                "limit_val_batches": 0,
                "accelerator": "gpu" if args.device == "cuda" else "cpu",
                "devices": 1,
                "precision": args.precision,
                "channels_last": args.channels_last,
                "compile": args.compile,
                "log_every_n_steps": 50,
            },
            "logging": {"sample_every_n_steps": 0},
            "metrics": {"features": "pixels", "fid_every_n_epochs": 100000},
        }
    )


class _Clock(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.t0, self.t1, self.n = warmup, 0.0, 0.0, 0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self.n == self.warmup:
            self._sync()
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.n += 1
        self._sync()
        self.t1 = time.perf_counter()

    def per_batch(self) -> float:
        return (self.t1 - self.t0) / max(1, self.n - self.warmup)


def genlab_run(args: argparse.Namespace) -> float:
    cfg = make_config(args, args.warmup + args.steps)
    L.seed_everything(0, verbose=False)
    family, dm, module = prepare(cfg)
    module.configure_callbacks = lambda: []  # time the step, not the quality metrics
    clock = _Clock(args.warmup)
    trainer = build_trainer(cfg, family, None, None, [clock], manual_optimization=True)
    model = torch.compile(module) if args.compile else module
    trainer.fit(model, datamodule=dm)
    return clock.per_batch()


def plain_run(args: argparse.Namespace, images: torch.Tensor) -> float:
    """The classic pytorch/examples DCGAN loop, verbatim in structure."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    netG = Generator(args.latent, 1, 28, args.width).to(device)
    netD = Discriminator(1, 28, args.width, norm="batch").to(device)
    criterion = torch.nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = TensorDataset(images.float().div(255).mul(2).sub(1))
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True)
    n, t0 = 0, 0.0
    while True:
        for (real,) in loader:
            if n == args.warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            real = real.to(device)
            b = real.size(0)
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            noise = torch.randn(b, args.latent, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optD.step()
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optG.step()
            n += 1
            if n == args.warmup + args.steps:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                return (time.perf_counter() - t0) / args.steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="timed batches per run")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="g_width = d_width")
    p.add_argument("--latent", type=int, default=64)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="32", choices=["32", "bf16-mixed", "16-mixed"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--reference", type=Path, help="a pytorch/examples checkout: run its dcgan/main.py side by side")
    p.add_argument("--reference-python", help="with --reference: a Python with torchvision (a separate venv)")
    p.add_argument("--rounds", type=int, default=3, help="with --reference: alternating runs of each")
    p.add_argument("--threads", type=int, default=2, help="with --reference: OMP threads of both")
    args = p.parse_args()
    if args.reference:
        from benchmarks.dcgan_reference import compare

        if not args.reference_python:
            raise SystemExit("--reference needs --reference-python: a Python with torchvision, in its own venv")
        result = compare(
            args.reference.expanduser(),
            args.reference_python,
            rounds=args.rounds,
            epochs=3,
            steps=60,
            batch=args.batch,
            threads=args.threads,
        )
        print(json.dumps(result, indent=2))
        return
    os.environ.setdefault("GENLAB_HOME", str(Path("genlab_home").resolve()))
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    from datamodules.builtin import load_builtin_images

    images, _, _ = load_builtin_images("mnist")
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 1, 28, 28) uint8
    plain, genlab = [], []
    for r in range(args.repeats):
        plain.append(plain_run(args, images))
        genlab.append(genlab_run(args))
        print(f"repeat {r}: plain {plain[-1] * 1000:.1f} ms/batch, genlab {genlab[-1] * 1000:.1f} ms/batch", flush=True)
    p_med, g_med = statistics.median(plain), statistics.median(genlab)
    print(
        f"\ndevice={args.device} precision={args.precision} channels_last={args.channels_last} compile={args.compile} "
        f"batch={args.batch} width={args.width} threads={torch.get_num_threads()}"
    )
    print(f"plain PyTorch DCGAN loop: {p_med * 1000:.1f} ms/batch (median of {args.repeats})")
    print(f"GenLab DCGANModule:       {g_med * 1000:.1f} ms/batch (median of {args.repeats})")
    print(f"ratio (plain / GenLab, >1 means GenLab faster): {p_med / g_med:.3f}")


if __name__ == "__main__":
    main()
