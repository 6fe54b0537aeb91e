"""A newcomer's first hour (issue 28), page by page in AppTest: failures say why where the person looks,
and a run that could only fail cannot be started."""

from __future__ import annotations

import socket
import zipfile

import optuna
from optuna.distributions import FloatDistribution

from genlab.core.registry import FAMILIES
from genlab.data.api import import_zip_upload
from genlab.sweeps import study as sweeps
from tests.ui.conftest import record_run
from tests.ui.test_pages import png_bytes, texts
from ui.widgets.presets import CARDS_DIR
from ui.widgets.presets import cards as preset_cards


def upload_images(tmp_path, name: str = "my-photos", n: int = 20) -> None:
    """A zip of n small images stored the way the Data page stores an upload."""
    zpath = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for i in range(n):
            z.writestr(f"{i}.png", png_bytes(i, size=12))
    import_zip_upload(name, zpath)


def start_button(at):
    return next(b for b in at.button if b.key == "train.start")


def test_switching_to_an_upload_preselects_it_and_start_waits_for_the_batch_size_fix(app, tmp_path):
    upload_images(tmp_path, "older", n=30)
    upload_images(tmp_path, "my-photos", n=20)
    at = app("train")
    at.selectbox(key="train.form.vae.data.source").set_value("zip").run()
    name = next(s for s in at.selectbox if s.key and s.key.startswith("train.form.vae.data.name"))
    assert name.value == "my-photos", "the just-uploaded set, not the built-in's name"
    assert "data.batch_size: 64 is larger than the 18 training images; lower it to 18" in texts(at, "error")
    assert start_button(at).disabled, "Start is off while the run could only fail"
    at.button(key="train.fix.0").click().run()
    assert at.number_input(key="train.form.vae.data.batch_size").value == 18
    assert not texts(at, "error")
    assert not start_button(at).disabled


def test_a_sweep_whose_trials_failed_says_why_in_the_table_and_above_it(app, store):
    settings = sweeps.make_settings(
        FAMILIES["vae"].tiny_config(), n_trials=2, name="sad", space={"optim.lr": {"low": 1e-4, "high": 1e-2}}
    )
    study = sweeps.create(settings)
    reason = "the run never logged val/loss; it logged: train/kl, train/loss, train/recon"
    for number in range(2):
        run = record_run(store, name=f"sad-t{number}", seed=number)
        store.update(run.id, sweep_id="sad", trial_id=number)
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.FAIL,
                params={"optim.lr": 1e-3},
                distributions={"optim.lr": FloatDistribution(1e-4, 1e-2)},
                user_attrs={"run_id": run.id, "host": socket.gethostname(), "error": reason},
            )
        )
    at = app("sweeps", sweep="sad")
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["trial", "state", "reason"]
    assert list(table["reason"]) == [reason, reason]
    error = texts(at, "error")
    assert "2 of 2 trial(s) failed" in error
    assert error.count(reason) == 2
    assert "No completed trial: 2 failed" in texts(at, "warning")


def test_a_sweep_of_trials_too_short_to_validate_is_warned_about_before_it_starts():
    config = FAMILIES["vae"].default_config()
    config.trainer = config.trainer.model_copy(update={"max_steps": 20})
    settings = sweeps.make_settings(config, n_trials=3)
    assert any("trainer.max_steps (20) ends before the first validation at step 70" in n for n in settings.notes)


def test_the_cli_refuses_the_same_run_in_the_same_words(home, tmp_path):
    from tests.test_cli import genlab

    upload_images(tmp_path, "my-photos", n=20)
    out = genlab(
        "train",
        "--config",
        "configs/vae_mnist.yaml",
        "--set",
        "data.source=zip",
        "--set",
        "data.name=my-photos",
        home=home,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "data.batch_size: 128 is larger than the 18 training images; lower it to 18" in out.stderr
    assert "--set data.batch_size=18" in out.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir()), "no run was created"


def test_home_says_where_to_start_in_plain_words_with_the_command_behind_an_expander(app):
    measured = preset_cards()
    fastest = min(sorted(measured), key=lambda stem: measured[stem]["cpu_s"])  # the fastest measured, first by name
    card = measured[fastest]
    at = app("home")
    assert f"Start with **{fastest}**" in texts(at, "success")
    shown = texts(at, "markdown")
    assert card["plain"] in shown and ":green-badge[start here]" in shown
    assert f"{card['cpu']} on a 2-core CPU (measured {card['measured']})" in texts(at, "caption")
    assert any(e.label == "Details and the command line" for e in at.expander)
    assert any(c.value == "python -m genlab train --config configs/vae_mnist.yaml --wait" for c in at.code)
    # cards show what the preset makes: a grid of an image preset, lines a text preset wrote (docs/presets/)
    assert len(at.image) >= 9
    lstm_lines = (CARDS_DIR / "rnn_shakespeare.txt").read_text(encoding="utf-8")
    assert any(c.value == lstm_lines.rstrip("\n") or c.value == lstm_lines for c in at.code), "the LSTM's lines"


def test_playground_opens_on_the_newest_completed_run_and_offers_the_pretrained_model(app, store):
    done = record_run(store, name="done-earlier")
    record_run(store, name="failed-later", status="failed")
    at = app("playground")
    assert at.segmented_control(key="play.source").value == "A trained run"
    assert at.selectbox(key="play.run").value == done.id, "a completed run, not the newer failed one"
    assert at.segmented_control(key="play.source").options == ["A trained run", "A pretrained model (no training)"]


def test_api_key_stays_shown_until_dismissed(app, store):
    at = app("settings")
    at.text_input(key="settings.api_key_name").set_value("phone app")
    at.button(key="FormSubmitter:settings.api_key_new-Create key").click().run()
    secret = next(c.value for c in at.code if c.value.startswith("glk_"))
    at.run()  # any later rerun (the form clearing its name box) keeps the key on screen
    assert any(c.value == secret for c in at.code)
    at.button(key="settings.api_key_done").click().run()
    assert not any(c.value == secret for c in at.code)
