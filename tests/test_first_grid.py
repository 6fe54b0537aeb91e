"""The first sample grid comes after the first validation when that is earlier than sample_every_n_steps
(issue 28: a newcomer sees a picture early), then every N steps; with periodic samples off, or at the
validation that ends training, no extra grid is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

# two tiny trainings: 20-45 s each at this session's load average of 50 (not provably under 5 s)
pytestmark = pytest.mark.slow


def vae(every: int, **trainer):
    cfg = FAMILIES["vae"].tiny_config()
    return cfg.model_copy(
        update={
            "trainer": cfg.trainer.model_copy(update=trainer),
            "logging": cfg.logging.model_copy(update={"sample_every_n_steps": every}),
        }
    )


def grid_steps(store: RunStore, run_id: str) -> list[int]:
    return sorted({a["step"] for a in store.artifacts(run_id, kind="samples")})


def test_the_first_grid_follows_the_first_validation_when_that_comes_first(home: Path) -> None:
    store = RunStore(home)
    run_id, _ = train_tiny(store, FAMILIES["vae"], vae(100, max_epochs=3, limit_train_batches=2))
    # validations at steps 2, 4 and 6 (each epoch's end): a grid after the first, none at the next ones
    # (the periodic grid is every 100 steps), and the end-of-training grid
    assert grid_steps(store, run_id) == [1, 6]


def test_no_extra_grid_with_periodic_samples_off(home: Path) -> None:
    store = RunStore(home)
    run_id, _ = train_tiny(store, FAMILIES["vae"], vae(0, max_epochs=2, limit_train_batches=2))
    assert grid_steps(store, run_id) == [2, 4]  # each epoch's end (the callback's own rule for 0), nothing more
