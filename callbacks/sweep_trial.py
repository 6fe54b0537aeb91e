"""A sweep trial's own process reports each validation to the study and asks the pruner, there and then.

The decision is taken when the validation ends and before the next training batch, as Optuna's
Lightning integration does, with the study's RDB storage shared: a trial trains exactly the validations
the pruner allowed, so the same seed, space and budget prune the same trials at the same validations on
a fast, a slow or a loaded machine (the sweep worker only waits for the run to end). The storage URL
reaches the run's worker through its environment only (genlab.store.run_secrets), never the run store.
Rank zero talks to the study; its verdict is broadcast so every DDP rank stops at the same batch.
"""

from __future__ import annotations

import math
import os
from typing import Any

import lightning as L

from genlab.store.runs import RunStore

STORAGE_ENV = "GENLAB_SWEEP_STORAGE"


class SweepTrialCallback(L.Callback):
    def __init__(self, store: RunStore, run_id: str, study_name: str, trial_number: int, storage_url: str) -> None:
        self.store = store
        self.run_id = run_id
        self.study_name = study_name
        self.trial_number = trial_number
        self.storage_url = storage_url
        self.metric: str | None = None
        self.pruned_at: int | None = None  # the validation that pruned the trial
        self._trial: Any = None
        self._off = False

    @classmethod
    def for_run(cls, store: RunStore, run_id: str) -> SweepTrialCallback | None:
        """The callback for a run that is a sweep trial started with its study's storage, else None."""
        url = os.environ.get(STORAGE_ENV)
        if not url:
            return None
        run = store.get(run_id)
        if not run.sweep_id or run.trial_id is None:
            return None
        return cls(store, run_id, run.sweep_id, run.trial_id, url)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_trial"} | {"_trial": None}

    def _connect(self) -> None:
        """Open the study once; a multi-objective sweep is not pruned (Optuna cannot), so nothing to report."""
        import optuna

        from genlab.sweeps.storage import load

        study, settings = load(self.study_name, self.storage_url)
        if len(settings.metrics) != 1:
            self._off = True
            return
        frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == self.trial_number), None)
        if frozen is None:
            raise RuntimeError(f"sweep {self.study_name!r} has no trial {self.trial_number}")
        self.metric = settings.metrics[0]
        self._trial = optuna.Trial(study, frozen._trial_id)

    def _verdict(self, trainer: L.Trainer) -> bool:
        """Report this validation (step = validations the run has logged) and ask the pruner."""
        if self._off or self.store.cancel_requested(self.run_id):
            return False  # a stopped or cancelled trial's last (partial-epoch) validation is not a rung result
        if self._trial is None:
            self._connect()
            if self._off:
                return False
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            return False
        value = float(value)
        step = len(self.store.metric_series(self.run_id, self.metric))
        if not math.isfinite(value) or step < 1:
            return False
        try:
            self._trial.report(value, step)
            prune = self._trial.should_prune()
        except Exception as err:  # noqa: BLE001 - a finished trial (its worker died and it was retried) or a lost database
            print(f"sweep {self.study_name} trial {self.trial_number}: no longer reporting ({err})", flush=True)
            self._off = True
            return False
        if prune:
            self._trial.set_user_attr("pruned_at", step)
            self.pruned_at = step
        return prune

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = self._verdict(trainer) if trainer.is_global_zero else False
        if trainer.world_size > 1:
            prune = bool(trainer.strategy.broadcast(prune, src=0))
        if prune:
            trainer.should_stop = True
