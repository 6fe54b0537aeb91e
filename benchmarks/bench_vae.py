"""VAE training throughput: GenLab (Lightning + run store + callbacks) vs a plain PyTorch loop.

Same network, data (MNIST-5k in memory), batch size and optimizer. The two are interleaved step by step
in one process (a plain step after each GenLab step), so a noisy machine slows both alike; GenLab runs
the vae_mnist preset's own logging, sample and checkpoint cadence. The median ratio over rounds is reported.

    python benchmarks/bench_vae.py --steps 200 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

from benchmarks.interleave import Interleave  # noqa: E402
from genlab.core.parsing import parse_config  # noqa: E402
from genlab.runner.train import build_trainer, prepare  # noqa: E402
from genlab.store.runs import RunStore  # noqa: E402
from lightning_modules.vae import ConvVAE  # noqa: E402

PRESET = Path(__file__).resolve().parent.parent / "configs" / "vae_mnist.yaml"


def config(batch_size: int, steps: int):
    """The vae_mnist preset as a user runs it (its logging, sample and checkpoint cadence), cut to `steps`.

    The plain loop gets the preset's network, data, batch size and Adam; the cosine schedule is kept
    out of both (a schedule is a per-step scalar, not a loop cost).
    """
    raw = yaml.safe_load(PRESET.read_text())
    raw["data"]["batch_size"] = batch_size
    raw["optim"].update(schedule="constant", warmup_steps=0)
    raw["trainer"].update(max_epochs=1000, max_steps=steps, limit_val_batches=0)
    return parse_config(raw)


class PlainLoop:
    """The plain PyTorch loop (the classic VAE example), one step per call so it can run between GenLab's."""

    def __init__(self, images: torch.Tensor, batch_size: int) -> None:
        torch.manual_seed(0)
        self.images, self.bs = images, batch_size
        self.net = ConvVAE(1, 28, 16, 32)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=2e-3)
        self.batches = iter(())

    def _next_index(self) -> torch.Tensor:
        idx = next(self.batches, None)
        if idx is None or len(idx) < self.bs:
            self.batches = iter(torch.randperm(len(self.images)).split(self.bs))
            idx = next(self.batches)
        return idx

    def step(self) -> None:
        x = self.images[self._next_index()].float() / 255
        logits, mu, logvar = self.net(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / self.bs
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / self.bs
        self.opt.zero_grad(set_to_none=True)
        (recon + kl).backward()
        self.opt.step()


def one_round(store: RunStore, steps: int, warmup: int, bs: int) -> tuple[float, float]:
    """(GenLab steps/s, plain steps/s) over the same interleaved steps."""
    cfg = config(bs, steps + warmup)
    run = store.create_run(cfg, status="running", monitor="val/loss")
    family, dm, module = prepare(cfg)
    plain = PlainLoop(dm.images[torch.as_tensor(dm.train_idx)], bs)  # the same in-memory tensors
    timer = Interleave(plain.step, warmup)
    trainer = build_trainer(cfg, family, store, run.id, [timer])
    trainer.fit(module, datamodule=dm)
    genlab_s, plain_s = timer.seconds()
    return steps / genlab_s, steps / plain_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    store = RunStore(tempfile.mkdtemp(prefix="genlab-bench-"))
    ratios, g_all, p_all = [], [], []
    for r in range(args.rounds):
        genlab, plain = one_round(store, args.steps, args.warmup, args.batch_size)
        ratios.append(genlab / plain)
        g_all.append(genlab)
        p_all.append(plain)
        print(f"round {r + 1}: genlab {genlab:.1f} steps/s, plain {plain:.1f} steps/s, ratio {ratios[-1]:.3f}")
    print(
        f"median: genlab {statistics.median(g_all):.1f} steps/s ({statistics.median(g_all) * args.batch_size:.0f} img/s), "
        f"plain {statistics.median(p_all):.1f} steps/s, ratio {statistics.median(ratios):.3f} (goal >= 0.95)"
    )


if __name__ == "__main__":
    main()
