"""Training options from config do what they say: optimizers, schedules, NaN guard, DDP on 2 CPU processes."""

from __future__ import annotations

import pytest
import torch

from genlab.core.config import OptimConfig
from genlab.core.optim import AdaBelief, build_optimizer, build_scheduler
from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.store.runs import RunStore


def quadratic_descends(opt_cfg: OptimConfig) -> float:
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(10))
    opt = build_optimizer([w], opt_cfg)
    for _ in range(200):
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        opt.step()
    return float((w**2).sum())


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adabelief"])
def test_every_optimizer_minimises_a_quadratic(name: str) -> None:
    start = float((torch.randn(10, generator=torch.Generator().manual_seed(0)) ** 2).sum())
    assert quadratic_descends(OptimConfig(optimizer=name, lr=0.05)) < start * 0.05


def test_adabelief_is_its_own_optimizer() -> None:
    assert isinstance(
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], OptimConfig(optimizer="adabelief")), AdaBelief
    )


def test_cosine_with_warmup_rises_then_decays_to_the_floor() -> None:
    w = torch.nn.Parameter(torch.zeros(1))
    cfg = OptimConfig(lr=1.0, schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    opt = build_optimizer([w], cfg)
    sched = build_scheduler(opt, cfg, total_steps=100, monitor="val/loss")["scheduler"]
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=0.01) and lrs[50] < lrs[20]


def test_step_and_plateau_schedules_are_per_epoch() -> None:
    w = torch.nn.Parameter(torch.zeros(1))
    for schedule in ("step", "plateau"):
        cfg = OptimConfig(schedule=schedule)
        out = build_scheduler(build_optimizer([w], cfg), cfg, 10, "val/loss")
        assert out["interval"] == "epoch"
    assert build_scheduler(build_optimizer([w], OptimConfig()), OptimConfig(), 10, "val/loss") is None


def test_a_diverging_run_fails_with_advice(store: RunStore) -> None:
    cfg = FAMILIES["vae"].tiny_config()
    cfg = cfg.model_copy(
        update={
            "optim": cfg.optim.model_copy(update={"optimizer": "sgd", "lr": 10.0}),
            "trainer": cfg.trainer.model_copy(update={"max_epochs": 5}),
        }
    )
    run = jobs.wait(jobs.start(cfg, store).id, store, timeout=200)
    assert run.status == "failed"
    assert "diverged" in run.error and "optim.lr" in run.error


@pytest.mark.slow  # two processes that each start torch and Lightning: 15 s of the default budget
def test_ddp_on_two_cpu_processes_trains_and_logs_once(store: RunStore) -> None:
    """The real path: a background worker whose Trainer launches a second rank (gloo) by re-running it."""
    cfg = FAMILIES["vae"].tiny_config()
    cfg = cfg.model_copy(
        update={"trainer": cfg.trainer.model_copy(update={"accelerator": "cpu", "devices": 2, "strategy": "ddp"})}
    )
    run = jobs.wait(jobs.start(cfg, store).id, store, timeout=300)
    assert run.status == "completed", run.error
    steps = [s for s, _ in store.metric_series(run.id, "train/loss")]
    assert steps == [0, 1]  # 4 batches shared by 2 ranks = 2 steps, logged once by rank 0
    assert "val/loss" in store.metric_keys(run.id)
