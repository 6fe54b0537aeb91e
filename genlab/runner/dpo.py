"""DPO fine-tunes of a finished run of a PreferenceTunable family (the GPT) on preference pairs, as a child
run linked to its parent: the policy (the family's `preference_policy`) starts from the parent's served
checkpoint, the reference is a frozen copy of it (DPO loss in lightning_modules/dpo.py). The child keeps the parent's way of training: all weights for a GPT trained
from scratch or fully fine-tuned, only the LoRA adapters for a LoRA run.

What it measured is written beside the child (runs/<id>/preferences.json): the pairs it learned from,
and the reward accuracy and margin on held-out pairs before (policy == reference: 50%) and after.
"""

from __future__ import annotations

from typing import Any

import torch

from datamodules.preferences import PreferenceDataModule, collate
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import get_family, names_that_can
from genlab.runner.checkpoints import load_module
from genlab.runner.finetune import finished_run, train_given_module
from genlab.store.runs import Run, RunStore
from genlab.use.preferences import PreferencePair, write_preferences
from lightning_modules.base import GenLabModule
from lightning_modules.dpo import answer_logps, dpo_loss
from lightning_modules.text_sampling import encode_prompt, stop_token_ids


def tokenize_pairs(module: Any, pairs: list[PreferencePair]) -> list[dict[str, list[int]]]:
    """Prompt ids as the model sees them (its chat template when it chats); answers as plain tokens, closed
    by the chat's end-of-turn token so that stopping is learned too."""
    tok = module.tokenizer
    end = [min(stop_token_ids(module))] if module.is_chat and stop_token_ids(module) else []
    out = []
    for p in pairs:
        prompt = encode_prompt(module, p.prompt, chat=module.is_chat, system_prompt=p.system_prompt)
        chosen = list(tok(p.chosen, add_special_tokens=False)["input_ids"]) + end
        rejected = list(tok(p.rejected, add_special_tokens=False)["input_ids"]) + end
        out.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return out


@torch.no_grad()
def reward_stats(
    policy: GenLabModule, reference: GenLabModule, pairs: list[dict[str, list[int]]], beta: float
) -> dict[str, float]:
    """Reward accuracy (chosen's implicit reward above rejected's; ties count half) and mean margin."""
    policy.eval()
    reference.eval()
    window = int(policy.context_window)
    rows = [PreferenceDataModule._row(p, window) for p in pairs]
    pad = int(policy.tokenizer.pad_token_id or 0)
    wins, margin = 0.0, 0.0
    for i in range(0, len(rows), 16):
        batch = collate(rows[i : i + 16], pad)
        ids = torch.cat([batch["chosen"], batch["rejected"]]).to(policy.device)
        mask = torch.cat([batch["chosen_mask"], batch["rejected_mask"]]).float().to(policy.device)
        n = batch["chosen"].shape[0]
        pol, ref = answer_logps(policy(ids), ids, mask), answer_logps(reference(ids), ids, mask)
        _, stats = dpo_loss(pol[:n], pol[n:], ref[:n], ref[n:], beta)
        wins += float(stats["reward_accuracy"]) * n
        margin += float(stats["reward_margin"]) * n
    return {"reward_accuracy": wins / len(rows), "reward_margin": margin / len(rows), "pairs": len(rows)}


def dpo_config(store: RunStore, parent: Run, steps: int, lr: float | None) -> Any:
    raw = store.load_config(parent.id).model_dump(mode="json")
    raw["name"] = f"{parent.name} + DPO"[:120]
    raw["trainer"].update(
        {
            "max_steps": int(steps),
            "max_epochs": 100_000,
            "limit_train_batches": None,
            "limit_val_batches": None,
            "early_stopping_patience": 0,
        }
    )
    raw["optim"].update({"warmup_steps": min(int(raw["optim"].get("warmup_steps", 0)), steps // 10)})
    if lr is not None:
        raw["optim"]["lr"] = float(lr)
    raw["tags"] = sorted(set(raw.get("tags", [])) | {"feedback", "dpo"})
    return parse_config(raw)


def dpo_finetune(
    store: RunStore,
    parent_id: str,
    pairs: list[PreferencePair],
    *,
    steps: int = 60,
    beta: float = 0.1,
    lr: float | None = None,
    batch_size: int = 8,
    val_pairs: list[PreferencePair] | None = None,
) -> dict[str, Any]:
    """Train the child in this process; returns its run id and the held-out reward stats before and after."""
    if steps < 1:
        raise GenLabError(f"--steps must be >= 1, got {steps}")
    if beta <= 0:
        raise GenLabError(f"--beta must be > 0, got {beta}")
    parent = finished_run(store, parent_id, "fine-tuned with DPO")
    if not get_family(parent.family).can("PreferenceTunable"):
        raise GenLabError(
            f"Run {parent_id} is a {parent.family} run; DPO fine-tunes a finished "
            f"{names_that_can('PreferenceTunable')} run"
        )
    if len(pairs) < 2:
        raise GenLabError(
            f"Run {parent_id} has {len(pairs)} preference pair(s); DPO needs at least 2: rate an answer down and "
            "give the corrected answer (or rate another answer to the same prompt up)"
        )
    reference = load_module(store, parent_id)
    config = dpo_config(store, parent, steps, lr)
    policy = reference.preference_policy(config, reference.data_info, beta=beta)
    policy.load_state_dict(reference.state_dict(), strict=False)
    pad = int(reference.tokenizer.pad_token_id or 0)
    train_ids = tokenize_pairs(reference, pairs)
    if val_pairs:
        held_out = tokenize_pairs(reference, val_pairs)
    else:  # a seeded tenth of the pairs, at least one, held out
        order = torch.randperm(len(train_ids), generator=torch.Generator().manual_seed(config.seed)).tolist()
        n_val = max(1, len(train_ids) // 10)
        held_out = [train_ids[i] for i in order[:n_val]]
        train_ids = [train_ids[i] for i in order[n_val:]]
    window = int(reference.context_window)
    data = PreferenceDataModule(train_ids, window, pad, batch_size, val_pairs=held_out, seed=config.seed)
    before = reward_stats(policy, reference, held_out, beta)
    child = store.create_run(config, parent_id=parent_id, status="running", monitor="val/loss")
    train_given_module(store, child.id, config, policy, datamodule=data)
    served = load_module(store, child.id)
    after = reward_stats(served, reference, held_out, beta)
    record = {
        "method": "dpo",
        "parent_id": parent_id,
        "beta": beta,
        "steps": steps,
        "train_pairs": len(data.train),
        "held_out_pairs": len(held_out),
        "before": before,
        "after": after,
        "examples": [p.to_dict() for p in pairs[:20]],
    }
    write_preferences(store, child.id, record)
    return {"run_id": child.id} | record
