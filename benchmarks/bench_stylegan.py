"""StyleGAN-lite against DCGAN on Twemoji 32 px at the same wall-clock budget, and StyleGAN-lite's step
against a plain PyTorch loop over the same nets.

FID at equal time (`--fid`): configs/stylegan_emoji.yaml and configs/dcgan_emoji.yaml train side by side,
two processes started together with one thread each and the same nice, so the shared machine slows both
alike. Each trains for `--minutes` of wall clock (sample grids and metrics off while training) and keeps
its sampling generator at every `--every` minutes; after training, each snapshot is scored with the
same FID features (genlab/metrics: Inception-v3, the presets' metrics section, against the training faces)
and its grid saved. Output: one JSON per model and a table of FID by minute.

    python benchmarks/bench_stylegan.py --fid --minutes 25 --every 5 --out /tmp/sg_bench
    python benchmarks/bench_stylegan.py --fid --minutes 8 --every 2.67 --fid-samples 250   # ~20 min on 2 idle cores

Speed (`--speed`): one process, GenLab's Lightning step of the StyleGAN-lite module and a plain loop over
the same generator and discriminator (same losses, R1, style mixing) alternate step by step
(benchmarks/interleave.py), so both see the machine at the same moment. Images/s of each.

    python benchmarks/bench_stylegan.py --speed --steps 30 --warmup 5
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.interleave import Interleave  # noqa: E402
from genlab.core.imaging import save_grid  # noqa: E402
from genlab.core.parsing import load_config  # noqa: E402
from genlab.runner.train import build_trainer, prepare  # noqa: E402

PRESETS = {"stylegan": "configs/stylegan_emoji.yaml", "dcgan": "configs/dcgan_emoji.yaml"}


class Budget(L.Callback):
    """Stops training after `seconds` of wall clock; keeps the sampling generator every `every` seconds."""

    def __init__(self, seconds: float, every: float) -> None:
        self.seconds, self.every = seconds, every
        self.t0 = 0.0
        self.snaps: list[dict[str, Any]] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any) -> None:
        elapsed = time.perf_counter() - self.t0
        # every `every` seconds, and once more when the budget is spent (its end is the equal-time point)
        if elapsed >= min(self.every * (len(self.snaps) + 1), self.seconds):
            self.snaps.append(
                {
                    "seconds": round(elapsed, 1),
                    "g_steps": int(pl_module.g_steps),
                    "state": copy.deepcopy(pl_module.sampler.state_dict()),
                }
            )
        if elapsed >= self.seconds:
            trainer.should_stop = True


def one_model(name: str, minutes: float, every: float, out: Path, fid_samples: int) -> None:
    """Train one preset for the budget, then score each kept snapshot (FID of `fid_samples` generated images
    against the same real faces for both models) and save its grid."""
    from genlab.metrics.images import measure

    torch.set_num_threads(1)
    cfg = load_config(ROOT / PRESETS[name])
    raw = cfg.model_dump(mode="json")
    raw["trainer"].update(
        {"max_steps": -1, "max_epochs": 100000, "limit_val_batches": 0, "checkpoint_every_n_steps": 0}
    )
    raw["logging"]["sample_every_n_steps"] = 0
    raw["metrics"]["fid_samples"] = fid_samples
    cfg = type(cfg).model_validate(raw)
    L.seed_everything(cfg.seed, verbose=False)
    family, dm, module = prepare(cfg)
    module.configure_callbacks = lambda: []  # train only; metrics after the budget
    budget = Budget(minutes * 60, every * 60)
    trainer = build_trainer(cfg, family, None, None, [budget], manual_optimization=True)
    trainer.fit(module, datamodule=dm)
    images, labels = _real_data(trainer)
    rows = []
    for snap in budget.snaps:
        module.sampler.load_state_dict(snap["state"])
        module.g_steps = snap["g_steps"]
        if hasattr(module, "grown_steps"):  # a growing generator draws at the resolution it had reached
            module.grown_steps.fill_(snap["g_steps"])
        module.eval()
        gen = torch.Generator().manual_seed(cfg.seed)
        scores = measure(lambda n, y, gen=gen: module.images_for_metrics(n, None, gen), images, labels, 0, cfg.metrics)
        minute = round(snap["seconds"] / 60)
        save_grid(module.generate(64, z=module.fixed_z[:64]), out / f"{name}_emoji_{minute}min.png", nrow=8)
        rows.append({"minute": minute, "seconds": snap["seconds"], "g_steps": snap["g_steps"], **scores})
        print(name, rows[-1], flush=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=1))


def _real_data(trainer: L.Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The training images as uint8 (N, C, H, W), read as the metrics callback reads them."""
    from callbacks.image_metrics import _real_data as real

    return real(trainer)


