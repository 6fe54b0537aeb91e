"""GenLab vs a plain PyTorch loop: seconds per training iteration of CycleGAN and pix2pix.

Both sides train the same networks (lightning_modules/translation_nets.py) with the same losses,
optimizers, LR schedule and batches (the same in-memory two-domain data). GenLab's side is the real
engine path: the family's datamodule, LightningModule and genlab.train.build_trainer (manual
optimization, NaN guard). The plain side is a hand-written loop. Rounds alternate between the two so
load from other processes hits both alike; the median seconds per iteration is reported.

    python benchmarks/bench_translation.py                       # CPU, fp32, both families
    python benchmarks/bench_translation.py --family pix2pix --iters 30 --rounds 3
    python benchmarks/bench_translation.py --device cuda --precision bf16-mixed --channels-last

ratio = plain s/it / GenLab s/it (>= 1.0: GenLab is no slower than the plain loop).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lightning as L  # noqa: E402

from genlab.config import parse_config  # noqa: E402
from genlab.registry import get_family  # noqa: E402
from genlab.train import build_module, build_trainer  # noqa: E402
from lightning_modules.translation_nets import (  # noqa: E402
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
    gan_loss,
    init_weights,
    linear_decay,
    to_net,
)

CONFIGS: dict[str, dict[str, Any]] = {
    "pix2pix": {
        "family": "pix2pix",
        "data": {"name": "edges2emoji", "image_size": 32, "load_size": 36, "batch_size": 16, "max_items": 1024},
        "model": {"gen_width": 16, "unet_depth": 5, "disc_width": 16, "disc_layers": 3},
    },
    "cyclegan": {
        "family": "cyclegan",
        "data": {"name": "emoji", "image_size": 32, "load_size": 36, "batch_size": 4, "max_items": 1024},
        "model": {"gen_width": 16, "gen_blocks": 6, "disc_width": 16, "disc_layers": 3},
    },
}


class _Timer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.times, self._t = warmup, [], 0.0

    def on_train_batch_start(self, *args: Any) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.times.append(time.perf_counter() - self._t)


def genlab_seconds(config: Any, dm: Any, iters: int, warmup: int) -> float:
    module = build_module(config, dm.info())
    cfg = config.model_copy(deep=True)
    cfg.trainer = cfg.trainer.model_copy(
        update={"max_epochs": 1, "max_steps": -1, "limit_train_batches": iters + warmup, "limit_val_batches": 0}
    )
    timer = _Timer(warmup)
    trainer = build_trainer(cfg, get_family(cfg.family), None, None, [timer], manual_optimization=True)
    trainer.fit(module, datamodule=dm)
    return statistics.median(timer.times[warmup:])


def plain_seconds(
    config: Any, dm: Any, iters: int, warmup: int, device: str, precision: str, channels_last: bool
) -> float:
    """The same nets, losses, optimizers, LR schedule and batches, in a hand-written loop."""
    info, m, o = dm.info(), config.model, config.optim
    ca, cb = info["channels_a"], info["channels_b"]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    betas = (o.beta1, o.beta2)
    amp = precision.startswith("bf16")
    if config.family == "pix2pix":
        g = UNetGenerator(ca, cb, m.gen_width, m.unet_depth, m.norm, m.dropout)
        d = PatchDiscriminator(ca + cb, m.disc_width, m.disc_layers, m.norm)
        gens, discs = [g], [d]
    else:
        g_ab, g_ba = (
            ResnetGenerator(ca, cb, m.gen_width, m.gen_blocks),
            ResnetGenerator(cb, ca, m.gen_width, m.gen_blocks),
        )
        d_a, d_b = (
            PatchDiscriminator(ca, m.disc_width, m.disc_layers),
            PatchDiscriminator(cb, m.disc_width, m.disc_layers),
        )
        gens, discs = [g_ab, g_ba], [d_a, d_b]
        pool_a, pool_b = ImagePool(m.pool_size), ImagePool(m.pool_size)
    for net in gens + discs:
        init_weights(net)
        net.to(device, memory_format=fmt).train()
    opt_g = torch.optim.Adam(itertools.chain(*(n.parameters() for n in gens)), lr=o.lr, betas=betas)
    opt_d = torch.optim.Adam(itertools.chain(*(n.parameters() for n in discs)), lr=m.lr_d or o.lr, betas=betas)
    factor = linear_decay(iters + warmup, m.constant_lr_fraction)
    sched = [torch.optim.lr_scheduler.LambdaLR(opt_g, factor), torch.optim.lr_scheduler.LambdaLR(opt_d, factor)]
    times = []
    batches = iter(dm.train_dataloader())
    for _ in range(iters + warmup):
        batch = next(batches)
        t0 = time.perf_counter()
        a = to_net(batch["A"].to(device)).contiguous(memory_format=fmt)
        b = to_net(batch["B"].to(device)).contiguous(memory_format=fmt)
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=amp):
            for p in itertools.chain(*(n.parameters() for n in discs)):
                p.requires_grad_(False)
            if config.family == "pix2pix":
                fake = g(a)
                g_loss = gan_loss(d(torch.cat([a, fake], 1)), True, m.gan_mode) + m.lambda_l1 * F.l1_loss(fake, b)
            else:
                fake_b, fake_a = g_ab(a), g_ba(b)
                cyc = F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b)
                idt = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a) if (m.lambda_identity > 0 and ca == cb) else 0.0
                g_loss = (
                    gan_loss(d_b(fake_b), True)
                    + gan_loss(d_a(fake_a), True)
                    + m.lambda_cycle * cyc
                    + m.lambda_cycle * m.lambda_identity * idt
                )
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in itertools.chain(*(n.parameters() for n in discs)):
            p.requires_grad_(True)
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=amp):
            if config.family == "pix2pix":
                d_loss = 0.5 * (
                    gan_loss(d(torch.cat([a, b], 1)), True, m.gan_mode)
                    + gan_loss(d(torch.cat([a, fake.detach()], 1)), False, m.gan_mode)
                )
            else:
                fa, fb = pool_a.query(fake_a), pool_b.query(fake_b)
                d_loss = 0.5 * (gan_loss(d_a(a), True) + gan_loss(d_a(fa.detach()), False)) + 0.5 * (
                    gan_loss(d_b(b), True) + gan_loss(d_b(fb.detach()), False)
                )
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        for s in sched:
            s.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["pix2pix", "cyclegan", "both"], default="both")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating GenLab/plain rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared 2-core CPU)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for family in ["pix2pix", "cyclegan"] if args.family == "both" else [args.family]:
        raw = json.loads(json.dumps(CONFIGS[family]))
        raw["trainer"] = {
            "accelerator": "gpu" if args.device.startswith("cuda") else "cpu",
            "precision": args.precision,
            "channels_last": args.channels_last,
        }
        config = parse_config(raw)
        dm = get_family(family).build_datamodule(config)
        dm.setup("fit")
        gl, pl = [], []
        for _ in range(args.rounds):
            L.seed_everything(0, verbose=False)
            gl.append(genlab_seconds(config, dm, args.iters, args.warmup))
            L.seed_everything(0, verbose=False)
            pl.append(
                plain_seconds(config, dm, args.iters, args.warmup, args.device, args.precision, args.channels_last)
            )
        g, p = statistics.median(gl), statistics.median(pl)
        row = {
            "family": family,
            "batch": config.data.batch_size,
            "image_size": config.data.image_size,
            "device": args.device,
            "precision": args.precision,
            "channels_last": args.channels_last,
            "threads": args.threads,
            "genlab_s_per_it": round(g, 4),
            "plain_s_per_it": round(p, 4),
            "ratio_plain_over_genlab": round(p / g, 3),
            "rounds_genlab": [round(x, 4) for x in gl],
            "rounds_plain": [round(x, 4) for x in pl],
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
