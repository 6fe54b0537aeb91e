"""Optuna sweeps: every trial is a normal GenLab run, pruned at its own validations.

A sweep is an Optuna study in an RDB storage (SQLite under GENLAB_HOME by default, any SQLAlchemy URL
with --storage). The study's user attrs hold what every worker needs (base config, space, budget,
objective, sampler, pruner), so `python -m genlab sweep worker --study NAME --storage URL` on any
machine joins it. A worker keeps K trials in flight: for each it asks Optuna for values and starts the
run with genlab.runner.jobs (its own process, linked by sweep_id = study name and trial_id = trial
number, handed the storage URL through its environment only). The run's own process reports every
validation to the study and asks the pruner there, before its next training batch
(callbacks/sweep_trial.py), so the same seed, space and budget prune the same trials at the same
validations on a fast, slow or loaded machine; a pruned run ends `pruned` with its checkpoints.
Faults: a run that fails makes its trial FAIL and the sweep goes on; a worker killed mid-trial stops
heart-beating, the next worker marks the trial FAIL and Optuna's RetryFailedTrialCallback queues it
again; completed trials are never redone.

A trial records `run_id`, `host` and `genlab_home` as user attrs, so the study links every trial back to
its run: with a team store (GENLAB_DB_URL, one PostgreSQL for every machine) all trials' runs are in the
one store and `sweep show` gives each one's run status, whichever machine ran it; with per-machine SQLite
stores a machine sees the status of the runs it holds.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from genlab.core.config import ConfigError, RunConfig
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.paths import genlab_home
from genlab.core.procs import spawn_detached
from genlab.core.registry import get_family
from genlab.data.preflight import validation_note
from genlab.metrics.config import ImageMetricsConfig
from genlab.runner import jobs
from genlab.store.runs import Run, RunStore
from genlab.sweeps.space import Param, apply_params, parse_space
from genlab.sweeps.storage import ATTR as ATTR
from genlab.sweeps.storage import SweepSettings as SweepSettings
from genlab.sweeps.storage import build_pruner as build_pruner
from genlab.sweeps.storage import build_sampler as build_sampler
from genlab.sweeps.storage import dashboard_command as dashboard_command
from genlab.sweeps.storage import default_storage as default_storage
from genlab.sweeps.storage import grace_s as grace_s
from genlab.sweeps.storage import heartbeat_s as heartbeat_s
from genlab.sweeps.storage import load as load
from genlab.sweeps.storage import open_storage as open_storage
from genlab.sweeps.storage import safe_url as safe_url
from genlab.sweeps.storage import validations_per_trial as validations_per_trial

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
STOP_ATTR = "genlab_stop_requested_at"  # `sweep stop` sets it; a worker started later sets RESUME_ATTR
RESUME_ATTR = "genlab_resumed_at"
# Cheap per-epoch quality estimate for GAN trials: KID is unbiased at small sample counts, FID is not.
GAN_ESTIMATE_SAMPLES = 256


def _valid_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", name or ""):
        raise ConfigError(
            f"Sweep name {name!r}: use 1-81 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        )
    return name


def uses_image_metrics(config: RunConfig) -> bool:
    """Families whose quality is measured on samples (the GANs) need a cheap per-epoch estimate."""
    return isinstance(getattr(config, "metrics", None), ImageMetricsConfig)


def trial_base(config: RunConfig) -> tuple[RunConfig, list[str]]:
    """The config every trial starts from, with what the sweep changed and why (said to the user)."""
    if not uses_image_metrics(config):
        return config, []
    m = config.metrics
    samples = min(m.fid_samples, GAN_ESTIMATE_SAMPLES)
    metrics = m.model_copy(
        update={"fid_every_n_epochs": 1, "fid_samples": samples, "kid_subset_size": min(m.kid_subset_size, samples)}
    )
    trainer = config.trainer.model_copy(update={"val_every_n_epochs": 1})
    out = config.model_copy(update={"metrics": metrics, "trainer": trainer})
    note = (
        f"GAN trials validate every epoch with a cheap estimate: KID on {samples} samples "
        f"({m.features} features) is what trials are compared and pruned on; train the best config for "
        f"a full {m.fid_samples}-sample FID."
    )
    return parse_config(out), [note]


def default_objective(config: RunConfig) -> tuple[str, str]:
    """The family's monitored metric and direction; GAN sweeps compare the per-epoch KID estimate."""
    if uses_image_metrics(config):
        return "val/kid", "min"
    family = get_family(config.family)
    return family.monitor, family.mode


