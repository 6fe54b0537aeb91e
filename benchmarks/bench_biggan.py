"""BigGAN-style cGAN vs cgan_mnist at the same wall-clock budget, and BigGAN's training speed vs a plain loop.

quality: both presets (configs/biggan_mnist.yaml, configs/cgan_mnist.yaml) train in ONE process, taking turns
of `--slice` seconds (two Lightning Trainers in two threads, one runs at a time), so a loaded machine slows
both alike. Each side's clock runs only during its own turns (its steps, data loading, EMA, logging). At
every `--budget / --points` seconds of its own time, the sampling generator (the EMA copy) is snapshotted;
after both have spent `--budget` seconds, every snapshot is scored with the same FID/KID code, Inception
features and real images as the runs' own metrics (genlab/metrics/images.py measure(), same seed).

speed: GenLab's biggan training step (a real Lightning fit of the preset's module) vs a plain PyTorch loop
over the same nets (hinge D step, G step with the orthogonal penalty, EMA update), one plain step after each
GenLab step (benchmarks/interleave.py), images/s of each. ajbrock/BigGAN-PyTorch, the public reference,
calls .cuda() unconditionally (train.py: `G = model.Generator(**config).cuda()`), so it cannot run here.

    OMP_NUM_THREADS=1 python benchmarks/bench_biggan.py quality --budget 600 --points 3 --slice 20
    OMP_NUM_THREADS=1 python benchmarks/bench_biggan.py score OUT.snapshots.pt --features pixels  # re-score
    OMP_NUM_THREADS=1 python benchmarks/bench_biggan.py speed --steps 30 --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml

from genlab.core.parsing import parse_config
from genlab.runner.train import build_trainer, prepare

ROOT = Path(__file__).resolve().parent.parent


def load_preset(name: str, **sets: Any) -> Any:
    raw = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    for key, value in sets.items():
        section, field = key.split(".")
        raw[section][field] = value
    return parse_config(raw)


# -- quality at equal time ------------------------------------------------------------------------------------


class Turns:
    """Whose turn it is to train: one side at a time, in order, skipping sides that have finished."""

    def __init__(self, names: list[str]) -> None:
        self.order, self.turn, self.done = names, names[0], set[str]()
        self.cond = threading.Condition()

    def wait(self, name: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == name)

    def pass_on(self, name: str, finished: bool = False) -> None:
        with self.cond:
            if finished:
                self.done.add(name)
            left = [n for n in self.order if n not in self.done]
            if left:
                i = self.order.index(name)
                after = self.order[i + 1 :] + self.order[: i + 1]
                self.turn = next(n for n in after if n in left)
            self.cond.notify_all()


class TimeShare(L.Callback):
    """Trains only during this side's turns; snapshots the sampling generator at equal shares of its budget."""

    def __init__(self, name: str, turns: Turns, budget: float, points: int, slice_s: float) -> None:
        self.name, self.turns, self.budget, self.slice = name, turns, budget, slice_s
        self.marks = [budget * (i + 1) / points for i in range(points)]
        self.used = 0.0
        self.snapshots: list[dict[str, Any]] = []
        self.batches = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.turns.wait(self.name)
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any) -> None:
        self.batches += 1
        now = time.perf_counter()
        used = self.used + now - self.start
        while self.marks and used >= self.marks[0]:
            state = {k: v.detach().clone() for k, v in pl_module.sampler.state_dict().items()}
            self.snapshots.append({"seconds": round(used, 1), "batches": self.batches, "state": state})
            self.marks.pop(0)
        if not self.marks:
            trainer.should_stop = True
            return
        if now - self.start >= self.slice:
            self.used = used
            self.turns.pass_on(self.name)
            self.turns.wait(self.name)
            self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.turns.pass_on(self.name, finished=True)


