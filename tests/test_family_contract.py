"""The contract every registered family keeps: it builds, fits a few steps into the store, and its
checkpoint reloads (weights-only) into a module that gives the same outputs."""

from __future__ import annotations

import pytest
import torch

from genlab.core.registry import FAMILIES
from genlab.runner.checkpoints import checkpoint_path, load_checkpoint, module_from_checkpoint
from genlab.runner.train import fit_module
from genlab.store.runs import RunStore
from lightning_modules.base import PROTOCOLS


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_fits_and_reloads_identically(family: str, store: RunStore) -> None:
    fam = FAMILIES[family]
    run = store.create_run(fam.tiny_config(), status="running", monitor=fam.monitor)
    status, module = fit_module(store, run.id)
    assert status == "completed"
    keys = set(store.metric_keys(run.id))
    assert any(k.startswith("train/") for k in keys), keys
    assert fam.monitor in keys, f"{family} must log its monitored metric {fam.monitor}"
    assert all("/" in k for k in keys), "metric names are stage/name"
    assert store.artifacts(run.id, kind="samples") or store.artifacts(run.id, kind="text")

    for capability in fam.capabilities:  # what the spec promises, the module does
        assert isinstance(module, PROTOCOLS[capability]), f"{family} declares {capability}"

    module.eval()
    expected = module.reference_output()
    reloaded = module_from_checkpoint(checkpoint_path(store, run.id, "last"))
    torch.testing.assert_close(reloaded.reference_output(), expected)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_checkpoint_holds_only_primitives(family: str, store: RunStore) -> None:
    fam = FAMILIES[family]
    run = store.create_run(fam.tiny_config(), status="running", monitor=fam.monitor)
    fit_module(store, run.id)
    ckpt = load_checkpoint(checkpoint_path(store, run.id))  # weights_only=True: fails on any pickled object
    assert ckpt["hyper_parameters"]["config"]["family"] == family


@pytest.mark.parametrize("family", ["dcgan", "vae"])  # manual and automatic optimisation
def test_max_steps_counts_training_batches_in_every_family(family: str, store: RunStore) -> None:
    fam = FAMILIES[family]
    config = fam.tiny_config()
    config.trainer = config.trainer.model_copy(update={"max_steps": 3, "limit_train_batches": 4})
    run = store.create_run(config, status="running", monitor=fam.monitor)
    fit_module(store, run.id)
    run = store.get(run.id)
    assert (run.step, run.total_steps) == (3, 3), "a run asked for 3 steps ends at step 3/3"
