"""Shared fixtures: an isolated GENLAB_HOME per test, a run store on it, tiny configs per family."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: decoded built-ins and feature stats are reused across tests."""
    return tmp_path_factory.mktemp("genlab_cache")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    """A fresh GENLAB_HOME whose cache/ points at the session's shared cache."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "cache").symlink_to(shared_cache, target_is_directory=True)
    monkeypatch.setenv("GENLAB_HOME", str(h))
    return h


@pytest.fixture
def store(home: Path):
    from genlab.store.runs import RunStore

    s = RunStore(home)
    yield s
    s.close()
