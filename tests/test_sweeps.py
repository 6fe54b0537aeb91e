"""Sweeps as a user relies on them: a checked search space, trials that are normal runs, pruning decided at
the trial's own validation (the same pruned set on every run of a seed), failures that do not stop the
sweep, a killed worker's trial retried, CLI errors in plain words."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from callbacks.sweep_trial import STORAGE_ENV
from genlab.cli.main import main
from genlab.core.config import ConfigError
from genlab.core.registry import FAMILIES
from genlab.runner.train import fit_module
from genlab.store.runs import RunStore
from genlab.sweeps import study as sweeps
from genlab.sweeps import worker as sweep_worker
from genlab.sweeps.space import parse_space
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent


def vae_base(epochs: int = 2, batches: int = 4):
    """A tiny VAE whose trials take a few seconds; more epochs give the pruner room to act."""
    cfg = FAMILIES["vae"].tiny_config()
    return cfg.model_copy(
        update={
            "trainer": cfg.trainer.model_copy(update={"max_epochs": epochs, "limit_train_batches": batches}),
            "logging": cfg.logging.model_copy(update={"sample_every_n_steps": 0}),
        }
    )


# -- the search space --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_default_space_is_valid_against_its_config(name: str) -> None:
    family = FAMILIES[name]
    params = parse_space(family.default_config(), family.sweep_space)
    assert {p.path for p in params} == set(family.sweep_space)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"optim.learning_rate": {"low": 1e-4, "high": 1e-2}}, "optim.learning_rate: unknown key 'learning_rate'"),
        ({"optim.lr": {"low": 1e-2, "high": 1e-2}}, "optim.lr: empty range"),
        ({"optim.lr": {"low": 1e-4, "high": 20.0}}, "optim.lr: high 20 is above the field's maximum 10"),
        ({"model.latent_dim": {"low": 0, "high": 8}}, "model.latent_dim: low 0 is below the field's minimum 1"),
        ({"model.beta": {"low": 0.0, "high": 2.0, "log": True}}, "model.beta: a log range needs low > 0"),
        ({"model.reconstruction": ["bce", "l1"]}, "model.reconstruction: 'l1' is not allowed"),
        ({"model.latent_dim": {"low": 2.5, "high": 8}}, "model.latent_dim: low must be a whole number"),
        ({"optim": {"low": 1, "high": 2}}, "optim: is a section"),
        ({}, "it is empty"),
    ],
)
def test_bad_search_spaces_are_errors_that_name_the_path(space: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_space(vae_base(), space)
    assert message in str(err.value)


def test_a_value_the_run_config_rejects_is_caught_before_the_sweep_starts() -> None:
    base = FAMILIES["gpt"].tiny_config()  # n_embd 32: the number of heads must divide it
    with pytest.raises(ConfigError, match="model.n_head: the value 3 gives an invalid run"):
        parse_space(base, {"model.n_head": [2, 3, 4]})


def test_multi_objective_sweeps_refuse_pruning_and_gans_compare_a_cheap_kid_estimate() -> None:
    with pytest.raises(ConfigError, match="cannot prune a multi-objective sweep"):
        sweeps.make_settings(
            vae_base(), n_trials=4, metrics=["val/loss", "val/kl"], directions=["min", "min"], pruner="median"
        )
    multi = sweeps.make_settings(vae_base(), n_trials=4, metrics=["val/loss", "val/kl"], directions=["min", "min"])
    assert multi.pruner == "none" and multi.directions == ["minimize", "minimize"]
    gan = sweeps.make_settings(FAMILIES["dcgan"].tiny_config(), n_trials=4)
    assert gan.metrics == ["val/kid"] and gan.config["metrics"]["fid_every_n_epochs"] == 1
    assert gan.config["metrics"]["fid_samples"] <= sweeps.GAN_ESTIMATE_SAMPLES
    assert any("KID" in note for note in gan.notes)


@pytest.mark.parametrize("sampler", sweeps.SAMPLERS)
def test_every_sampler_proposes_values_inside_the_space(home: Path, sampler: str) -> None:
    space = {"optim.lr": {"low": 1e-4, "high": 1e-2, "step": 1e-4}, "model.latent_dim": {"low": 4, "high": 8}}
    settings = sweeps.make_settings(vae_base(), n_trials=50, name=f"s-{sampler}", space=space, sampler=sampler, seed=1)
    study = sweeps.create(settings)
    study, settings = sweeps.load(settings.name)  # a worker rebuilds the sampler from the stored settings
    dists = sweeps.distributions(settings.params())
    for _ in range(4):
        trial = study.ask(dists)
        assert 1e-4 <= trial.params["optim.lr"] <= 1e-2 and 4 <= trial.params["model.latent_dim"] <= 8
        study.tell(trial, trial.params["optim.lr"])


def test_a_grid_sweep_is_capped_at_the_grid_size_and_says_so() -> None:
    settings = sweeps.make_settings(vae_base(), n_trials=20, space={"model.latent_dim": [4, 8, 16]}, sampler="grid")
    assert settings.n_trials == 3 and "The grid has 3 points" in settings.notes[0]
    with pytest.raises(ConfigError, match="optim.lr: grid search needs choices or a step"):
        sweeps.make_settings(vae_base(), n_trials=2, space={"optim.lr": {"low": 1e-4, "high": 1e-2}}, sampler="grid")


def test_cli_start_with_a_bad_space_exits_2_naming_the_path(home: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "vae.yaml"
    config.write_text(vae_base().to_yaml())
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {low: 0.1, high: 0.01}\n")
    assert main(["sweep", "start", "--config", str(config), "--trials", "2", "--space", str(space)]) == 2
    err = capsys.readouterr().err
    assert "optim.lr: empty range" in err and "Traceback" not in err
    assert main(["sweep", "show", "nope"]) == 2
    assert "No sweep named 'nope'" in capsys.readouterr().err
    assert main(["sweep", "list", "--storage", "postgresql+psycopg://me:s3cret@127.0.0.1:1/db"]) == 2
    err = capsys.readouterr().err
    assert "Cannot open the sweep storage postgresql+psycopg://me:***@127.0.0.1:1/db" in err and "s3cret" not in err


# -- a real sweep: completed, pruned and failed trials ------------------------------------------------

EPOCHS = 6  # the pruner acts at the trial's own validations, so a prune lands at the first rung it loses


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory):
    """Four trials in order (Optuna's enqueue_trial fixes their values): a fair learning rate, one so small
    it falls behind the median and is pruned, one on a data set that does not exist (it raises), and a
    better learning rate than the first (never behind the median, so it completes)."""
    home = tmp_path_factory.mktemp("sweep_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GENLAB_HOME", str(home))
    mp.setenv("GENLAB_MAX_JOBS", "1")
    try:
        store = RunStore(home)
        space = {"optim.lr": {"low": 1e-6, "high": 1e-2, "log": True}, "data.name": ["digits", "no_such_set"]}
        settings = sweeps.make_settings(vae_base(epochs=EPOCHS), n_trials=4, name="s4", space=space, pruner="median")
        study = sweeps.create(settings)
        for lr, data in ((3e-3, "digits"), (1e-6, "digits"), (1e-2, "no_such_set"), (1e-2, "digits")):
            study.enqueue_trial({"optim.lr": lr, "data.name": data})
        result = sweep_worker.Worker("s4", store=store, log=lambda _: None).run()
        study, settings = sweeps.load("s4")
        yield store, study, settings, result
    finally:
        mp.undo()


def test_a_four_trial_sweep_finishes_with_every_trial_a_run_in_the_store(finished_sweep) -> None:
    store, study, settings, result = finished_sweep
    assert result.state == "finished" and result.done == 4
    runs = store.list_runs(sweep_id="s4")
    assert sorted(r.trial_id for r in runs) == [0, 1, 2, 3]
    for t in study.trials:
        run = store.get(t.user_attrs["run_id"])
        assert run.trial_id == t.number and run.sweep_id == "s4"
        assert run.name == f"s4-t{t.number}"
    best = sweeps.best_trials(study, settings, 1)[0]
    assert best.number == 3 and best.values[0] == pytest.approx(store.get(best.user_attrs["run_id"]).best_value)


def test_a_hopeless_trial_is_pruned_early_and_its_run_shows_pruned(finished_sweep) -> None:
    store, study, _, _ = finished_sweep
    trial = study.trials[1]
    assert trial.state == TrialState.PRUNED
    run = store.get(trial.user_attrs["run_id"])
    assert run.status == "pruned"
    assert run.epoch < EPOCHS - 1 and run.step < run.total_steps, "the pruned run stopped well before its end"
    assert trial.user_attrs["pruned_at"] >= 1
    assert (run.folder / "checkpoints" / "last.ckpt").exists(), "a pruned run keeps its checkpoint"


def test_a_raising_trial_fails_and_the_sweep_goes_on(finished_sweep) -> None:
    store, study, _, result = finished_sweep
    trial = study.trials[2]
    assert trial.state == TrialState.FAIL
    run = store.get(trial.user_attrs["run_id"])
    assert run.status == "failed"
    assert "no_such_set" in trial.user_attrs["error"]
    assert result.complete == 2 and result.pruned == 1 and result.failed == 1


def test_train_the_best_config_starts_a_normal_run_linked_to_the_sweep(finished_sweep, monkeypatch) -> None:
    store, study, settings, _ = finished_sweep
    monkeypatch.setenv("GENLAB_HOME", str(store.home))
    config, trial = sweeps.best_config("s4")
    assert config.optim.lr == pytest.approx(trial.params["optim.lr"])
    figures = sweeps.figures(study, settings)
    assert {"history", "parallel coordinates", "intermediate values"} <= set(figures)


# -- pruning at the validation itself ------------------------------------------------------------------


def test_a_trial_is_pruned_at_the_validation_that_loses_before_its_next_batch(home: Path, monkeypatch) -> None:
    """The trial's own process reports each validation and asks the pruner: a trial behind the median
    stops right after its first validation (no batch of the next epoch), ends `pruned` with its checkpoint;
    a trial ahead of it reports every validation and completes."""
    store = RunStore(home)
    space = {"optim.lr": {"low": 1e-4, "high": 1e-2, "log": True}}
    base = vae_base(epochs=3, batches=2)
    monkeypatch.setenv(STORAGE_ENV, sweeps.default_storage())  # what the sweep worker hands the run's worker

    def run_trial(name: str, finished: float) -> tuple[str, str, optuna.trial.FrozenTrial]:
        """A trial of a sweep whose one finished trial (the median pruner's startup) logged `finished`."""
        settings = sweeps.make_settings(base, n_trials=4, name=name, space=space, pruner="median")
        study = sweeps.create(settings)
        dists = sweeps.distributions(settings.params())
        curve = {1: finished, 2: finished, 3: finished}
        study.add_trial(
            optuna.trial.create_trial(
                params={"optim.lr": 1e-3}, distributions=dists, value=finished, intermediate_values=curve
            )
        )
        trial = study.ask(dists)
        run = store.create_run(base, status="running", sweep_id=name, trial_id=trial.number, monitor="val/loss")
        status, _ = fit_module(store, run.id)
        return run.id, status, study.trials[trial.number]

    run_id, status, trial = run_trial("behind", -1e6)  # the finished trial did better at every validation
    assert status == "pruned" and trial.user_attrs["pruned_at"] == 1
    assert list(trial.intermediate_values) == [1] and len(store.metric_series(run_id, "val/loss")) == 1
    assert store.get(run_id).step == 2, "it stopped after its first epoch's 2 batches, before a batch of the next"
    assert (store.run_folder(run_id) / "checkpoints" / "last.ckpt").exists()
    run_id, status, trial = run_trial("ahead", 1e6)  # always ahead of it: never pruned
    assert status == "completed" and "pruned_at" not in trial.user_attrs
    assert (
        list(trial.intermediate_values)
        == [1, 2, 3]
        == [i + 1 for i, _ in enumerate(store.metric_series(run_id, "val/loss"))]
    )


@pytest.mark.slow  # two sweeps of six tiny trials, each trial its own process
def test_the_same_seed_prunes_the_same_trials_at_the_same_validations(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_MAX_JOBS", "2")  # both sweeps at once: each run sees the other's load
    store = RunStore(home)
    space = {"optim.lr": {"low": 1e-5, "high": 3e-2, "log": True}}
    names = ("same-a", "same-b")
    for name in names:
        settings = sweeps.make_settings(vae_base(epochs=4), n_trials=6, name=name, space=space, pruner="median", seed=3)
        sweeps.create(settings)
    workers = [threading.Thread(target=sweep_worker.Worker(n, store=store, log=lambda _: None).run) for n in names]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=900)

    def outcome(name: str) -> list[tuple]:
        study, _ = sweeps.load(name)
        return [
            (
                t.state.name,
                t.params["optim.lr"],
                t.user_attrs.get("pruned_at"),
                len(store.metric_series(t.user_attrs["run_id"], "val/loss")),
            )
            for t in study.trials
        ]

    first, second = outcome("same-a"), outcome("same-b")
    assert len(first) == 6 and all(state in ("COMPLETE", "PRUNED") for state, *_ in first)
    assert any(state == "PRUNED" for state, *_ in first), "the space is wide enough that some trial loses"
    assert first == second


# -- faults across processes -----------------------------------------------------------------------


@pytest.mark.slow  # three tiny runs one after another, plus the heartbeat grace
def test_a_killed_worker_s_trial_is_retried_and_the_sweep_finishes(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_SWEEP_HEARTBEAT_S", "1")
    monkeypatch.setenv("GENLAB_SWEEP_GRACE_S", "3")
    monkeypatch.setenv("GENLAB_MAX_JOBS", "2")
    store = RunStore(home)
    space = {"optim.lr": {"low": 1e-3, "high": 1e-2, "log": True}}
    settings = sweeps.make_settings(vae_base(epochs=10), n_trials=2, name="k9", space=space, pruner="none")
    study = sweeps.create(settings)
    log = open(home / "first-worker.log", "wb")  # noqa: SIM115 - closed below
    first = subprocess.Popen(
        [sys.executable, "-m", "genlab", "sweep", "worker", "--study", "k9"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        run_id = wait_for(
            lambda: study.trials and study.trials[0].user_attrs.get("run_id"), timeout=120, what="the first trial"
        )
        wait_for(lambda: store.get(run_id).step >= 1, timeout=120, what="its run to train")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        log.close()
    result = sweep_worker.run_worker("k9", store=store)  # the restarted worker
    study, _ = sweeps.load("k9")
    states = [t.state for t in study.trials]
    assert result.state == "finished" and result.complete == 2
    assert states[0] == TrialState.FAIL, "the dead worker's trial was failed by its stale heartbeat"
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == 0)
    assert retry.state == TrialState.COMPLETE and retry.params == study.trials[0].params
    assert store.get(retry.user_attrs["run_id"]).status == "completed"
    assert store.get(run_id).status in ("cancelled", "completed"), "the orphaned run does not linger"


@pytest.mark.slow  # three tiny runs one after another, plus the heartbeat grace
def test_stop_cancels_the_running_trial_and_a_new_worker_resumes_without_redoing_completed_ones(
    home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    store = RunStore(home)
    space = {"optim.lr": {"low": 1e-3, "high": 1e-2, "log": True}}
    settings = sweeps.make_settings(vae_base(epochs=10), n_trials=2, name="st", space=space, pruner="none")
    study = sweeps.create(settings)
    worker = threading.Thread(target=sweep_worker.Worker("st", store=store, log=lambda _: None).run)
    worker.start()
    wait_for(lambda: len(study.trials) == 2 and study.trials[1].user_attrs.get("run_id"), timeout=180, what="trial 1")
    stopped_run = study.trials[1].user_attrs["run_id"]
    wait_for(lambda: store.get(stopped_run).step >= 1, timeout=120, what="trial 1 to train")
    sweeps.stop("st")
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert sweeps.list_sweeps()[0].state == "stopped"
    assert store.get(stopped_run).status == "cancelled"
    result = sweep_worker.run_worker("st", store=store)  # resume
    study, _ = sweeps.load("st")
    assert result.state == "finished" and result.complete == 2
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[2].params == study.trials[1].params, "the stopped trial is run again"
    assert [r.trial_id for r in store.list_runs(sweep_id="st")].count(0) == 1, "the completed trial is not redone"


def postgres_url() -> str:
    """CI (.ci/run) starts Debian's PostgreSQL and sets GENLAB_TEST_POSTGRES_URL; without it this fails."""
    url = os.environ.get("GENLAB_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "GENLAB_TEST_POSTGRES_URL is not set: the two-worker sweep test needs PostgreSQL "
            "(.ci/run installs and starts it; locally: apt-get install postgresql, start the cluster, "
            "create a database and export the URL, e.g. postgresql+psycopg://genlab:genlab@localhost/genlab_test)"
        )
    return url


def test_two_workers_on_postgresql_share_one_study_and_never_run_the_same_trial(home: Path, monkeypatch) -> None:
    url = postgres_url()
    monkeypatch.setenv("GENLAB_MAX_JOBS", "2")
    name = f"pg-{os.getpid()}-{os.urandom(3).hex()}"
    store = RunStore(home)
    space = {"optim.lr": {"low": 1e-3, "high": 1e-2, "log": True}}
    settings = sweeps.make_settings(vae_base(epochs=1), n_trials=4, name=name, space=space, pruner="none")
    sweeps.create(settings, url)
    cmd = [sys.executable, "-m", "genlab", "sweep", "worker", "--study", name, "--storage", url, "--parallel", "1"]
    logs = [open(home / f"worker{i}.log", "wb") for i in range(2)]  # noqa: SIM115 - closed below
    try:
        workers = [subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT) for f in logs]
        codes = [w.wait(timeout=400) for w in workers]
    finally:
        for f in logs:
            f.close()
    assert codes == [0, 0], [(home / f"worker{i}.log").read_text() for i in range(2)]
    study, _ = sweeps.load(name, url)
    try:
        assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
        run_ids = [t.user_attrs["run_id"] for t in study.trials]
        assert len(set(run_ids)) == 4
        runs = store.list_runs(sweep_id=name)
        assert sorted(r.trial_id for r in runs) == [0, 1, 2, 3], "one run per trial, none shared or repeated"
        assert len({t.user_attrs["worker"] for t in study.trials}) == 2, "both workers took trials"
    finally:
        optuna.delete_study(study_name=name, storage=url)