def quality(args: argparse.Namespace) -> dict[str, Any]:
    names = ["biggan_mnist", "cgan_mnist"]
    turns = Turns(names)
    sides: dict[str, dict[str, Any]] = {}
    for name in names:
        cfg = load_preset(name, **{"trainer.max_epochs": 10_000, "trainer.limit_val_batches": 0})
        L.seed_everything(cfg.seed, verbose=False)
        family, dm, module = prepare(cfg)
        module.configure_callbacks = lambda: []  # measured below, after the budget, for both alike
        share = TimeShare(name, turns, args.budget, args.points, args.slice)
        trainer = build_trainer(cfg, family, None, None, [share], manual_optimization=True)
        sides[name] = {"cfg": cfg, "dm": dm, "module": module, "share": share, "trainer": trainer}

    def fit(name: str) -> None:
        s = sides[name]
        s["trainer"].fit(s["module"], datamodule=s["dm"])

    threads = [threading.Thread(target=fit, args=(n,), name=n) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    snapshots = {n: sides[n]["share"].snapshots for n in names}
    if args.out:  # the snapshots, so the scoring can be redone without training again
        torch.save(snapshots, f"{args.out}.snapshots.pt")
    return score(snapshots, args)


def score(snapshots: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    """FID/KID of every snapshot: the runs' own measure(), the same real images, features and seed for both."""
    from genlab.metrics.images import measure

    results: dict[str, Any] = {}
    for name, snaps in snapshots.items():
        cfg = load_preset(name)
        L.seed_everything(cfg.seed, verbose=False)
        _, dm, module = prepare(cfg)
        idx = torch.as_tensor(dm.train_idx, dtype=torch.long)
        images, labels = dm.images[idx], dm.labels[idx]
        metrics_cfg = cfg.metrics.model_copy(
            update={"fid_samples": args.fid_samples, "class_metrics": False, "features": args.features}
        )
        curve = []
        for snap in snaps:
            module.sampler.load_state_dict(snap["state"])
            module.eval()
            gen = torch.Generator().manual_seed(cfg.seed)

            def generate(n: int, y: torch.Tensor | None, module: Any = module, gen: torch.Generator = gen) -> Any:
                return module.images_for_metrics(n, None if y is None else y.tolist(), gen)

            scores = measure(generate, images, labels, module.num_classes, metrics_cfg, conditional=True, seed=cfg.seed)
            curve.append({"seconds": snap["seconds"], "batches": snap["batches"], "features": args.features, **scores})
            print(name, json.dumps(curve[-1]), flush=True)
        results[name] = curve
    return results


# -- speed vs a plain loop ------------------------------------------------------------------------------------


def speed_round(args: argparse.Namespace, r: int) -> dict[str, Any]:
    """One fit of GenLab's biggan step with one plain step after each (the same nets, copied)."""
    from benchmarks.interleave import Interleave
    from lightning_modules.biggan import orthogonal_penalty
    from lightning_modules.gan_common import EMA, make_shadow

    sets = {"trainer.max_epochs": 1000, "trainer.max_steps": args.warmup + args.steps, "trainer.limit_val_batches": 0}
    cfg = load_preset("biggan_mnist", **sets)
    L.seed_everything(r, verbose=False)
    family, dm, module = prepare(cfg)
    module.configure_callbacks = lambda: []
    m, o = cfg.model, cfg.optim
    G, D = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
    G_ema, ema = make_shadow(G), EMA(m.ema_decay)
    opt_g = torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=(o.beta1, o.beta2))
    data = dm.train_dataloader().dataset
    loader = iter(torch.utils.data.DataLoader(data, batch_size=cfg.data.batch_size, shuffle=True, drop_last=True))
    n = [0]

    def plain_step() -> None:
        x, y = next(loader)
        real, y = x * 2 - 1, y.long()
        z = torch.randn(real.shape[0], m.latent_dim)
        fake = G(z, y)
        opt_d.zero_grad(set_to_none=True)
        d_loss = torch.relu(1 - D(real, y)).mean() + torch.relu(1 + D(fake.detach(), y)).mean()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss = -D(fake, y).mean() + m.ortho_reg * orthogonal_penalty(G, skip=(G.shared.weight,))
        g_loss.backward()
        opt_g.step()
        n[0] += 1
        ema.update(G_ema, G, average=n[0] > m.ema_start_step, n=n[0] - m.ema_start_step)

    clock = Interleave(plain_step, args.warmup)
    trainer = build_trainer(cfg, family, None, None, [clock], manual_optimization=True)
    trainer.fit(module, datamodule=dm)
    genlab_s, plain_s = clock.seconds()
    steps, b = clock.seen - args.warmup, cfg.data.batch_size
    row = {"round": r, "steps": steps, "genlab_img_s": b * steps / genlab_s, "plain_img_s": b * steps / plain_s}
    row["ratio"] = row["genlab_img_s"] / row["plain_img_s"]
    row["load"] = round(os.getloadavg()[0], 1)
    print(json.dumps(row), flush=True)
    return row


def speed(args: argparse.Namespace) -> dict[str, Any]:
    return {"rounds": [speed_round(args, r) for r in range(args.rounds)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--budget", type=float, default=600.0, help="training seconds of each side")
    q.add_argument("--points", type=int, default=3, help="FID measurements along the budget")
    q.add_argument("--slice", type=float, default=20.0, help="seconds of one turn")
    q.add_argument("--fid-samples", type=int, default=500)
    q.add_argument("--features", choices=["inception", "pixels"], default="inception", help="the same for both")
    r = sub.add_parser("score", help="score the snapshots a quality run saved (--out X wrote X.snapshots.pt)")
    r.add_argument("snapshots")
    r.add_argument("--fid-samples", type=int, default=500)
    r.add_argument("--features", choices=["inception", "pixels"], default="inception")
    s = sub.add_parser("speed")
    s.add_argument("--steps", type=int, default=30)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    load = os.getloadavg()
    if args.what == "score":
        found = score(torch.load(args.snapshots, weights_only=True), args)
    else:
        found = quality(args) if args.what == "quality" else speed(args)
    result = {"load_before": [round(v, 1) for v in load], **found}
    result["load_after"] = [round(v, 1) for v in os.getloadavg()]
    print(json.dumps({k: v for k, v in result.items() if k.startswith("load")}))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
