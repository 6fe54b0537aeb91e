"""A sweep's storage, settings, sampler and pruner: what a worker and a trial's own process both read.

Kept apart from study.py (which starts runs through genlab.runner.jobs) so the trial's training process
can load its study and ask the pruner at each validation without importing the job machinery.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.paths import genlab_home
from genlab.sweeps.space import Param, parse_space

ATTR = "genlab"  # the study user attr holding the sweep's settings

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Heartbeats and the stale-trial retry are marked experimental in Optuna 5; they are what we rely on.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# Our workers beat for their ask/tell trials themselves (Worker._beat), so Optuna's hint does not apply.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def heartbeat_s() -> int:
    """How often a worker marks its trials alive (GENLAB_SWEEP_HEARTBEAT_S, default 10 s)."""
    return _env_int("GENLAB_SWEEP_HEARTBEAT_S", 10)


def grace_s() -> int:
    """Silence after which a trial's worker counts as dead and the trial is retried (default 6 heartbeats)."""
    return _env_int("GENLAB_SWEEP_GRACE_S", 6 * heartbeat_s())


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return max(1, int(text))
    except ValueError:
        raise GenLabError(f"{name} must be a whole number of seconds, got {text!r}") from None


def default_storage() -> str:
    return f"sqlite:///{genlab_home() / 'sweeps.db'}"


def safe_url(url: str) -> str:
    """A storage URL fit to print: the password hidden."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def dashboard_command(storage: str | None = None) -> str:
    """The command that opens the study in optuna-dashboard (installed with GenLab)."""
    return f"optuna-dashboard {safe_url(storage or default_storage())}"


def open_storage(url: str | None = None) -> RDBStorage:
    """The study database, heart-beating so a dead worker's trial is retried (twice at most)."""
    url = url or default_storage()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    try:
        return RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=heartbeat_s(),
            grace_period=grace_s(),
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
        )
    except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL or a down server
        detail = str(err).split("(Background on this error")[0].strip().replace(url, safe_url(url))
        raise GenLabError(
            f"Cannot open the sweep storage {safe_url(url)}: {detail}\n"
            "Check the URL (e.g. postgresql+psycopg://user:pw@host/db or sqlite:////path/sweeps.db) and that "
            "the database server is running."
        ) from None


# -- the sweep's settings --------------------------------------------------------------------------


@dataclass
class SweepSettings:
    """Everything a worker needs to run trials; stored as the study's `genlab` user attr."""

    name: str
    config: dict[str, Any]
    space: dict[str, Any]
    n_trials: int
    parallel: int = 1
    sampler: str = "tpe"
    pruner: str = "median"
    metrics: list[str] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)

    @property
    def family(self) -> str:
        return str(self.config["family"])

    def run_config(self) -> RunConfig:
        return parse_config(self.config)

    def params(self) -> list[Param]:
        return parse_space(self.run_config(), self.space)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_sampler(settings: SweepSettings) -> optuna.samplers.BaseSampler:
    seed = settings.seed
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler({p.path: p.grid_values() for p in settings.params()}, seed=seed)
    if settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, settings.n_trials // 4)))


def validations_per_trial(config: RunConfig) -> int:
    """How many validations (pruning steps) a full trial reports: its epochs / the validation interval."""
    return max(1, config.trainer.max_epochs // max(1, config.trainer.val_every_n_epochs))


def build_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, settings.n_trials // 4)), n_warmup_steps=1)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=validations_per_trial(settings.run_config()), reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def load(name: str, storage: str | None = None, rdb: RDBStorage | None = None) -> tuple[optuna.Study, SweepSettings]:
    """The study and its settings, or a clear error listing the sweeps that exist."""
    rdb = rdb or open_storage(storage)
    try:
        study = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(rdb)]
        raise GenLabError(
            f"No sweep named {name!r} in {safe_url(storage or default_storage())}"
            + (f"; sweeps there: {', '.join(names)}" if names else "; it holds no sweeps yet")
        ) from None
    raw = study.user_attrs.get(ATTR)
    if not isinstance(raw, dict):
        raise GenLabError(f"Study {name!r} was not created by GenLab (it has no sweep settings)")
    settings = SweepSettings(**raw)
    study.sampler = build_sampler(settings)
    study.pruner = build_pruner(settings)
    return study, settings
