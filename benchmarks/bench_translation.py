"""GenLab vs a plain PyTorch loop: seconds per training iteration of CycleGAN and pix2pix.

Both sides train the same networks (lightning_modules/translation_nets.py) with the same losses,
optimizers, LR schedule and batches (the same in-memory two-domain data). GenLab's side is the real
engine path: the family's datamodule, LightningModule and genlab.runner.train.build_trainer (manual
optimization, NaN guard). The plain side is a hand-written loop. The two are interleaved iteration by
iteration in one process (one plain iteration after each GenLab one), so load from other processes hits
both alike; GenLab's time is its wall time less the plain iterations run inside it. The median over
rounds is reported.

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
from pathlib import Path
from typing import Any

import lightning as L  # noqa: E402
import torch
import torch.nn.functional as F

from benchmarks.interleave import Interleave  # noqa: E402
from genlab.core.parsing import parse_config  # noqa: E402
from genlab.core.registry import get_family  # noqa: E402
from genlab.runner.build import build_datamodule  # noqa: E402
from genlab.runner.train import build_module, build_trainer  # noqa: E402
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


class PlainLoop:
    """The same nets, losses, optimizers (PyTorch's default Adam), LR schedule and batches, hand-written,
    one iteration per call so it can run between GenLab's iterations."""

    def __init__(self, config: Any, dm: Any, total: int, device: str, precision: str, channels_last: bool) -> None:
        info, m, o = dm.info(), config.model, config.optim
        self.config, self.device = config, device
        self.ca, self.cb = info["channels_a"], info["channels_b"]
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.amp = precision.startswith("bf16")
        betas = (o.beta1, o.beta2)
        if config.family == "pix2pix":
            self.g = UNetGenerator(self.ca, self.cb, m.gen_width, m.unet_depth, m.norm, m.dropout)
            self.d = PatchDiscriminator(self.ca + self.cb, m.disc_width, m.disc_layers, m.norm)
            self.gens, self.discs = [self.g], [self.d]
        else:
            self.g_ab = ResnetGenerator(self.ca, self.cb, m.gen_width, m.gen_blocks)
            self.g_ba = ResnetGenerator(self.cb, self.ca, m.gen_width, m.gen_blocks)
            self.d_a = PatchDiscriminator(self.ca, m.disc_width, m.disc_layers)
            self.d_b = PatchDiscriminator(self.cb, m.disc_width, m.disc_layers)
            self.gens, self.discs = [self.g_ab, self.g_ba], [self.d_a, self.d_b]
            self.pool_a, self.pool_b = ImagePool(m.pool_size), ImagePool(m.pool_size)
        for net in self.gens + self.discs:
            init_weights(net)
            net.to(device, memory_format=self.fmt).train()
        self.opt_g = torch.optim.Adam(itertools.chain(*(n.parameters() for n in self.gens)), lr=o.lr, betas=betas)
        self.opt_d = torch.optim.Adam(
            itertools.chain(*(n.parameters() for n in self.discs)), lr=m.lr_d or o.lr, betas=betas
        )
        factor = linear_decay(total, m.constant_lr_fraction)
        self.sched = [
            torch.optim.lr_scheduler.LambdaLR(self.opt_g, factor),
            torch.optim.lr_scheduler.LambdaLR(self.opt_d, factor),
        ]
        self.loader = dm.train_dataloader()
        self.batches = iter(self.loader)

    def _autocast(self) -> Any:
        return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.amp)

    def _set_d_grad(self, on: bool) -> None:
        for p in itertools.chain(*(n.parameters() for n in self.discs)):
            p.requires_grad_(on)

    def step(self) -> None:
        batch = next(self.batches, None)
        if batch is None:
            self.batches = iter(self.loader)
            batch = next(self.batches)
        m, pix2pix = self.config.model, self.config.family == "pix2pix"
        a = to_net(batch["A"].to(self.device)).contiguous(memory_format=self.fmt)
        b = to_net(batch["B"].to(self.device)).contiguous(memory_format=self.fmt)
        with self._autocast():
            self._set_d_grad(False)
            if pix2pix:
                fake = self.g(a)
                g_loss = gan_loss(self.d(torch.cat([a, fake], 1)), True, m.gan_mode) + m.lambda_l1 * F.l1_loss(fake, b)
            else:
                fake_b, fake_a = self.g_ab(a), self.g_ba(b)
                cyc = F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)
                idt = 0.0
                if m.lambda_identity > 0 and self.ca == self.cb:
                    idt = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
                g_loss = (
                    gan_loss(self.d_b(fake_b), True)
                    + gan_loss(self.d_a(fake_a), True)
                    + m.lambda_cycle * cyc
                    + m.lambda_cycle * m.lambda_identity * idt
                )
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._set_d_grad(True)
        with self._autocast():
            if pix2pix:
                d_loss = 0.5 * (
                    gan_loss(self.d(torch.cat([a, b], 1)), True, m.gan_mode)
                    + gan_loss(self.d(torch.cat([a, fake.detach()], 1)), False, m.gan_mode)
                )
            else:
                fa, fb = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
                d_loss = 0.5 * (gan_loss(self.d_a(a), True) + gan_loss(self.d_a(fa.detach()), False)) + 0.5 * (
                    gan_loss(self.d_b(b), True) + gan_loss(self.d_b(fb.detach()), False)
                )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        for sched in self.sched:
            sched.step()


def one_round(config: Any, dm: Any, iters: int, warmup: int, args: argparse.Namespace) -> tuple[float, float]:
    """(GenLab s/it, plain s/it) over the same interleaved iterations."""
    L.seed_everything(0, verbose=False)
    module = build_module(config, dm.info())
    cfg = config.model_copy(deep=True)
    cfg.trainer = cfg.trainer.model_copy(
        update={"max_epochs": 1, "max_steps": -1, "limit_train_batches": iters + warmup, "limit_val_batches": 0}
    )
    plain = PlainLoop(config, dm, iters + warmup, args.device, args.precision, args.channels_last)
    timer = Interleave(plain.step, warmup, cuda=args.device.startswith("cuda"))
    trainer = build_trainer(cfg, get_family(cfg.family), None, None, [timer], manual_optimization=True)
    trainer.fit(module, datamodule=dm)
    genlab_s, plain_s = timer.seconds()
    return genlab_s / iters, plain_s / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["pix2pix", "cyclegan", "both"], default="both")
    parser.add_argument("--iters", type=int, default=60, help="timed iterations per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved GenLab/plain rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's own, one per core)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.threads:
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
        dm = build_datamodule(config)
        dm.setup("fit")
        gl, pl = [], []
        for _ in range(args.rounds):
            g, p = one_round(config, dm, args.iters, args.warmup, args)
            gl.append(g)
            pl.append(p)
        g, p = statistics.median(gl), statistics.median(pl)
        row = {
            "family": family,
            "batch": config.data.batch_size,
            "image_size": config.data.image_size,
            "device": args.device,
            "precision": args.precision,
            "channels_last": args.channels_last,
            "threads": torch.get_num_threads(),
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
