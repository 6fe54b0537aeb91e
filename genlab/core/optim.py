"""Optimizers and learning-rate schedules built from OptimConfig (shared by every family)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from genlab.core.config import OptimBase, OptimConfig


class AdaBelief(Optimizer):
    """AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks (g - m)^2, the 'belief' in g.

    Decoupled weight decay as in AdamW, bias correction as in Adam.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0.0,
    ) -> None:
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_var"] = torch.zeros_like(p)
                state["step"] += 1
                m, s = state["exp_avg"], state["exp_avg_var"]
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                diff = grad - m
                s.mul_(beta2).addcmul_(diff, diff, value=1 - beta2).add_(group["eps"])
                bc1 = 1 - beta1 ** state["step"]
                bc2 = 1 - beta2 ** state["step"]
                denom = (s.sqrt() / math.sqrt(bc2)).add_(group["eps"])
                p.addcdiv_(m, denom, value=-group["lr"] / bc1)
        return loss


def _can_fuse(params: list[Any]) -> bool:
    """Fused Adam/AdamW (one kernel per step, ~3x faster than the default loop on CPU too) needs every
    parameter floating point on a CPU or CUDA device."""
    tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
    return bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)


def build_optimizer(
    params: Iterable[Any], cfg: OptimBase, lr: float | None = None, betas: tuple[float, float] | None = None
) -> Optimizer:
    """The optimizer named by cfg; GANs pass their own lr per network (TTUR)."""
    if lr is None:
        if not isinstance(cfg, OptimConfig):
            raise ValueError("this optimizer section has one learning rate per network: pass lr")
        lr = cfg.lr
    betas = (cfg.beta1, cfg.beta2) if betas is None else betas
    params = list(params)
    if cfg.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=betas, weight_decay=cfg.weight_decay, fused=_can_fuse(params) or None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adabelief":
        return AdaBelief(params, lr=lr, betas=betas, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def build_scheduler(optimizer: Optimizer, cfg: OptimBase, total_steps: int, monitor: str) -> dict[str, Any] | None:
    """A Lightning lr_scheduler dict, or None for a constant rate without warm-up."""
    warmup = cfg.warmup_steps
    if cfg.schedule == "constant":
        if not warmup:
            return None
        sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
        return {"scheduler": sched, "interval": "step"}
    if cfg.schedule == "cosine":
        total = max(1, total_steps)

        def cosine(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        return {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, cosine), "interval": "step"}
    if cfg.schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        return {"scheduler": sched, "interval": "epoch"}
    if cfg.schedule == "plateau" and isinstance(cfg, OptimConfig):
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.gamma, patience=cfg.plateau_patience)
        return {"scheduler": sched, "interval": "epoch", "monitor": monitor}
    raise ValueError(f"unknown schedule {cfg.schedule!r}")
