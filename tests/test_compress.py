"""Smaller models from finished runs: pruning reaches the asked sparsity and keeps it through the fine-tune,
a distilled student is smaller and within a stated band of its teacher, both are runs linked to their
source by a link of their own kind, and bad requests exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genlab.cli.main import main as cli
from genlab.compress.distill import distill_run
from genlab.compress.prune import prunable, prune_run, sparsity_of
from genlab.core.registry import FAMILIES
from genlab.runner.checkpoints import load_module
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

STUDENT_BAND = 1.10  # a student's val/loss stays within 10% of its teacher's on the same corpus


@pytest.fixture(scope="module")
def teachers(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[tuple[RunStore, dict[str, str]]]:
    home = tmp_path_factory.mktemp("compress_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        runs = {}
        for name in ("vae", "gpt", "dcgan"):
            fam = FAMILIES[name]
            runs[name], _ = train_tiny(store, fam)
        yield store, runs
        store.close()


def test_pruning_reaches_the_asked_sparsity_through_the_fine_tune(teachers: tuple[RunStore, dict[str, str]]) -> None:
    store, runs = teachers
    result = prune_run(store, runs["vae"], 0.5, "magnitude", steps=3)
    run = store.get(result["run_id"])
    assert run.status == "completed"
    measured = sparsity_of(prunable(load_module(store, run.id)))  # from the fine-tuned checkpoint
    assert measured["sparsity"] >= 0.5 - 1e-3
    assert result["sparsity"] == pytest.approx(measured["sparsity"])
    (link,) = [x for x in store.links(run.id) if x["run_id"] == run.id]
    assert link["kind"] == "pruned_from" and link["target_id"] == runs["vae"]
    assert run.parent_id is None  # not "cloned from": a link of its own kind

    channel = prune_run(store, runs["vae"], 0.25, "channel", steps=2)
    assert 0.1 < channel["sparsity"] < 0.5


def test_distilled_gpt_student_is_smaller_and_within_the_band(teachers: tuple[RunStore, dict[str, str]]) -> None:
    store, runs = teachers
    result = distill_run(store, runs["gpt"], ["model.n_layer=1"], steps=4)
    assert result["student_params"] < result["teacher_params"]
    assert result["student_monitor"] <= result["teacher_monitor"] * STUDENT_BAND
    student = load_module(store, result["run_id"])  # a plain GPT run: the teacher is not in its checkpoint
    assert student.run_config.model.n_layer == 1
    assert [x["kind"] for x in store.links(runs["gpt"])] == ["distilled_from"]


@pytest.mark.slow
def test_distilled_gan_generator_is_smaller_and_learns_from_the_teacher(
    teachers: tuple[RunStore, dict[str, str]],
) -> None:
    store, runs = teachers
    result = distill_run(store, runs["dcgan"], steps=3)
    assert result["size_ratio"] < 0.5 and store.get(result["run_id"]).status == "completed"
    keys = set(store.metric_keys(result["run_id"]))
    assert "train/distill_l1" in keys


def test_bad_prune_and_distill_requests_exit_2(
    teachers: tuple[RunStore, dict[str, str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, runs = teachers
    monkeypatch.setenv("GENLAB_HOME", str(store.home))
    unfinished = store.create_run(FAMILIES["gpt"].tiny_config(), status="running")
    cases = [
        (["prune", runs["vae"], "--sparsity", "1.5"], "between 0 and 1"),
        (["prune", unfinished.id, "--sparsity", "0.5"], "only a completed run"),
        (["distill", runs["vae"]], "cannot be distilled"),
        (["distill", runs["gpt"], "--student", "model.n_layer=4"], "not smaller than the teacher"),
        (["distill", runs["gpt"], "--student", "data.block_size=8"], "model section only"),
    ]
    for argv, message in cases:
        assert cli(argv) == 2, argv
        assert message in capsys.readouterr().err