def _direction(d: str) -> str:
    d = d.lower()
    if d in ("min", "minimize"):
        return "minimize"
    if d in ("max", "maximize"):
        return "maximize"
    raise ConfigError(f"Invalid sweep: direction {d!r}; use min or max")


def make_settings(
    config: RunConfig | dict[str, Any],
    *,
    n_trials: int,
    name: str | None = None,
    space: dict[str, Any] | None = None,
    parallel: int = 1,
    sampler: str = "tpe",
    pruner: str | None = None,
    metrics: list[str] | None = None,
    directions: list[str] | None = None,
    seed: int | None = None,
) -> SweepSettings:
    """Validate everything a sweep needs before anything starts; errors name what to fix."""
    config = parse_config(config)
    family = get_family(config.family)
    base, notes = trial_base(config)
    space = dict(space if space is not None else family.sweep_space)
    params = parse_space(base, space)
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"Invalid sweep: the trial budget must be at least 1 (got {n_trials!r})")
    if parallel < 1:
        raise ConfigError(f"Invalid sweep: parallel must be at least 1 (got {parallel})")
    if sampler not in SAMPLERS:
        raise ConfigError(f"Invalid sweep: sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    metric, mode = default_objective(base)
    metrics = list(metrics or [metric])
    if note := validation_note(base, metrics[0]):  # said before the start: such trials can only fail
        notes.append(note)
    if directions:
        dirs = [_direction(d) for d in directions]
    else:
        dirs = [_direction(mode)] if metrics == [metric] else []
    if len(dirs) != len(metrics):
        raise ConfigError(
            f"Invalid sweep: give one direction (min or max) per metric: {len(metrics)} metric(s), {len(dirs)} direction(s)"
        )
    for m in metrics:
        if not re.fullmatch(r"[A-Za-z0-9_.]+/[A-Za-z0-9_.\-]+", m):
            raise ConfigError(f"Invalid sweep: metric {m!r} must look like stage/name, e.g. val/loss")
    multi = len(metrics) > 1
    pruner = pruner or ("none" if multi else "median")
    if pruner not in PRUNERS:
        raise ConfigError(f"Invalid sweep: pruner {pruner!r}; choose one of: {', '.join(PRUNERS)}")
    if multi and pruner != "none":
        raise ConfigError("Invalid sweep: Optuna cannot prune a multi-objective sweep; use --pruner none")
    if multi and sampler == "cmaes":
        raise ConfigError("Invalid sweep: CMA-ES optimises one objective; use tpe, random or grid with several metrics")
    if sampler == "grid":
        size = math.prod(len(p.grid_values()) for p in params)
        if n_trials > size:
            notes.append(f"The grid has {size} points, so the budget is {size} trials, not {n_trials}.")
            n_trials = size
    if sampler == "cmaes" and any(p.kind == "categorical" for p in params):
        notes.append("CMA-ES searches numbers only: the categorical knobs are sampled at random.")
    limit = jobs.max_concurrent()
    if parallel > limit:
        notes.append(f"Each worker runs at most {limit} trial(s) at once: the job limit (GENLAB_MAX_JOBS) is {limit}.")
    if name is None:
        name = f"{config.family}-{time.strftime('%Y%m%d-%H%M%S')}"
    return SweepSettings(
        name=_valid_name(name),
        config=base.model_dump(mode="json"),
        space={p.path: p.to_spec() for p in params},
        n_trials=n_trials,
        parallel=parallel,
        sampler=sampler,
        pruner=pruner,
        metrics=metrics,
        directions=dirs,
        seed=seed,
        notes=notes,
    )


def distributions(params: list[Param]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        if p.kind == "categorical":
            out[p.path] = CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            out[p.path] = IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        else:
            out[p.path] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return out


# -- creating, listing, stopping -------------------------------------------------------------------


def create(settings: SweepSettings, storage: str | None = None) -> optuna.Study:
    """Create the study holding the sweep's settings (the name must be new in that storage)."""
    rdb = open_storage(storage)
    try:
        study = optuna.create_study(
            storage=rdb,
            study_name=settings.name,
            directions=settings.directions,
            sampler=build_sampler(settings),
            pruner=build_pruner(settings),
        )
    except optuna.exceptions.DuplicatedStudyError:
        raise GenLabError(
            f"A sweep named {settings.name!r} already exists in {safe_url(storage or default_storage())}; "
            f"pick another name, or resume it with: python -m genlab sweep worker --study {settings.name}"
        ) from None
    study.set_user_attr(ATTR, settings.to_dict())
    return study


def launch_worker(name: str, storage: str | None = None, parallel: int | None = None) -> int:
    """Start `python -m genlab sweep worker` in the background; returns its pid (log under sweeps/)."""
    logs = genlab_home() / "sweeps"
    logs.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "genlab", "sweep", "worker", "--study", name]
    if storage:
        cmd += ["--storage", storage]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    env = dict(os.environ, GENLAB_HOME=str(genlab_home()))
    proc = spawn_detached(cmd, logs / f"{name}.log", env)
    return proc.pid


def start(settings: SweepSettings, storage: str | None = None) -> int:
    """Create the sweep and start one background worker for it; returns the worker's pid."""
    create(settings, storage)
    return launch_worker(settings.name, storage)


def stop_requested(study: optuna.Study) -> bool:
    attrs = study.user_attrs
    return attrs.get(STOP_ATTR, 0) > attrs.get(RESUME_ATTR, 0)


def stop(name: str, storage: str | None = None) -> None:
    """Ask every worker of the sweep to cancel its trials' runs and end; `sweep worker` resumes it."""
    study, _ = load(name, storage)
    study.set_user_attr(STOP_ATTR, time.time())


@dataclass
class Progress:
    """Trial counts of a sweep and what it is doing."""

    name: str
    family: str
    n_trials: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    retried: int = 0
    running: int = 0
    waiting: int = 0
    stopped: bool = False
    best_value: float | list[float] | None = None
    created_at: float = 0.0

    @property
    def used(self) -> int:
        """Trials that count against the budget (a failed trial that was retried is replaced by its retry)."""
        return self.complete + self.pruned + (self.failed - self.retried) + self.running + self.waiting

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed - self.retried

    @property
    def state(self) -> str:
        if self.running:
            return "stopping" if self.stopped else "running"
        if self.done >= self.n_trials and not self.waiting:
            return "finished"
        return "stopped" if self.stopped else "idle"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"state": self.state, "done": self.done}