def fid_side_by_side(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [
                "nice",
                "-n",
                "5",
                sys.executable,
                __file__,
                "--one",
                name,
                "--minutes",
                str(args.minutes),
                "--every",
                str(args.every),
                "--out",
                str(out),
                "--fid-samples",
                str(args.fid_samples),
            ],
            env=env,
        )
        for name in PRESETS
    ]
    for p in procs:
        p.wait()
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in PRESETS}
    print("| minute | " + " | ".join(f"{n} FID (G steps)" for n in PRESETS) + " |")
    print("|---|" + "---|" * len(PRESETS))
    for i in range(max(len(r) for r in results.values())):
        cells = []
        for name in PRESETS:
            r = results[name][i] if i < len(results[name]) else None
            cells.append(f"{r['fid']:.1f} ({r['g_steps']})" if r else "-")
        minute = next(results[n][i]["minute"] for n in PRESETS if i < len(results[n]))
        print(f"| {minute} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------------------------------------------------
# Speed: GenLab's step vs a plain loop over the same nets


class PlainStyleGAN:
    """The StyleGAN2 training loop written out in PyTorch over copies of the module's nets: style mixing,
    softplus losses, lazy R1, w_avg tracking, EMA, on the same batches' shapes (random reals: speed only)."""

    def __init__(self, module: Any, batch: int) -> None:
        from lightning_modules.gan_common import EMA, make_shadow

        self.m = module.run_config.model
        self.g, self.d = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
        self.g_ema, self.ema = make_shadow(self.g), EMA(self.m.ema_decay)
        o = module.run_config.optim
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=o.lr_d, betas=(o.beta1, o.beta2))
        self.level = len(self.g.synthesis.res) - 1
        self.real = torch.rand(batch, module.channels, module.image_size, module.image_size) * 2 - 1
        self.n = 0

    def step(self) -> None:
        from lightning_modules.gan_common import diff_augment

        m, g, d, real = self.m, self.g, self.d, self.real
        z = torch.randn(real.shape[0], m.latent_dim)
        ws = g.ws(z)
        if torch.rand(()) < m.style_mixing:
            cut = int(torch.randint(1, g.num_ws, ()))
            ws = torch.cat([ws[:, :cut], g.mapping(torch.randn_like(z)).unsqueeze(1).expand(-1, g.num_ws - cut, -1)], 1)
        fake = g.synthesis(ws, self.level)
        r1_now = m.r1_gamma > 0 and self.n % m.r1_every == 0
        real_in = real.detach().requires_grad_(r1_now)
        real_logits = d(diff_augment(real_in, m.diffaugment), self.level)
        d_loss = (
            F.softplus(d(diff_augment(fake.detach(), m.diffaugment), self.level)).mean()
            + F.softplus(-real_logits).mean()
        )
        if r1_now:
            (grad,) = torch.autograd.grad(real_logits.sum(), real_in, create_graph=True)
            d_loss = d_loss + m.r1_gamma / 2 * grad.pow(2).flatten(1).sum(1).mean() * m.r1_every
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.n += 1
        g_loss = F.softplus(-d(diff_augment(fake, m.diffaugment), self.level)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        with torch.no_grad():
            g.mapping.w_avg.lerp_(g.mapping(z).mean(0), 1.0 - m.w_avg_beta)
        self.ema.update(self.g_ema, g, n=self.n)


def speed(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    cfg = load_config(ROOT / PRESETS["stylegan"])
    raw = cfg.model_dump(mode="json")
    raw["model"]["progressive"] = False  # both sides at the full 32 px
    steps = args.warmup + args.steps
    raw["trainer"].update(
        {"max_steps": steps, "max_epochs": 100000, "limit_val_batches": 0, "checkpoint_every_n_steps": 0}
    )
    raw["logging"]["sample_every_n_steps"] = 0
    cfg = type(cfg).model_validate(raw)
    L.seed_everything(0, verbose=False)
    family, dm, module = prepare(cfg)
    module.configure_callbacks = lambda: []
    plain = PlainStyleGAN(module, cfg.data.batch_size)
    timer = Interleave(plain.step, args.warmup)
    trainer = build_trainer(cfg, family, None, None, [timer], manual_optimization=True)
    trainer.fit(module, datamodule=dm)
    genlab_s, plain_s = timer.seconds()
    n = args.steps * cfg.data.batch_size
    print(
        json.dumps(
            {
                "steps": args.steps,
                "batch": cfg.data.batch_size,
                "genlab_images_per_s": round(n / genlab_s, 2),
                "plain_images_per_s": round(n / plain_s, 2),
                "ratio_genlab_over_plain": round(plain_s / genlab_s, 3),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fid", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--one", choices=sorted(PRESETS))
    p.add_argument("--minutes", type=float, default=25.0)
    p.add_argument("--every", type=float, default=5.0)
    p.add_argument("--out", default="/tmp/stylegan_bench")
    p.add_argument("--fid-samples", type=int, default=500, help="generated images per FID (the presets' own: 500)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    if args.one:
        one_model(args.one, args.minutes, args.every, Path(args.out), args.fid_samples)
    elif args.fid:
        fid_side_by_side(args)
    elif args.speed:
        speed(args)
    else:
        p.error("choose --fid or --speed")


if __name__ == "__main__":
    main()
