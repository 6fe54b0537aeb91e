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
    from genlab.runner.dpo import dpo_finetune
    from genlab.use.preferences import builtin_preferences, read_preferences

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


def test_the_retraining_gate_promotes_a_winning_challenger_and_keeps_the_champion_against_a_loser(parent, capsys):
    from dataclasses import replace

    from genlab.cli.main import main
    from genlab.runner.dpo import dpo_finetune
    from genlab.runner.retrain import challenge, is_due, read_schedule, record_challenge, split_pairs
    from genlab.store.runs import RunStore
    from genlab.use.feedback import add_feedback
    from genlab.use.preferences import builtin_preferences, preference_pairs

    store, run_id = parent
    assert main(["schedule", run_id, "--every-ratings", "8", "--steps", "16", "--beta", "0.5"]) == 0
    store = RunStore(store.home)  # the CLI wrote through its own store
    assert not is_due(store, run_id)
    for p in builtin_preferences(24, seed=3):
        add_feedback(store, run_id, prompt=p.prompt, output=p.rejected, rating="down", correction=p.chosen)
    assert is_due(store, run_id)

    train, held_out = split_pairs([p for p in preference_pairs(store, run_id) if p.prompt[0].isupper()])
    swapped = [replace(p, chosen=p.rejected, rejected=p.chosen) for p in train]
    loser = dpo_finetune(store, run_id, swapped, val_pairs=held_out, steps=16, beta=0.5)
    lost = challenge(store, run_id, loser["run_id"], held_out)
    assert not lost["promoted"] and "kept the champion" in lost["why"]
    record_challenge(store, run_id, lost)
    assert read_schedule(store, run_id)["served"] == run_id

    assert main(["schedule", run_id, "--now"]) == 0
    assert "promoted" in capsys.readouterr().out
    state = read_schedule(RunStore(store.home), run_id)
    won = state["history"][-1]
    assert won["promoted"] and state["served"] == won["challenger"] != run_id
    assert RunStore(store.home).get(won["challenger"]).parent_id == run_id
    assert not is_due(RunStore(store.home), run_id), "the ratings it learned from are counted"
