"""W&B: what the run store holds reaches W&B (read back with wandb's own reader), W&B never breaks a run,
a resumed run is rewound instead of duplicated, and W&B's folders stay under GENLAB_HOME."""

from __future__ import annotations

import math
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from callbacks.wandb_logger import WandbCallback
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.runner import jobs
from genlab.share.wandb_link import needs_sync, offline_dirs, sync_command, wandb_run_id
from tests.wandb_records import history, records, wandb_files

pytestmark = pytest.mark.timeout(300)


def _tiny(mode: str = "offline"):
    config = FAMILIES["vae"].tiny_config()
    config.logging = config.logging.model_copy(update={"wandb": mode})
    return config


def _train(store, config):
    """Train through the worker entry point, in this process."""
    run = store.create_run(config)
    store.claim_next(1)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        jobs.run_worker(run.id, store)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return store.get(run.id)


def _record(store, run, steps: range, *, texts: bool = False, scale: float = 1.0) -> None:
    """Write metrics and samples the way the training callbacks do."""
    rng = np.random.default_rng(0)
    for step in steps:
        store.log_metrics(run.id, step, {"train/loss": scale * 100 / step, "train/kl": 0.1 * step}, epoch=0)
        if step % 5 == 0:
            store.log_metrics(run.id, step, {"val/loss": scale * 120 / step}, epoch=0)
            path = run.folder / "samples" / f"prior_step{step:08d}.png"
            Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(path)
            store.add_artifact(run.id, "samples", path, name="prior", step=step)
            if texts:
                text = run.folder / "samples" / f"text_step{step:08d}.txt"
                text.write_text(f"To be, or not to be: sample {step}", encoding="utf-8")
                store.add_artifact(run.id, "text", text, name="text", step=step)


def _forward(store, run, *, resume_step=None) -> WandbCallback:
    """Drive the real forwarder over what the store holds (a stand-in trainer says: rank zero)."""
    config = parse_config(run.config)
    callback = WandbCallback(store, run.id, config, "offline", resume_step=resume_step, poll_s=0.05)
    callback.on_fit_start(SimpleNamespace(is_global_zero=True), None)
    callback.close("completed")
    return callback


def _assert_history_matches_store(store, run_id: str, steps: dict[int, dict]) -> None:
    rows = store.metrics(run_id)
    assert rows
    for row in rows:
        logged = steps[row["step"]][row["key"]]
        assert math.isclose(logged, row["value"], rel_tol=1e-6), (row, logged)
    for art in store.artifacts(run_id, kind="samples"):
        entry = steps[art["step"]]
        assert entry[f"samples/{art['name']}._type"] == "image-file"


def test_an_offline_run_holds_every_metric_and_sample_grid_of_the_store(store, home):
    run = _train(store, _tiny("offline"))
    assert run.status == "completed", run.error
    assert run.warning is None
    files = wandb_files(run.folder)
    assert len(files) == 1
    recs = records(files[0])
    steps = history(recs)
    _assert_history_matches_store(store, run.id, steps)
    # W&B's history holds no step the store does not (same keys and steps, nothing extra)
    store_steps = {r["step"] for r in store.metrics(run.id)} | {a["step"] for a in store.artifacts(run.id)}
    assert set(steps) <= store_steps
    for art in store.artifacts(run.id, kind="samples"):
        media = files[0].parent / "files" / steps[art["step"]][f"samples/{art['name']}.path"]
        assert Image.open(media).size == Image.open(art["path"]).size
    run_record = next(r.run for r in recs if r.WhichOneof("record_type") == "run")
    assert run_record.run_id == wandb_run_id(run.id)
    config = {u.key: u.value_json for u in run_record.config.update}
    assert {"model", "optim", "trainer", "data", "logging"} <= set(config)
    artifacts = [r.artifact for r in recs if r.WhichOneof("record_type") == "artifact"]
    model = next(a for a in artifacts if a.type == "model")
    assert {c.path for c in model.manifest.contents} >= {"last.ckpt"}
    # every W&B folder is under GENLAB_HOME, and the run says how to upload it
    assert (home / "wandb" / "cache").is_dir() and (home / "wandb" / "data").is_dir()
    assert run.wandb["mode"] == "offline" and needs_sync(run)
    assert str(offline_dirs(run)[0]) in sync_command(run)


def test_text_samples_become_a_screened_table_at_their_steps(store):
    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 11), texts=True)
    callback = _forward(store, run)
    assert callback.failed is None
    steps = history(records(wandb_files(run.folder)[0]))
    _assert_history_matches_store(store, run.id, steps)
    for step in (5, 10):
        assert steps[step]["text/text._type"] == "table-file"
    table = wandb_files(run.folder)[0].parent / "files" / steps[10]["text/text.path"]
    import json

    data = json.loads(table.read_text())
    assert data["columns"] == ["step", "sample", "text", "flagged", "screener", "scores"]
    assert [row[0] for row in data["data"]] == [5, 10]
    assert data["data"][-1][2] == "To be, or not to be: sample 10" and data["data"][-1][3] is False


