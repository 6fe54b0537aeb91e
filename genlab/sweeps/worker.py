"""The sweep worker: runs a sweep's trials, K at a time, each a normal GenLab run in its own process.

For every trial it asks Optuna for values and starts the run with genlab.runner.jobs (linked by sweep_id
and trial_id, the study's storage URL handed to the run's worker environment only). The run reports each
validation to the study and asks the pruner itself (callbacks/sweep_trial.py), so where a trial stops
does not depend on how fast this worker polls; the worker waits for the run to end and tells Optuna
how it ended (complete with its objective, pruned, failed). It marks its trials alive (heartbeat) so a
worker on any machine can fail and retry the trials of one that died; `sweep stop` makes it cancel its
trials (queued again for a resume) and end.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from callbacks.sweep_trial import STORAGE_ENV
from genlab.core.parsing import parse_config
from genlab.runner import jobs
from genlab.store.engine import this_host
from genlab.store.runs import FINISHED, Run, RunStore
from genlab.sweeps.space import apply_params
from genlab.sweeps.study import (
    RESUME_ATTR,
    Progress,
    default_storage,
    distributions,
    heartbeat_s,
    load,
    open_storage,
    progress,
    stop_requested,
)


def _objective_value(store: RunStore, run_id: str, metric: str, direction: str) -> float | None:
    values = [v for _, v in store.metric_series(run_id, metric) if v is not None and math.isfinite(v)]
    if not values:
        return None
    return min(values) if direction == "minimize" else max(values)


class Worker:
    """Runs trials of one sweep, K at a time, until the budget is spent or the sweep is stopped."""

    def __init__(
        self,
        name: str,
        storage: str | None = None,
        *,
        store: RunStore | None = None,
        parallel: int | None = None,
        poll_s: float = 0.25,
        log: Any = None,
    ) -> None:
        self.name = name
        self.storage = storage
        self.store = store or RunStore()
        self.rdb = open_storage(storage)
        self.study, self.settings = load(name, storage, self.rdb)
        self.params = self.settings.params()
        self.dists = distributions(self.params)
        self.base = parse_config(self.settings.config)
        self.parallel = max(1, min(parallel or self.settings.parallel, jobs.max_concurrent()))
        self.poll_s = poll_s
        self.lock = threading.Lock()
        self.log = log or (lambda text: print(text, flush=True))
        self.host = this_host()  # GENLAB_HOST, else the machine's name: what the run store records
        self.worker_id = f"{self.host}:{os.getpid()}"

    def stop_requested(self) -> bool:
        return stop_requested(self.study)

    def run(self) -> Progress:
        """Work until nothing is left; returns the sweep's final counts."""
        threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(self.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return progress(self.study, self.settings)

    def _next_trial(self) -> optuna.Trial | None | bool:
        """A new (or retried) trial, None when the budget is spent and nothing runs, False to wait."""
        with self.lock:
            fail_stale_trials(self.study)  # a dead worker's trials: FAIL, and retried by the callback
            p = progress(self.study, self.settings)
            if p.waiting or p.used < self.settings.n_trials:
                return self.study.ask(self.dists)
            return False if p.running else None

    def _loop(self) -> None:
        while not self.stop_requested():
            trial = self._next_trial()
            if trial is None:
                return
            if trial is False:  # other workers' trials still run: one may die and need a retry here
                time.sleep(max(self.poll_s, 1.0))
                continue
            try:
                self._run_trial(trial)
            except Exception as err:  # noqa: BLE001 - one broken trial must not end the sweep
                trial.set_user_attr("error", f"{type(err).__name__}: {err}")
                self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                self.log(f"trial {trial.number}: failed ({type(err).__name__}: {err})")

    def _beat(self, trial: optuna.Trial, done: threading.Event) -> None:
        trial_id = trial._trial_id  # Optuna's storage key of the trial; its heartbeat is keyed by it
        while not done.wait(heartbeat_s()):
            try:
                self.rdb.record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 - a busy database must not kill the heartbeat
                pass

    def _retire_orphan(self, trial: optuna.Trial) -> None:
        """A retried trial's old run, left by a dead worker on this machine, stops taking a job slot."""
        frozen = self.study.get_trials(deepcopy=False)[trial.number]
        history = frozen.system_attrs.get("retry_history") or []
        if not history:
            return
        old = history[-1]
        trial.set_user_attr("error", None)  # a retry copies the failed trial's attrs
        trial.set_user_attr("pruned_at", None)
        run_id = frozen.user_attrs.get("run_id")  # also copied: the run the dead worker left
        if run_id and frozen.user_attrs.get("host") == self.host and self.store.exists(run_id):
            if self.store.get(run_id).status in ("queued", "running"):
                jobs.cancel(run_id, self.store)
                self.log(f"trial {trial.number}: retry of trial {old}; its orphaned run {run_id} is cancelled")

    def _run_trial(self, trial: optuna.Trial) -> None:
        done = threading.Event()
        threading.Thread(target=self._beat, args=(trial, done), daemon=True).start()
        try:
            self._retire_orphan(trial)
            params = {p.path: trial.params[p.path] for p in self.params}
            config = apply_params(self.base, params)
            config = config.model_copy(
                update={"name": f"{self.name}-t{trial.number}", "tags": [*config.tags, f"sweep:{self.name}"]}
            )
            secrets = {STORAGE_ENV: self.storage or default_storage()}  # the run reports to the study itself
            run = jobs.start(config, self.store, sweep_id=self.name, trial_id=trial.number, secrets=secrets)
            links = {"run_id": run.id, "host": self.host, "genlab_home": str(self.store.home), "worker": self.worker_id}
            for key, value in links.items():
                trial.set_user_attr(key, value)
            self.log(f"trial {trial.number}: run {run.id} " + ", ".join(f"{k}={v!r}" for k, v in params.items()))
            self._follow(trial, run.id)
        finally:
            done.set()

    def _follow(self, trial: optuna.Trial, run_id: str) -> None:
        """Wait for the run to end (it reports and is pruned at its own validations); cancel it on a stop."""
        stopped = False
        while True:
            jobs.schedule(self.store)  # this worker holds the run's storage URL: it launches the run
            run = self.store.get(run_id)
            if run.status in FINISHED:
                break
            if not stopped and self.stop_requested():
                stopped = True
                jobs.cancel(run_id, self.store)
            time.sleep(self.poll_s)
        self._finish(trial, run, stopped)

    def _finish(self, trial: optuna.Trial, run: Run, stopped: bool) -> None:
        if run.status == "pruned":
            pruned_at = self.study._storage.get_trial_user_attrs(trial._trial_id).get("pruned_at")
            self.study.tell(trial, state=TrialState.PRUNED)
            self.log(f"trial {trial.number}: pruned after {pruned_at} validation(s) (run {run.id})")
            return
        if run.status != "completed":
            reason = "the sweep was stopped" if stopped else (run.error or f"its run ended {run.status}")
            trial.set_user_attr("error", reason)
            frozen = self.study.tell(trial, state=TrialState.FAIL)
            if stopped:  # queued again with the same values, so resuming the sweep runs it
                RetryHeartbeatStaleTrialCallback()(self.study, frozen)
            self.log(f"trial {trial.number}: failed: {reason}")
            return
        values = []
        for metric, direction in zip(self.settings.metrics, self.settings.directions, strict=True):
            value = _objective_value(self.store, run.id, metric, direction)
            if value is None:
                keys = ", ".join(k for k in self.store.metric_keys(run.id) if "/" in k)
                trial.set_user_attr("error", f"the run never logged {metric}; it logged: {keys}")
                self.study.tell(trial, state=TrialState.FAIL)
                self.log(f"trial {trial.number}: failed: no {metric} in run {run.id} (it logged: {keys})")
                return
            values.append(value)
        self.study.tell(trial, values)
        self.log(
            f"trial {trial.number}: complete, {', '.join(f'{m}={v:.5g}' for m, v in zip(self.settings.metrics, values, strict=True))}"
        )


def run_worker(
    name: str, storage: str | None = None, *, parallel: int | None = None, store: RunStore | None = None
) -> Progress:
    """Entry of `sweep worker`: join the sweep (lifting a stop request) and run trials until done."""
    worker = Worker(name, storage, store=store, parallel=parallel)
    if worker.stop_requested():
        worker.study.set_user_attr(RESUME_ATTR, time.time())
    return worker.run()
