"""Adding a family is its two files plus one registry line: a toy family written in tests/toy_family/
(spec + module, the documented template of docs/ARCHITECTURE.md) and put into the registry is served by
the contract, the Train form, the Playground and `genlab sample`, with no other change anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from genlab.cli.main import main as cli
from genlab.core.registry import FAMILIES
from genlab.runner.build import module_class
from genlab.runner.checkpoints import checkpoint_path, module_from_checkpoint
from genlab.store.runs import RunStore
from lightning_modules.base import PROTOCOLS
from tests.helpers import train_tiny
from tests.toy_family.module import ToyModule
from tests.toy_family.spec import FAMILY as TOY


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(FAMILIES, "toy", TOY)  # the one line a contributor adds to genlab/core/registry.py
    # In lightning_modules/toy.py genlab/runner/build.py would import the module by the family's name; from
    # tests/ it is declared by the import above (ToyModule sets `family = FAMILY`).
    assert module_class(TOY) is ToyModule
    return TOY


@pytest.fixture
def trained_toy(toy, store: RunStore):
    run_id, module = train_tiny(store, toy)
    return store.get(run_id), module


def test_the_toy_family_keeps_the_family_contract(trained_toy, store: RunStore) -> None:
    run, module = trained_toy
    assert {"train/loss", "val/loss"} <= set(store.metric_keys(run.id))
    assert store.artifacts(run.id, kind="samples")
    for capability in TOY.capabilities:
        assert isinstance(module, PROTOCOLS[capability]), capability
    module.eval()
    reloaded = module_from_checkpoint(checkpoint_path(store, run.id))
    torch.testing.assert_close(reloaded.reference_output(), module.reference_output())


def test_genlab_sample_draws_a_grid_from_the_toy_run(trained_toy, store: RunStore, tmp_path: Path) -> None:
    run, _ = trained_toy
    out = tmp_path / "grid.png"
    assert cli(["sample", run.id, "--n", "4", "--seed", "3", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.width > 16 and im.height > 16
    again = tmp_path / "again.png"
    cli(["sample", run.id, "--n", "4", "--seed", "3", "--out", str(again)])
    assert out.read_bytes() == again.read_bytes(), "the same seed draws the same images"
    assert cli(["sample", run.id, "--labels", "1", "--out", str(tmp_path / "x.png")]) == 2, "not conditional"


def test_the_train_form_offers_the_toy_family(toy, app) -> None:
    at = app("train")
    at.selectbox(key="train.family").set_value("toy").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(w.key and w.key.endswith(".model.latent_dim") for w in at.number_input)


def test_the_playground_samples_walks_and_reconstructs_with_the_toy_model(trained_toy, app) -> None:
    run, _ = trained_toy
    at = app("playground", run=run.id)
    assert not at.error, [e.value for e in at.error]
    labels = [t.label for t in at.tabs]
    assert {"New samples", "Latent walk", "Reconstruct an image"} <= set(labels), labels
    assert at.get("image"), "the sample grid is shown"
