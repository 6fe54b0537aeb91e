"""The retraining loop: a served GPT run is fine-tuned again (DPO on its preference pairs) when N new
ratings arrived or a period passed, and the child replaces it as the served model only if it wins a
champion/challenger comparison on held-out rated prompts.

The schedule and the lineage live beside the root run (runs/<root>/retrain.json): the settings, which
run is served now, and every challenge (challenger, champion, their scores, promoted or not, and why).
`due_runs` + `retrain_once` are what a scheduler calls: `python -m genlab schedule --run-due` from cron
or a systemd timer on a server.
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch

from datamodules.preferences import PreferenceDataModule, collate
from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES, get_family, names_that_can
from genlab.runner.checkpoints import load_module
from genlab.runner.dpo import dpo_finetune, tokenize_pairs
from genlab.store.runs import RunStore
from genlab.use.feedback import list_feedback
from genlab.use.preferences import PreferencePair, preference_pairs
from lightning_modules.dpo import answer_logps

RETRAIN_FILE = "retrain.json"
HELD_OUT_SHARE = 0.25


def read_schedule(store: RunStore, root_id: str) -> dict[str, Any] | None:
    path = store.run_folder(root_id) / RETRAIN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write(store: RunStore, root_id: str, state: dict[str, Any]) -> None:
    (store.run_folder(root_id) / RETRAIN_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")


def set_schedule(
    store: RunStore,
    root_id: str,
    *,
    every_ratings: int = 0,
    every_hours: float = 0.0,
    steps: int = 60,
    beta: float = 0.1,
) -> dict[str, Any]:
    """Retrain `root_id` when `every_ratings` new ratings arrived and/or every `every_hours` (0: off)."""
    run = store.get(root_id)
    if not get_family(run.family).can("PreferenceTunable"):
        raise GenLabError(
            f"Run {root_id} is a {run.family} run; the retraining loop fine-tunes "
            f"{names_that_can('PreferenceTunable')} runs"
        )
    if every_ratings < 0 or every_hours < 0 or (every_ratings == 0 and every_hours == 0):
        raise GenLabError("Give --every-ratings N and/or --every-hours H (> 0)")
    state = read_schedule(store, root_id) or {
        "served": root_id,
        "ratings_seen": len(list_feedback(store, root_id)),
        "last_time": time.time(),
        "history": [],
    }
    state.update({"every_ratings": every_ratings, "every_hours": every_hours, "steps": steps, "beta": beta})
    _write(store, root_id, state)
    return state


def is_due(store: RunStore, root_id: str, now: float | None = None) -> bool:
    state = read_schedule(store, root_id)
    if state is None:
        return False
    now = time.time() if now is None else now
    new = len(list_feedback(store, root_id)) - int(state["ratings_seen"])
    by_count = state["every_ratings"] > 0 and new >= state["every_ratings"]
    by_time = state["every_hours"] > 0 and now - float(state["last_time"]) >= 3600 * state["every_hours"]
    return by_count or by_time


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


def record_challenge(store: RunStore, root_id: str, result: dict[str, Any]) -> dict[str, Any]:
    state = read_schedule(store, root_id) or {"served": root_id, "ratings_seen": 0, "history": []}
    state["history"].append(result)
    if result["promoted"]:
        state["served"] = result["challenger"]
    state["ratings_seen"] = len(list_feedback(store, root_id))
    state["last_time"] = result["time"]
    _write(store, root_id, state)
    return state


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
        raise GenLabError(f"Run {root_id} needs preference pairs on at least 2 prompts to retrain and judge")
    child = dpo_finetune(
        store, state["served"], train, val_pairs=held_out, steps=int(state["steps"]), beta=float(state["beta"])
    )
    result = challenge(store, state["served"], child["run_id"], held_out)
    record_challenge(store, root_id, result)
    return result


def due_runs(store: RunStore) -> list[str]:
    """Root runs whose schedule says they are due now."""
    tunable = [name for name, family in FAMILIES.items() if family.can("PreferenceTunable")]
    return [r.id for name in tunable for r in store.list_runs(family=name) if is_due(store, r.id)]
