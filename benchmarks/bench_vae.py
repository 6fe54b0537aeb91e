"""VAE training throughput: GenLab (Lightning + run store + callbacks) vs a plain PyTorch loop.

Same network, data (MNIST-5k in memory), batch size and optimizer; the two are interleaved over several
rounds in one process so machine load affects both alike, and the median ratio is reported.

    python benchmarks/bench_vae.py --steps 150 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from genlab.config import parse_config  # noqa: E402
from genlab.runs import RunStore  # noqa: E402
from genlab.train import build_trainer, prepare  # noqa: E402
from lightning_modules.vae import ConvVAE  # noqa: E402


def config(batch_size: int, steps: int):
    return parse_config(
        {
            "family": "vae",
            "data": {"name": "mnist", "batch_size": batch_size, "val_fraction": 0.1},
            "model": {"latent_dim": 16, "base_width": 32},
            "optim": {"optimizer": "adam", "lr": 2e-3},
            "trainer": {"max_epochs": 1000, "max_steps": steps, "limit_val_batches": 0, "log_every_n_steps": 10},
            "logging": {"sample_every_n_steps": 0},
        }
    )


class Timer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.t0, self.t1 = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.t0 = time.perf_counter()

    def on_train_end(self, *args) -> None:
        self.t1 = time.perf_counter()


def genlab_steps_per_s(store: RunStore, steps: int, warmup: int, bs: int) -> float:
    cfg = config(bs, steps + warmup)
    run = store.create_run(cfg, status="running", monitor="val/loss")
    family, dm, module = prepare(cfg)
    timer = Timer(warmup)
    trainer = build_trainer(cfg, family, store, run.id, [timer])
    trainer.fit(module, datamodule=dm)
    return steps / (timer.t1 - timer.t0)


def plain_steps_per_s(steps: int, warmup: int, bs: int) -> float:
    cfg = config(bs, steps + warmup)
    _, dm, _ = prepare(cfg)  # the same in-memory tensors
    images = dm.images[torch.as_tensor(dm.train_idx)]
    torch.manual_seed(0)
    net = ConvVAE(1, 28, 16, 32)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    done, t0 = 0, 0.0
    while True:
        for idx in torch.randperm(len(images)).split(bs):
            if len(idx) < bs:
                continue
            if done == warmup:
                t0 = time.perf_counter()
            x = images[idx].float() / 255
            logits, mu, logvar = net(x)
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / bs
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / bs
            opt.zero_grad(set_to_none=True)
            (recon + kl).backward()
            opt.step()
            done += 1
            if done == steps + warmup:
                return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    store = RunStore(tempfile.mkdtemp(prefix="genlab-bench-"))
    ratios, g_all, p_all = [], [], []
    for r in range(args.rounds):
        names = ["plain", "genlab"] if r % 2 == 0 else ["genlab", "plain"]  # alternate who runs first
        res = {}
        for name in names:
            if name == "genlab":
                res[name] = genlab_steps_per_s(store, args.steps, args.warmup, args.batch_size)
            else:
                res[name] = plain_steps_per_s(args.steps, args.warmup, args.batch_size)
        ratios.append(res["genlab"] / res["plain"])
        g_all.append(res["genlab"])
        p_all.append(res["plain"])
        print(
            f"round {r + 1}: genlab {res['genlab']:.1f} steps/s, plain {res['plain']:.1f} steps/s, ratio {ratios[-1]:.3f}"
        )
    print(
        f"median: genlab {statistics.median(g_all):.1f} steps/s ({statistics.median(g_all) * args.batch_size:.0f} img/s), "
        f"plain {statistics.median(p_all):.1f} steps/s, ratio {statistics.median(ratios):.3f} (goal >= 0.95)"
    )


if __name__ == "__main__":
    main()