def progress(study: optuna.Study, settings: SweepSettings, trials: list[FrozenTrial] | None = None) -> Progress:
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    p = Progress(settings.name, settings.family, settings.n_trials, created_at=settings.created_at)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    for t in trials:
        if t.state == TrialState.COMPLETE:
            p.complete += 1
        elif t.state == TrialState.PRUNED:
            p.pruned += 1
        elif t.state == TrialState.FAIL:
            p.failed += 1
            p.retried += t.number in retried
        elif t.state == TrialState.RUNNING:
            p.running += 1
        elif t.state == TrialState.WAITING:
            p.waiting += 1
    p.stopped = stop_requested(study)
    if p.complete:
        try:
            p.best_value = study.best_value if len(settings.metrics) == 1 else None
        except ValueError:
            p.best_value = None
    return p


def list_sweeps(storage: str | None = None) -> list[Progress]:
    """Every GenLab sweep in the storage, newest first."""
    rdb = open_storage(storage)
    out = []
    for summary in optuna.get_all_study_summaries(rdb, include_best_trial=False):
        raw = summary.user_attrs.get(ATTR)
        if not isinstance(raw, dict):
            continue
        settings = SweepSettings(**raw)
        study = optuna.load_study(study_name=summary.study_name, storage=rdb)
        out.append(progress(study, settings))
    return sorted(out, key=lambda p: p.created_at, reverse=True)


