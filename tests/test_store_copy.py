"""`genlab store migrate`: a single machine's SQLite store copied into a team's PostgreSQL with every id
kept, run folders into the shared artifact root, and the copy working as a store afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.cli.main import main
from genlab.core.registry import FAMILIES
from genlab.store.api_keys import create_key, verify_key
from genlab.store.records import StoreUnavailable
from genlab.store.runs import RunStore
from genlab.use.feedback import RATINGS, add_feedback


def _filled_sqlite_store(home: Path) -> tuple[RunStore, dict]:
    store = RunStore(home, db_url=f"sqlite:///{home / 'genlab.db'}")
    config = FAMILIES["vae"].tiny_config()
    a = store.create_run(config, monitor="val/loss")
    b = store.create_run(config.model_copy(update={"tags": ["t1"]}), parent_id=a.id)
    for step in range(3):  # interleaved: metric ids are not grouped by run
        store.log_metrics(a.id, step, {"train/loss": 1.0 / (step + 1)})
        store.log_metrics(b.id, step, {"train/loss": 2.0, "val/loss": float(step)})
    store.log_metrics(a.id, 1, {"train/loss": 9.0})  # a step logged again takes a new id
    sample = store.run_folder(a.id) / "samples" / "s1.png"
    sample.parent.mkdir(parents=True, exist_ok=True)
    sample.write_bytes(b"png")
    store.add_artifact(a.id, "samples", sample, step=1)
    store.add_link(b.id, "distilled_from", a.id, meta={"alpha": 0.5})
    store.add_safety_event(
        a.id, path="generate", action="pass", screener="none", scores={"x": 0.1}, flagged=[], sha256="ab"
    )
    add_feedback(store, a.id, prompt="p", output="o", rating=sorted(RATINGS)[0])
    _, secret = create_key(store, "ci")
    store.transition(a.id, ("queued",), "completed", best_value=0.25)
    return store, {"a": a.id, "b": b.id, "secret": secret}


def test_migrate_copies_every_row_with_its_id_into_postgresql(
    home: Path, pg_url: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    source, ids = _filled_sqlite_store(home)
    with source.db.read() as con:
        metric_rows = con.exec_driver_sql("SELECT id, run_id, step, key, value FROM metrics ORDER BY id").all()
    shared = tmp_path / "team_runs"
    monkeypatch.delenv("GENLAB_DB_URL")  # the source is this home's SQLite file, as for a user who starts
    code = main(["store", "migrate", "--to", pg_url, "--files-to", str(shared)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 runs" in out and f"{len(metric_rows)} metrics" in out and "GENLAB_DB_URL" in out

    team = RunStore(tmp_path / "other_home", db_url=pg_url, artifact_root=shared)
    with team.db.read() as con:
        assert con.exec_driver_sql("SELECT id, run_id, step, key, value FROM metrics ORDER BY id").all() == metric_rows
    a, b = team.get(ids["a"]), team.get(ids["b"])
    assert a.status == "completed" and a.best_value == 0.25 and b.parent_id == a.id and b.tags == ["t1"]
    assert team.metric_series(a.id, "train/loss") == [(0, 1.0), (1, 9.0), (2, 1.0 / 3)]
    art = team.artifacts(a.id, "samples")[0]
    assert Path(art["path"]).read_bytes() == b"png" and Path(art["path"]).is_relative_to(shared)
    assert team.links(b.id)[0]["meta"] == {"alpha": 0.5}
    assert team.safety_summary(a.id)["screened"] == 1
    assert verify_key(team, ids["secret"]) is not None
    # new rows continue after the copied ids
    team.log_metrics(a.id, 3, {"train/loss": 0.1})
    assert team.metrics_since(a.id, 0)[1] > max(r[0] for r in metric_rows)
    add_feedback(team, a.id, prompt="p2", output="o2", rating=sorted(RATINGS)[0])
    team.close()
    source.close()


def test_migrate_refuses_a_target_that_already_holds_runs(any_store: RunStore, tmp_path: Path) -> None:
    """Copying into a store in use would mix two histories: refused, nothing written."""
    any_store.create_run(FAMILIES["vae"].tiny_config())
    source, _ = _filled_sqlite_store(tmp_path / "src")
    from genlab.store.copy import copy_store

    with pytest.raises(StoreUnavailable, match="already holds runs"):
        copy_store(source, any_store)
    assert len(any_store.list_runs()) == 1
    source.close()
