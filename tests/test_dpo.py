"""Learning from preferences: ratings become (chosen, rejected) pairs, and a DPO fine-tune of a tiny GPT
on them is a child run of its parent that reloads as a plain GPT and separates held-out pairs better than
its parent (reward accuracy above the 50% every policy starts at)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import train_tiny


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path):
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    home = tmp_path_factory.mktemp("dpo_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run_id, _ = train_tiny(store, FAMILIES["gpt"])
        yield store, run_id
        store.close()


def test_ratings_become_pairs_of_a_preferred_and_a_rejected_answer(parent):
    from genlab.use.feedback import add_feedback
    from genlab.use.preferences import preference_pairs

    store, run_id = parent
    add_feedback(store, run_id, prompt="Who comes?", output="a fish", rating="down", correction="The king.")
    add_feedback(store, run_id, prompt="Who comes?", output="My lord the duke.", rating="up")
    add_feedback(store, run_id, prompt="Who comes?", output="a fish", rating="down")  # same output: one pair each
    add_feedback(store, run_id, prompt="Speak!", output="I will.", rating="up")  # nothing rejected: no pair
    pairs = {(p.prompt, p.chosen, p.rejected) for p in preference_pairs(store, run_id)}
    assert pairs == {("Who comes?", "The king.", "a fish"), ("Who comes?", "My lord the duke.", "a fish")}


def test_builtin_pairs_are_judged_by_their_style_score():
    from genlab.use.preferences import builtin_preferences, style_score

    pairs = builtin_preferences(20, seed=1)
    assert len(pairs) == 20
    assert sorted(pairs[0].chosen.upper().split()) == sorted(pairs[0].rejected.split())
    better = sum(style_score(p.chosen) > style_score(p.rejected) for p in pairs)
    assert better >= 16, "the judge prefers the real continuation"
    assert {p.prompt for p in builtin_preferences(10, seed=1, offset=20)}.isdisjoint({p.prompt for p in pairs})


def test_a_dpo_child_separates_held_out_pairs_better_than_its_parent(parent):
    from genlab.runner.checkpoints import load_module
    from genlab.runner.dpo import dpo_finetune, read_preferences
    from genlab.use.preferences import builtin_preferences

    store, run_id = parent
    result = dpo_finetune(
        store,
        run_id,
        builtin_preferences(48, seed=0),
        val_pairs=builtin_preferences(16, seed=0, offset=48),
        steps=24,
        beta=0.5,
        lr=3e-3,
    )
    child = store.get(result["run_id"])
    assert child.status == "completed" and child.parent_id == run_id and "dpo" in child.tags
    assert result["before"]["reward_accuracy"] == pytest.approx(0.5)
    assert result["after"]["reward_accuracy"] >= 0.8 and result["after"]["reward_margin"] > 0
    assert read_preferences(store, child.id)["after"] == result["after"]
    assert type(load_module(store, child.id)).__name__ == "GPTModule", "the child reloads as a plain GPT run"
    assert {"train/reward_accuracy", "val/reward_accuracy", "val/reward_margin"} <= set(store.metric_keys(child.id))
