"""The retraining loop: a served GPT run is fine-tuned again (DPO on its preference pairs) when N new
ratings arrived or a period passed, and the child replaces it as the served model only if it wins a
champion/challenger comparison on held-out rated prompts.

The schedule and the lineage live beside the root run (runs/<root>/retrain.json): the settings, which
run is served now, and every challenge (challenger, champion, their scores, promoted or not, and why).
`genlab/runner/retrain_due.py` is what a scheduler calls: the app's job queue (retrain_jobs.py) with no
cron, or `python -m genlab schedule --run-due` from cron or a systemd timer on a server. The bookkeeping
(schedule, lineage, which run is served) is genlab/runner/retrain_schedule.py, free of torch.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from datamodules.preferences import PreferenceDataModule, collate
from genlab.core.errors import GenLabError
from genlab.runner.checkpoints import load_module
from genlab.runner.dpo import dpo_finetune, tokenize_pairs
from genlab.runner.retrain_schedule import (  # noqa: F401 - the loop's bookkeeping, re-exported for callers
    RETRAIN_FILE,
    TOO_FEW_PROMPTS,
    due_runs,
    is_due,
    read_schedule,
    record_challenge,
    set_schedule,
)
from genlab.store.runs import RunStore
from genlab.use.preferences import PreferencePair, preference_pairs
from lightning_modules.dpo import answer_logps

HELD_OUT_SHARE = 0.25


@torch.no_grad()
def preference_score(store: RunStore, run_id: str, pairs: list[PreferencePair]) -> dict[str, float]:
    """How much the model prefers the rated answers: accuracy (chosen likelier than rejected; ties count
    half) and margin (mean log p(chosen) - log p(rejected))."""
    module = load_module(store, run_id).eval()
    rows = [PreferenceDataModule._row(p, int(module.context_window)) for p in tokenize_pairs(module, pairs)]
    batch = collate(rows, int(module.tokenizer.pad_token_id or 0))
    ids = torch.cat([batch["chosen"], batch["rejected"]]).to(module.device)
    mask = torch.cat([batch["chosen_mask"], batch["rejected_mask"]]).float().to(module.device)
    logp = answer_logps(module(ids), ids, mask)
    n = len(rows)
    diff = logp[:n] - logp[n:]
    return {"accuracy": float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean()), "margin": float(diff.mean())}


def challenge(store: RunStore, champion_id: str, challenger_id: str, held_out: list[PreferencePair]) -> dict[str, Any]:
    """Compare the two on held-out rated prompts. The challenger wins when it prefers the rated answers
    by a wider margin (on the champion's terms: DPO's implicit reward against it is positive) and on at
    least as many pairs; otherwise the champion stays."""
    champ = preference_score(store, champion_id, held_out)
    chall = preference_score(store, challenger_id, held_out)
    promoted = chall["margin"] > champ["margin"] and chall["accuracy"] >= champ["accuracy"]
    why = (
        f"on {len(held_out)} held-out rated pairs the challenger prefers the rated answer on {chall['accuracy']:.0%} "
        f"(margin {chall['margin']:.2f}) against the champion's {champ['accuracy']:.0%} (margin "
        f"{champ['margin']:.2f}): {'promoted' if promoted else 'kept the champion'}"
    )
    return {
        "time": time.time(),
        "champion": champion_id,
        "challenger": challenger_id,
        "champion_score": champ,
        "challenger_score": chall,
        "held_out_pairs": len(held_out),
        "promoted": promoted,
        "why": why,
    }


def split_pairs(pairs: list[PreferencePair], seed: int = 0) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held out) by prompt, so a held-out prompt was never trained on."""
    prompts = sorted({p.prompt for p in pairs})
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    held = {prompts[i] for i in order[: max(1, round(len(prompts) * HELD_OUT_SHARE))]}
    return [p for p in pairs if p.prompt not in held], [p for p in pairs if p.prompt in held]


def retrain_once(store: RunStore, root_id: str) -> dict[str, Any]:
    """Fine-tune the served model on the root's preference pairs, then keep it or promote the child."""
    state = read_schedule(store, root_id) or {"served": root_id, "steps": 60, "beta": 0.1}
    train, held_out = split_pairs(preference_pairs(store, root_id))
    if len(train) < 1 or not held_out:
        raise GenLabError(TOO_FEW_PROMPTS.format(run=root_id))
    child = dpo_finetune(
        store, state["served"], train, val_pairs=held_out, steps=int(state["steps"]), beta=float(state["beta"])
    )
    result = challenge(store, state["served"], child["run_id"], held_out)
    record_challenge(store, root_id, result)
    return result
