"""The Sweeps page and the Runs page's sweep filter, in AppTest against a real Optuna study and run store.

The study's trials are added through Optuna's own API and point at runs recorded the way workers leave
them, so the page renders in seconds; tests/test_sweeps.py runs sweeps for real.
"""

from __future__ import annotations

import socket

import optuna
from optuna.distributions import FloatDistribution

from genlab.core.registry import FAMILIES
from genlab.sweeps import study as sweeps
from tests.ui.conftest import record_run
from tests.ui.test_pages import sample_grids, texts


def recorded_sweep(store, name: str = "ui-sweep"):
    """A 3-trial VAE sweep: two complete trials with runs and sample grids, one pruned."""
    settings = sweeps.make_settings(
        FAMILIES["vae"].tiny_config(),
        n_trials=3,
        name=name,
        space={"optim.lr": {"low": 1e-4, "high": 1e-2, "log": True}},
    )
    study = sweeps.create(settings)
    dist = {"optim.lr": FloatDistribution(1e-4, 1e-2, log=True)}
    for number, (lr, state, value) in enumerate(
        [(1e-3, "COMPLETE", 120.0), (5e-3, "COMPLETE", 95.0), (1e-4, "PRUNED", None)]
    ):
        run = record_run(store, name=f"{name}-t{number}", lr=lr, seed=number)
        store.update(run.id, sweep_id=name, trial_id=number, status="pruned" if state == "PRUNED" else "completed")
        study.add_trial(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                params={"optim.lr": lr},
                distributions=dist,
                value=value,
                intermediate_values={1: (value or 300.0) + 50, 2: value or 290.0},
                user_attrs={"run_id": run.id, "host": socket.gethostname(), "pruned_at": 2 if value is None else None},
            )
        )
    return study


def test_sweeps_page_without_sweeps_offers_the_start_form_with_the_family_space(app):
    at = app("sweeps")
    assert "No sweeps yet" in texts(at, "info")
    knobs = at.multiselect(key="sweeps.knobs.vae")
    assert set(knobs.value) == set(FAMILIES["vae"].sweep_space)
    assert at.text_input(key="sweeps.knob.vae.model.latent_dim.values").value == "8, 16, 32", "choices stay choices"
    assert at.number_input(key="sweeps.knob.vae.optim.lr.low").value == 1e-4
    assert at.button(key="sweeps.start")
    assert any(c.value.startswith("python -m genlab sweep start") for c in at.code)


def test_sweeps_page_refuses_an_empty_range_naming_the_knob(app):
    at = app("sweeps")
    at.number_input(key="sweeps.knob.vae.optim.lr.high").set_value(0.0001).run()
    assert "optim.lr: empty range" in texts(at, "error")
    assert not [b for b in at.button if b.key == "sweeps.start"], "no Start button while the space is invalid"


def test_sweeps_page_shows_trials_figures_best_samples_and_trains_the_best(app, store, monkeypatch):
    recorded_sweep(store)
    record_run(store, name="busy", status="running")  # holds the only job slot: the best run stays queued
    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")
    at = app("sweeps", sweep="ui-sweep")
    assert not at.error, texts(at, "error")
    table = at.dataframe[0].value
    assert list(table["state"]) == ["complete", "complete", "pruned"]
    assert list(table["run_status"]) == ["completed", "completed", "pruned"]
    assert len(sample_grids(at)) == 2, "the best trials' sample grids side by side"
    assert len(at.get("plotly_chart")) >= 3, "history, parallel coordinates, intermediate values"
    assert any("optuna-dashboard sqlite:///" in c.value for c in at.code)
    at.button(key="sweeps.train_best").click().run()
    best = [r for r in store.list_runs(sweep_id="ui-sweep") if r.trial_id is None]
    assert len(best) == 1 and best[0].config["optim"]["lr"] == 5e-3 and best[0].name == "ui-sweep-best"


def test_sweeps_page_starts_from_the_chosen_past_run_not_the_preset_shown_first(app, recorded):
    run = recorded(name="base-run", lr=7e-3)
    at = app("sweeps")
    at.radio(key="sweeps.source").set_value("A past run").run()
    assert at.selectbox(key="sweeps.run").value == run.id
    command = next(c.value for c in at.code if c.value.startswith("python -m genlab sweep start"))
    assert command  # the settings validated; the base config is the run's (its tiny data, not the preset's)
    form = [
        w for w in at.number_input if w.key and w.key.startswith("sweeps.form.vae.") and w.key.endswith("max_items")
    ]
    assert form and form[0].value == run.config["data"]["max_items"]


def test_runs_page_filters_by_sweep(app, store):
    recorded_sweep(store)
    record_run(store, name="outside")
    at = app("runs", sweep="ui-sweep")
    names = list(at.dataframe[0].value["name"])
    assert sorted(names) == ["ui-sweep-t0", "ui-sweep-t1", "ui-sweep-t2"]
    at.selectbox(key="runs.sweep").set_value("(all)").run()
    assert "outside" in list(at.dataframe[0].value["name"])
