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
def store(home: Path, monkeypatch: pytest.MonkeyPatch):
    from genlab.store.runs import RunStore

    monkeypatch.delenv("GENLAB_DB_URL", raising=False)  # the default store: the SQLite file in GENLAB_HOME
    s = RunStore(home)
    yield s
    s.close()


# -- the run store on both backends: SQLite (the default) and PostgreSQL (a team store) ---------------

PG_ENV = "GENLAB_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch):
    """A fresh, empty PostgreSQL schema on GENLAB_TEST_POSTGRES_URL for one test (dropped after it).

    Fails, never skips, without the server: CI (.ci/run) starts one, and a store test that silently did
    not run on PostgreSQL would hide exactly the bugs a team hits."""
    import uuid

    import sqlalchemy as sa

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.fail(
            f"{PG_ENV} is not set: start PostgreSQL and set it, e.g. postgresql+psycopg://genlab:genlab@localhost/genlab_test"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as con:
        con.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    monkeypatch.setenv("GENLAB_DB_URL", url)  # worker processes the test starts use it too
    yield url
    with engine.begin() as con:
        con.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a store test runs on; with GENLAB_DB_URL set for PostgreSQL."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
    return request.param


@pytest.fixture
def any_store(home: Path, backend: str, monkeypatch: pytest.MonkeyPatch):
    """A run store on each backend in turn (SQLite file in GENLAB_HOME, then a PostgreSQL schema)."""
    from genlab.store.runs import RunStore

    if backend == "sqlite":
        monkeypatch.delenv("GENLAB_DB_URL", raising=False)
    s = RunStore(home)
    yield s
    s.close()
