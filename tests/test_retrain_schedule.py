"""The retraining loop's bookkeeping, without training: a due run with too few pairs to judge a challenger
is not retried on the same ratings and says why in its lineage; which run answers for a root and which
root a descendant belongs to."""

from __future__ import annotations

import time


def _gpt_run(store, parent_id: str | None = None):
    from genlab.core.registry import FAMILIES

    family = FAMILIES["gpt"]
    run = store.create_run(family.tiny_config(), parent_id=parent_id, monitor=family.monitor)
    store.update(run.id, status="completed", ended_at=time.time())
    return store.get(run.id)


def test_a_due_run_without_enough_pairs_is_skipped_with_its_reason_and_not_retried(store):
    from genlab.runner.retrain_due import run_due
    from genlab.runner.retrain_schedule import champion, due_runs, lineage_root, read_schedule, set_schedule
    from genlab.use.feedback import add_feedback

    root = _gpt_run(store)
    set_schedule(store, root.id, every_ratings=1)
    add_feedback(store, root.id, prompt="Who comes?", output="A FISH", rating="down", correction="The king.")
    assert due_runs(store) == [root.id]

    lines = run_due(store)  # decided without importing the training (torch)
    assert lines == [
        f"{root.id}: not retrained: Run {root.id} needs preference pairs on at least 2 prompts to retrain and judge"
    ]
    state = read_schedule(store, root.id)
    assert state["history"][-1]["challenger"] is None and not state["history"][-1]["promoted"]
    assert due_runs(store) == [], "the same ratings do not make it due again"
    assert champion(store, root.id) == root.id

    child = _gpt_run(store, parent_id=root.id)
    grandchild = _gpt_run(store, parent_id=child.id)
    assert lineage_root(store, grandchild) == root.id
    assert lineage_root(store, _gpt_run(store)) is None
