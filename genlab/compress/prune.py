"""Prune a finished run to a chosen sparsity (global magnitude, or structured by output channel), then
fine-tune it briefly as a new run linked to its source (`pruned_from`), masks held through the fine-tune.

Only the networks that are served (the family's export nets) are pruned; embeddings and weights tied to
them stay dense. Figures: sparsity reached, non-zero parameters, the monitored metric before and after.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn.utils import prune

from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.runner.checkpoints import load_module
from genlab.runner.finetune import finished_run, train_given_module
from genlab.runner.train import build_module
from genlab.store.runs import RunStore

METHODS = ("magnitude", "channel")


def prunable(module: Any) -> list[nn.Module]:
    """Linear and convolution layers of the module's served nets (each once; not those tied to embeddings)."""
    nets = [net.module for net in module.export_nets().values()]
    embeddings = [m.weight for n in nets for m in n.modules() if isinstance(m, nn.Embedding)]
    layers, seen = [], set()
    for n in nets:
        for m in n.modules():
            dense = isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) or type(m).__name__ == "Conv1D"
            if dense and id(m) not in seen and not any(m.weight is e for e in embeddings):
                seen.add(id(m))
                layers.append(m)
    return layers


def apply_pruning(layers: list[nn.Module], sparsity: float, method: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Zero weights in place; returns (weight, mask) pairs for keeping them zero while fine-tuning."""
    if method == "magnitude":
        prune.global_unstructured([(m, "weight") for m in layers], prune.L1Unstructured, amount=sparsity)
        targets = layers
    else:  # whole output channels by L2 norm, every layer but the last (it makes the output's channels)
        targets = layers[:-1]
        for m in targets:
            prune.ln_structured(m, "weight", amount=sparsity, n=2, dim=1 if isinstance(m, nn.ConvTranspose2d) else 0)
    masks = []
    for m in targets:
        mask = m.weight_mask.detach().clone()
        prune.remove(m, "weight")
        masks.append((m.weight, mask))
    return masks


def sparsity_of(layers: list[nn.Module]) -> dict[str, float]:
    total = sum(m.weight.numel() for m in layers)
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    return {"prunable_params": total, "zero_params": zeros, "sparsity": zeros / max(1, total)}


class KeepMasks(L.Callback):
    """Re-zero the pruned weights after every optimizer step: fine-tuning must not regrow them."""

    def __init__(self, masks: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.masks = masks

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        with torch.no_grad():
            for weight, mask in self.masks:
                weight.mul_(mask)


def prune_run(
    store: RunStore, source_id: str, sparsity: float, method: str = "magnitude", steps: int = 50
) -> dict[str, Any]:
    """Prune `source_id` and fine-tune `steps` batches as a new linked run; the figures of both."""
    if not 0.0 < sparsity < 1.0:
        raise GenLabError(f"--sparsity must be between 0 and 1 (exclusive), got {sparsity}")
    if method not in METHODS:
        raise GenLabError(f"unknown pruning method {method!r}; choose one of: {', '.join(METHODS)}")
    if steps < 1:
        raise GenLabError(f"--steps must be at least 1, got {steps}")
    source = finished_run(store, source_id, "pruned")
    raw = source.config
    raw["name"] = f"{source.name} pruned {sparsity:.0%} ({method})"
    raw["trainer"] = dict(raw["trainer"], max_steps=steps, max_epochs=max(1, raw["trainer"].get("max_epochs", 1)))
    config = parse_config(raw)
    teacher = load_module(store, source_id)
    module = build_module(config, teacher.data_info)
    module.load_state_dict(teacher.state_dict())
    layers = prunable(module)
    masks = apply_pruning(layers, sparsity, method)
    run = store.create_run(config, status="running")
    train_given_module(store, run.id, config, module, [KeepMasks(masks)])
    figures = {
        "method": method,
        "asked_sparsity": sparsity,
        **sparsity_of(prunable(load_module(store, run.id))),
        "source_monitor": source.best_value,
        "pruned_monitor": store.get(run.id).best_value,
        "monitor": source.monitor,
        "fine_tune_steps": steps,
    }
    store.add_link(run.id, "pruned_from", source_id, figures)
    return {"run_id": run.id, "source_id": source_id, **figures}