# -- reading a sweep back --------------------------------------------------------------------------


def trial_rows(study: optuna.Study, settings: SweepSettings, store: RunStore | None = None) -> list[dict[str, Any]]:
    """One row per trial: state, params, value(s), pruned at which validation, its run and the run's status."""
    statuses = (
        {}
        if store is None
        else store.run_statuses(t.user_attrs.get("run_id") for t in study.get_trials(deepcopy=False))
    )
    rows = []
    for t in study.get_trials(deepcopy=False):
        run_id = t.user_attrs.get("run_id")
        run_status = statuses.get(run_id) if run_id else None
        values = t.values or []
        row: dict[str, Any] = {
            "trial": t.number,
            "state": t.state.name.lower(),
            "value": values[0] if len(values) == 1 else (list(values) if values else None),
            "pruned_at": t.user_attrs.get("pruned_at"),
            "validations": len(t.intermediate_values),
            "run_id": run_id,
            "run_status": run_status,
            "host": t.user_attrs.get("host"),
            "error": t.user_attrs.get("error"),
            "retry_of": (t.system_attrs.get("retry_history") or [None])[-1],
            "duration_s": (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None,
        }
        row.update({f"param:{k}": v for k, v in t.params.items()})
        rows.append(row)
    return rows


def best_trials(study: optuna.Study, settings: SweepSettings, n: int = 3) -> list[FrozenTrial]:
    """The n best completed trials (single objective), or the Pareto front (several objectives)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    if len(settings.directions) > 1:
        return list(study.best_trials)[:n]
    sign = -1.0 if settings.directions[0] == "maximize" else 1.0
    return sorted(done, key=lambda t: sign * t.values[0])[:n]


def best_config(name: str, storage: str | None = None) -> tuple[RunConfig, FrozenTrial]:
    study, settings = load(name, storage)
    best = best_trials(study, settings, 1)
    if not best:
        raise GenLabError(f"Sweep {name!r} has no completed trial yet")
    config = apply_params(parse_config(settings.config), best[0].params)
    return config, best[0]


def train_best(name: str, storage: str | None = None, store: RunStore | None = None) -> Run:
    """A normal run of the best trial's config, linked to the sweep (sweep_id, parent = the trial's run)."""
    store = store or RunStore()
    config, trial = best_config(name, storage)
    config = config.model_copy(update={"name": f"{name}-best", "tags": [*config.tags, f"sweep:{name}", "sweep-best"]})
    parent = trial.user_attrs.get("run_id")
    parent = parent if parent and store.exists(parent) else None
    return jobs.start(config, store, parent_id=parent, sweep_id=name)


def figures(study: optuna.Study, settings: SweepSettings) -> dict[str, Any]:
    """Optuna's plotly figures for the sweep (those its trials allow so far)."""
    from optuna import visualization as vis

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    out: dict[str, Any] = {}
    multi = len(settings.directions) > 1
    target = (lambda t: t.values[0]) if multi else None
    name = settings.metrics[0]
    if done:
        out["history"] = vis.plot_optimization_history(study, target=target, target_name=name)
        out["parallel coordinates"] = vis.plot_parallel_coordinate(study, target=target, target_name=name)
        if len(done) >= 2 and len(settings.space) >= 2:
            try:
                out["importance"] = vis.plot_param_importances(study, target=target, target_name=name)
            except (ValueError, RuntimeError):
                pass  # importance needs variety among the completed trials
        if multi:
            out["pareto front"] = vis.plot_pareto_front(study, target_names=settings.metrics)
    if not multi and any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        out["intermediate values"] = vis.plot_intermediate_values(study)
    return out
