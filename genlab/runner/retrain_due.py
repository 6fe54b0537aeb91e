"""What a scheduler runs (`python -m genlab schedule --run-due`, from cron, a systemd timer or the app's
job queue): every due run retrained, each decision one line. Deciding what is due needs no torch, so a
check with nothing due (most of them) stays cheap; the training is imported only when a run is retrained.
"""

from __future__ import annotations

from typing import Any

from genlab.core.errors import GenLabError
from genlab.runner.retrain_schedule import TOO_FEW_PROMPTS, due_runs, record_skip
from genlab.store.runs import RunStore
from genlab.use.preferences import preference_pairs


def retrain_or_skip(store: RunStore, root_id: str) -> dict[str, Any]:
    """The champion/challenger decision of one retraining, or, when it cannot happen (pairs on fewer than
    2 prompts: nothing to train on and judge by), that reason recorded in the lineage as a decision without
    a challenger, so the Run page says why and the same ratings do not make it due again."""
    if len({p.prompt for p in preference_pairs(store, root_id)}) < 2:
        return record_skip(store, root_id, TOO_FEW_PROMPTS.format(run=root_id))["history"][-1]
    from genlab.runner.retrain import retrain_once  # torch and Lightning: only when there is work

    try:
        return retrain_once(store, root_id)
    except GenLabError as err:
        return record_skip(store, root_id, str(err))["history"][-1]


def run_due(store: RunStore) -> list[str]:
    """Retrain every root that is due now; one line each of what happened (what cron's log keeps)."""
    return [f"{root}: {retrain_or_skip(store, root)['why']}" for root in due_runs(store)]