def test_a_withheld_sample_is_a_flagged_row_with_the_scores_the_gate_gave_it(store):
    from genlab.safety.gate import Gate, sample_meta

    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 6))
    gate = Gate(store=store, run_id=run.id, path="training.samples")
    verdicts = gate.release_many({"text": "you are a fucking idiot, shit", "clean": "Shall I compare thee?"})
    for name, verdict in verdicts.items():  # saved the way callbacks/samples.py saves them
        path = run.folder / "samples" / f"{name}_step00000005.txt"
        path.write_text(verdict.text, encoding="utf-8")
        store.add_artifact(run.id, "text", path, name=name, step=5, meta=sample_meta(verdict))
    _forward(store, run)
    steps = history(records(wandb_files(run.folder)[0]))
    import json

    files = wandb_files(run.folder)[0].parent / "files"
    withheld = json.loads((files / steps[5]["text/text.path"]).read_text())["data"][-1]
    clean = json.loads((files / steps[5]["text/clean.path"]).read_text())["data"][-1]
    assert withheld[2].startswith("[withheld:") and "fucking" not in withheld[2]
    assert withheld[3] is True and withheld[5] == sample_meta(verdicts["text"])["scores"]
    assert max(withheld[5].values()) >= 0.5, "the profanity's own scores, not the notice's"
    assert clean[2] == "Shall I compare thee?" and clean[3] is False
    assert clean[5] == sample_meta(verdicts["clean"])["scores"]


def test_a_resumed_run_is_rewound_to_its_checkpoint_instead_of_logging_steps_twice(store):
    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 21))
    _forward(store, run)
    store.truncate_after(run.id, 10)  # what a resume from the step-10 checkpoint does
    _record(store, run, range(11, 26), scale=2.0)  # the replayed steps get new values
    _forward(store, store.get(run.id), resume_step=10)
    first, second = (history(records(f)) for f in wandb_files(run.folder))
    assert max(first) == 20
    assert min(second) == 11 and max(second) == 25  # nothing at or before the checkpoint is sent again
    assert math.isclose(second[11]["train/loss"], 200 / 11)
    resumed = next(r.run for r in records(wandb_files(run.folder)[1]) if r.WhichOneof("record_type") == "run")
    assert resumed.branch_point.run == wandb_run_id(run.id) and resumed.branch_point.value == 10


@pytest.fixture
def rejecting_wandb_server(monkeypatch):
    """A W&B server that answers every request with 401 invalid API key."""

    class Deny(BaseHTTPRequestHandler):
        def _deny(self) -> None:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors":[{"message":"invalid api key"}]}')

        do_GET = do_POST = do_PUT = _deny

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()


def test_a_rejected_wandb_key_leaves_a_warning_and_the_run_completes(store, rejecting_wandb_server, monkeypatch):
    key = "b" * 40
    monkeypatch.setenv("WANDB_API_KEY", key)
    # wandb retries a refused login until its init timeout; a short one keeps the test quick (the setting, not
    # the behaviour, changes).
    monkeypatch.setattr("callbacks.wandb_logger.INIT_TIMEOUT_S", 8.0)
    run = _train(store, _tiny("auto"))
    assert run.status == "completed" and run.error is None
    assert "W&B could not start (online)" in run.warning and "Training goes on without W&B" in run.warning
    assert key not in run.warning
    assert store.metrics(run.id) and (run.folder / "checkpoints" / "last.ckpt").exists()


def test_online_without_a_key_logs_offline_and_says_so(store, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = store.create_run(_tiny("online"))
    _record(store, run, range(1, 6))
    callback = WandbCallback(store, run.id, parse_config(run.config), "online", poll_s=0.05)
    callback.on_fit_start(SimpleNamespace(is_global_zero=True), None)
    callback.close()
    run = store.get(run.id)
    assert "no API key reached this run" in run.warning
    assert run.wandb["mode"] == "offline" and wandb_files(run.folder)


def test_runs_show_prints_the_warning_and_the_sync_command(store, capsys):
    from genlab.cli.main import main

    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 6))
    _forward(store, run)
    store.add_warning(run.id, "W&B: something to know")
    assert main(["runs", "show", run.id]) == 0
    out = capsys.readouterr().out
    assert "warning  W&B: something to know" in out
    assert f"wandb    offline; upload with: wandb sync {offline_dirs(store.get(run.id))[0]}" in out


def test_wandb_folders_never_land_outside_genlab_home(store, home, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 6))
    _forward(store, run)
    assert not (tmp_path / "user").exists() or not any((tmp_path / "user").rglob("*wandb*"))
    assert all(Path(p).is_relative_to(home) for p in offline_dirs(store.get(run.id)))


def test_sweep_trials_are_grouped_by_their_study_in_wandb(store):
    run = store.create_run(_tiny("offline"), sweep_id="sweep-lr-study", trial_id=3)
    _record(store, run, range(1, 6))
    _forward(store, run)
    (wandb_file,) = wandb_files(run.folder)
    record = next(r.run for r in records(wandb_file) if r.WhichOneof("record_type") == "run")
    assert record.run_group == "sweep-lr-study"


def test_an_export_is_logged_as_an_artifact_pointing_at_the_runs_checkpoint_artifact(store):
    from genlab.share.wandb_link import checkpoint_artifact_name, log_export

    run = store.create_run(_tiny("offline"))
    _record(store, run, range(1, 6))
    (run.folder / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    _forward(store, run)
    export = run.folder / "exports" / "hf"
    export.mkdir(parents=True)
    (export / "model.safetensors").write_bytes(b"tensor bytes")
    assert log_export(store, run.id, export, "hf")
    arts = [
        r.artifact for f in wandb_files(run.folder) for r in records(f) if r.WhichOneof("record_type") == "artifact"
    ]
    model = next(a for a in arts if a.type == "model")
    exported = next(a for a in arts if a.type == "export")
    assert model.name == checkpoint_artifact_name(run.id) and model.run_id == exported.run_id == wandb_run_id(run.id)
    assert {c.path for c in exported.manifest.contents} == {"model.safetensors"}
    assert f"{checkpoint_artifact_name(run.id)}:latest" in exported.metadata
    assert store.get(run.id).warning is None


def test_an_export_of_a_run_without_wandb_logs_nothing(store):
    from genlab.share.wandb_link import log_export

    run = store.create_run(_tiny("off"))
    assert log_export(store, run.id, run.folder / "exports", "hf") is False
    assert not wandb_files(run.folder)
