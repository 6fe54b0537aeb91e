"""What a newcomer reads while training (issue 28): the worker log says what training does, the libraries'
boilerplate is left out of it, and the ETA of a resumed run is never a leftover "0 s"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from callbacks import progress as progress_module
from callbacks.progress import ProgressCallback
from genlab.core.registry import FAMILIES
from genlab.data.preflight import blocking_problems, steps_per_epoch, validation_note
from genlab.runner.log_lines import readable_log
from tests.ui.conftest import train_in_process

LIGHTNING_START = """GPU available: False, used: False
TPU available: False, using: 0 TPU cores
💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger](https://pypi.org/project/litlogger/)
Loading `train_dataloader` to estimate number of stepping batches.
/work/venv/lib/python3.11/site-packages/lightning/pytorch/utilities/_pytree.py:21: `isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec) and treespec.is_leaf()` instead.
  warnings.warn(
step 10/70 · epoch 0 · train/loss 123.4 · 0.12 s/step · ETA 7s
/work/wt/lightning_modules/vae.py:12: UserWarning: my own warning
validation at step 70: val/loss 120.1
`Trainer.fit` stopped: `max_epochs=1` reached.
`weights_only` was not set, defaulting to `False`.
Traceback (most recent call last):
RuntimeError: boom"""


def test_the_readable_log_keeps_training_warnings_and_errors_and_drops_the_boilerplate():
    text, dropped = readable_log(LIGHTNING_START)
    assert text.splitlines() == [
        "step 10/70 · epoch 0 · train/loss 123.4 · 0.12 s/step · ETA 7s",
        "/work/wt/lightning_modules/vae.py:12: UserWarning: my own warning",
        "validation at step 70: val/loss 120.1",
        "`Trainer.fit` stopped: `max_epochs=1` reached.",
        "Traceback (most recent call last):",
        "RuntimeError: boom",
    ]
    assert dropped == 7


@pytest.mark.slow  # a real (tiny) training run: 10-100 s on the shared CPU
def test_a_training_run_prints_its_progress_and_validation_lines(store, capsys):
    config = FAMILIES["vae"].tiny_config()
    config.trainer = config.trainer.model_copy(update={"log_every_n_steps": 2})
    run = train_in_process(store, config)
    assert run.status == "completed", run.error
    out = capsys.readouterr().out
    assert "step 2/4 · epoch 0 · train/kl " in out and " s/step · ETA " in out
    assert "step 4/4 · epoch 0 · train/kl " in out and "train/loss " in out
    assert "validation at step 4: val/elbo " in out and "val/loss " in out
    assert "training finished at step 4" in out


class _Loop(SimpleNamespace):
    pass


def _trainer(step: int) -> SimpleNamespace:
    """Lightning's Trainer as the callback reads it: the batches stepped and the planned length."""
    return SimpleNamespace(
        fit_loop=SimpleNamespace(epoch_loop=_Loop(_batches_that_stepped=step)),
        current_epoch=0,
        is_global_zero=True,
        world_size=1,
        should_stop=False,
        max_epochs=1,
        lightning_module=SimpleNamespace(run_config=FAMILIES["vae"].tiny_config()),
        estimated_stepping_batches=1000,
        num_training_batches=1000,
    )


def test_a_resumed_runs_eta_starts_empty_and_counts_only_the_steps_trained_here(store, monkeypatch):
    run = store.create_run(FAMILIES["vae"].tiny_config())
    store.update(run.id, status="running", eta_s=0.0, step=233)  # what the last run's end left behind
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    cb = ProgressCallback(store, run.id, min_interval_s=0.0)
    trainer = _trainer(233)
    cb.on_train_start(trainer, trainer.lightning_module)
    assert store.get(run.id).eta_s is None, "no '0 s' left over from the run before"
    cb.on_train_batch_start(trainer, trainer.lightning_module)
    assert store.get(run.id).eta_s is None, "no rate yet"
    clock[0] += 10.0
    trainer.fit_loop.epoch_loop._batches_that_stepped = 243  # 10 steps in 10 s here
    cb.on_train_batch_start(trainer, trainer.lightning_module)
    assert store.get(run.id).eta_s == pytest.approx(1000 - 243)


def test_preflight_counts_the_built_in_sets_without_loading_them():
    config = FAMILIES["vae"].default_config()  # mnist: 5,000 digits, 10% held out, batches of 64
    assert steps_per_epoch(config) == 4500 // 64
    assert blocking_problems(config) == []
    config.trainer = config.trainer.model_copy(update={"max_steps": 20})
    note = validation_note(config, "val/loss")
    assert note and "first validation at step 70" in note and "val/loss would never be logged" in note


def test_decoding_defaults_are_the_models_own_and_a_caller_overrides_only_what_it_sets():
    from types import SimpleNamespace

    from genlab.core.assets import SMOLLM2_GENERATION
    from genlab.use.generate import sampling_for

    chat = SimpleNamespace(generation_defaults=lambda: {"temperature": 0.2, "top_p": 0.9})
    s = sampling_for(chat, temperature=None, top_k=None, max_new_tokens=30)
    assert (s.temperature, s.top_p, s.repetition_penalty, s.max_new_tokens) == (0.2, 0.9, 1.0, 30)
    assert sampling_for(chat, temperature=0.0).temperature == 0.0, "an explicit 0 (greedy) is kept"
    plain = sampling_for(SimpleNamespace())  # a model without its own defaults (the char-RNN)
    assert (plain.temperature, plain.top_k, plain.repetition_penalty) == (0.8, 50, 1.0)
    assert SMOLLM2_GENERATION["temperature"] == 0.2 and SMOLLM2_GENERATION["repetition_penalty"] == 1.0


def test_the_screen_note_is_printed_once_per_home_and_generate_help_names_it(home):
    from genlab.cli.generate_cmd import _first_time
    from tests.test_cli import genlab

    assert _first_time("install Detoxify ...") and not _first_time("install Detoxify ...")
    out = genlab("generate", "--help", home=home)
    assert "printed once" in out.stdout and "the model's own" in out.stdout
