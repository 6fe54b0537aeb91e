"""The Run page's "Preferences & lineage" tab (runs of a PreferenceTunable family): the preference pairs
the ratings make, a DPO child's reward accuracy and margin, the lineage with the champion/challenger
decisions, and the retraining schedule a person sets there. The runs are written through the engine's
own API (ratings, schedule, decisions, logged metrics) the way the worker and the retraining loop leave
them, so these stay fast; tests/test_retrain_loop.py drives the same page after a real retraining."""

from __future__ import annotations

import time

import pytest

from tests.ui.conftest import open_tab

TAB = "Preferences & lineage"


def _gpt_run(store, *, parent_id: str | None = None, name: str = "gpt"):
    from genlab.core.registry import FAMILIES

    family = FAMILIES["gpt"]
    config = family.tiny_config().model_copy(update={"name": name})
    run = store.create_run(config, parent_id=parent_id, monitor=family.monitor)
    store.update(run.id, status="completed", ended_at=time.time())
    return store.get(run.id)


def _decision(champion: str, challenger: str, promoted: bool, acc: float) -> dict:
    """One champion/challenger result, in the shape genlab.runner.retrain.challenge returns."""
    verdict = "promoted" if promoted else "kept the champion"
    return {
        "time": time.time(),
        "champion": champion,
        "challenger": challenger,
        "champion_score": {"accuracy": 0.5, "margin": 0.0},
        "challenger_score": {"accuracy": acc, "margin": acc - 0.5},
        "held_out_pairs": 4,
        "promoted": promoted,
        "why": f"on 4 held-out rated pairs ...: {verdict}",
    }


def _table(at, column: str):
    """The table on the page that has this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _texts(at) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "success") for e in getattr(at, kind))


def test_a_rated_run_shows_its_pairs_lineage_and_decisions_and_its_schedule_can_be_set(app, store):
    from genlab.runner.retrain_schedule import read_schedule, record_challenge, set_schedule
    from genlab.use.feedback import add_feedback

    root = _gpt_run(store, name="root")
    add_feedback(store, root.id, prompt="Who comes?", output="A FISH", rating="down", correction="The king.")
    add_feedback(store, root.id, prompt="Who comes?", output="My lord.", rating="up")
    add_feedback(store, root.id, prompt="Speak!", output="I will.", rating="up")  # no rejected answer: no pair
    set_schedule(store, root.id, every_ratings=10, steps=8)
    loser = _gpt_run(store, parent_id=root.id, name="loser")
    record_challenge(store, root.id, _decision(root.id, loser.id, False, 0.25))
    winner = _gpt_run(store, parent_id=root.id, name="winner")
    record_challenge(store, root.id, _decision(root.id, winner.id, True, 1.0))

    at = app("run", id=root.id)
    assert TAB in [t.label for t in at.tabs]
    at = open_tab(at, TAB)
    pairs = _table(at, "rejected")
    assert set(zip(pairs["chosen"], pairs["rejected"], strict=True)) == {
        ("The king.", "A FISH"),
        ("My lord.", "A FISH"),
    }
    tree = _table(at, "role")
    roles = {run.strip(" └"): role for run, role in zip(tree["run"], tree["role"], strict=True)}
    assert roles == {root.id: "root", loser.id: "challenger, not promoted", winner.id: "served (champion)"}
    history = _table(at, "challenger score")
    assert list(history["challenger"]) == [winner.id, loser.id] and list(history["promoted"]) == ["yes", "no"]
    assert f"Served now for `{root.id}`: **`{winner.id}`**" in _texts(at)

    at.number_input(key="run.retrain.every_ratings").set_value(3)
    at.number_input(key="run.retrain.every_hours").set_value(12.0)
    at.button(key="run.retrain.save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    state = read_schedule(store, root.id)
    assert (state["every_ratings"], state["every_hours"], state["served"]) == (3, 12.0, winner.id)


@pytest.mark.slow  # a second page of the same tab (about 3 s idle, 13 s at load 20)
def test_a_dpo_child_shows_its_reward_accuracy_and_margin_and_its_lineage(app, store):
    from genlab.runner.retrain_schedule import set_schedule
    from genlab.use.preferences import write_preferences

    root = _gpt_run(store, name="root")
    set_schedule(store, root.id, every_hours=24)
    child = _gpt_run(store, parent_id=root.id, name="root + DPO")
    for step in range(1, 9):
        store.log_metrics(child.id, step, {"train/reward_accuracy": step / 8, "train/reward_margin": step / 10})
    store.log_metrics(child.id, 8, {"val/reward_accuracy": 0.875, "val/reward_margin": 0.6})
    pair = {"prompt": "Who comes?", "chosen": " The king.", "rejected": " A FISH", "system_prompt": ""}
    write_preferences(
        store,
        child.id,
        {
            "method": "dpo",
            "parent_id": root.id,
            "beta": 0.1,
            "steps": 8,
            "train_pairs": 12,
            "held_out_pairs": 4,
            "before": {"reward_accuracy": 0.5, "reward_margin": 0.0, "pairs": 4},
            "after": {"reward_accuracy": 0.875, "reward_margin": 0.6, "pairs": 4},
            "examples": [pair],
        },
    )
    at = open_tab(app("run", id=child.id), TAB)
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    assert metrics["Held-out reward accuracy"] == ("88%", "+38% from the parent")
    assert metrics["Held-out reward margin"] == ("0.600", "+0.600 from the parent")
    assert len(at.get("plotly_chart")) == 2  # accuracy and margin curves, train and val
    tree = _table(at, "role")
    assert list(tree["this page"]) == ["", "◀"] and list(tree["role"]) == ["served (champion)", ""]
    assert at.number_input(key="run.retrain.every_hours").value == 24.0  # the root's schedule, shown from the child


@pytest.mark.slow
def test_the_tab_is_offered_by_capability_only(app, recorded):
    at = app("run", id=recorded(name="a vae").id)
    assert TAB not in [t.label for t in at.tabs]
