"""Build the Lightning Trainer from a run's config and fit; also the pre-flight estimate.

Everything a run needs comes from its config: accelerator, precision, devices/strategy/num_nodes
(scale-out is Lightning's own DDP), checkpointing (best by the family's metric + last), early stopping,
gradient clipping and accumulation, and the callbacks that feed the run store.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from callbacks.checkpoint_metrics import KEY as STEP_METRICS_KEY
from callbacks.checkpoint_metrics import CheckpointStepMetrics
from callbacks.epoch_checkpoint import EpochEndLastCheckpoint, StepLastCheckpoint
from callbacks.final_validation import FinalValidation
from callbacks.nan_guard import NaNGuard
from callbacks.progress import ProgressCallback
from callbacks.resume_step import ResumeAtSavedStep, batches_done_in
from callbacks.samples import SamplesCallback
from callbacks.steps import BatchLimit, lightning_max_steps
from callbacks.store_logger import RunStoreLogger
from callbacks.sweep_trial import SweepTrialCallback
from callbacks.wandb_logger import WandbCallback
from genlab.core.atomic import remove_stale_temps
from genlab.core.checkpoint_files import find_resume_checkpoint
from genlab.core.config import RunConfig
from genlab.core.registry import Family, get_family
from genlab.runner.build import build_datamodule, module_class
from genlab.runner.checkpoint_io import AtomicCheckpointIO
from genlab.runner.cpu_memory import keep_freed_memory
from genlab.safety.data_screen import screened_copy
from genlab.share.wandb_link import resolve_mode
from genlab.store.runs import RunStore


def resolve_precision(config: RunConfig) -> str:
    """auto -> bf16-mixed on GPUs that support it, else full fp32."""
    p = config.trainer.precision
    if p != "auto":
        return "32-true" if p == "32" else p
    if config.trainer.accelerator != "cpu" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def build_module(config: RunConfig, data_info: dict[str, Any]) -> L.LightningModule:
    """The family's module, handed the parsed config (it is stored in the checkpoint as primitives)."""
    module = module_class(get_family(config.family))(config, data_info)
    if config.trainer.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module


def prepare(config: RunConfig) -> tuple[Family, L.LightningDataModule, L.LightningModule]:
    """Data module set up (so its shapes are known) and the module built from config + data info."""
    family = get_family(config.family)
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    module = build_module(config, datamodule.info())
    return family, datamodule, module


def build_trainer(
    config: RunConfig,
    family: Family,
    store: RunStore | None,
    run_id: str | None,
    extra_callbacks: list[L.Callback] | None = None,
    manual_optimization: bool = False,
    resume_step: int | None = None,
    owner_pid: int | None = None,
    stop_event: threading.Event | None = None,
) -> L.Trainer:
    """Manual-optimization modules (GANs) clip and accumulate themselves, so the Trainer must not.

    owner_pid: the worker that owns the run; progress writes stop training once it no longer does.
    """
    t = config.trainer
    callbacks: list[L.Callback] = [ResumeAtSavedStep(), NaNGuard()]  # first: the others read the step
    if manual_optimization and t.max_steps > 0:
        callbacks.append(BatchLimit(t.max_steps))
    callbacks.append(FinalValidation())  # after BatchLimit: it reads the stop that BatchLimit sets
    loggers: list[Any] = []
    ckpt_dir: Path | None = None
    if store is not None and run_id is not None:
        ckpt_dir = store.run_folder(run_id) / "checkpoints"
        loggers.append(RunStoreLogger(store, run_id))
        callbacks += [
            ProgressCallback(store, run_id, owner_pid=owner_pid, stop_event=stop_event),
            SamplesCallback(store, run_id, config.logging.sample_every_n_steps),
            CheckpointStepMetrics(),
        ]
        callbacks.append(
            ModelCheckpoint(
                dirpath=ckpt_dir,
                filename="best-step{step}",
                monitor=family.monitor,
                mode=family.mode,
                save_top_k=1,
                auto_insert_metric_name=False,
            )
        )
        # last.ckpt every n steps, or at each epoch end when no step interval is set (a run killed mid-way
        # must always have a last checkpoint to resume from).
        every = t.checkpoint_every_n_steps
        if every:
            callbacks.append(StepLastCheckpoint(ckpt_dir / "last.ckpt", every))
        else:
            callbacks.append(EpochEndLastCheckpoint(ckpt_dir / "last.ckpt"))
        trial = SweepTrialCallback.for_run(store, run_id)  # a sweep trial: pruned at its own validations
        if trial is not None:
            callbacks.append(trial)
        mode = resolve_mode(config.logging.wandb, os.environ.get("WANDB_API_KEY"))
        if mode != "off":
            callbacks.append(WandbCallback(store, run_id, config, mode, resume_step=resume_step))
    if t.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=family.monitor, mode=family.mode, patience=t.early_stopping_patience))
    callbacks += extra_callbacks or []
    kwargs: dict[str, Any] = {}
    if not manual_optimization:
        kwargs["gradient_clip_val"] = t.gradient_clip_val or None
        kwargs["accumulate_grad_batches"] = t.accumulate_grad_batches
    return L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices
        if t.devices != "auto"
        else ("auto" if t.accelerator != "cpu" and torch.cuda.is_available() else 1),
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=resolve_precision(config),
        deterministic=t.deterministic,
        max_epochs=t.max_epochs,
        max_steps=lightning_max_steps(t.max_steps, t.accumulate_grad_batches, manual_optimization),
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        check_val_every_n_epoch=t.val_every_n_epochs,
        log_every_n_steps=t.log_every_n_steps,
        logger=loggers or False,
        callbacks=callbacks,
        enable_checkpointing=ckpt_dir is not None,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,  # our batch samplers shard by rank themselves
        default_root_dir=str(ckpt_dir.parent) if ckpt_dir else None,
        plugins=[AtomicCheckpointIO()],
        **kwargs,
    )


def checkpoint_step(path: Path) -> int:
    """The logging step (batches done) saved in a Lightning checkpoint; metrics are keyed by it.

    Falls back to global_step, which equals it under automatic optimisation.
    """
    return _checkpoint_step_of(torch.load(path, map_location="cpu", weights_only=True, mmap=True))


def _checkpoint_step_of(ckpt: dict[str, Any]) -> int:
    done = batches_done_in(ckpt)
    if done is not None:
        return max(0, done - 1)  # batch k logs at step k - 1: the last step this checkpoint holds
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"])
    except (KeyError, TypeError):
        return int(ckpt.get("global_step", 0))


def screened_data(config: RunConfig, store: RunStore, run_id: str) -> RunConfig:
    """With safety.drop_flagged_data, train on a copy of the corpus without its flagged lines (written to
    runs/<id>/data/ with the screening report, recorded as an artifact)."""
    safety = getattr(config, "safety", None)
    if safety is None or not safety.drop_flagged_data:
        return config
    folder = store.run_folder(run_id) / "data"
    data, report = screened_copy(config.data, safety, folder)
    store.add_artifact(
        run_id,
        "data_screen",
        folder / "screen_report.json",
        name="data_screen",
        meta=report.to_dict() | {"examples": []},
    )
    return config.model_copy(update={"data": data})


def _restore_store_to(store: RunStore, run_id: str, path: Path) -> None:
    """Drop what was logged after the checkpoint's step and write back the step's own metrics (carried in
    the checkpoint), so the resumed series has every step exactly once."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    step = _checkpoint_step_of(ckpt)
    store.truncate_after(run_id, step)
    carried = ckpt.get(STEP_METRICS_KEY)
    if isinstance(carried, dict) and carried.get("step") == step and carried.get("values"):
        store.log_metrics(run_id, step, dict(carried["values"]), carried.get("epoch"))


def fit(
    store: RunStore,
    run_id: str,
    *,
    resume: bool = False,
    config: RunConfig | None = None,
    owner_pid: int | None = None,
    stop_event: threading.Event | None = None,
) -> str:
    """Train a run of the store in this process; returns the final status (completed, cancelled or pruned:
    a sweep's pruner stopped it at a validation), or 'lost' when the run stopped being this worker's (force-stopped, resumed elsewhere, deleted)."""
    return fit_module(store, run_id, resume=resume, config=config, owner_pid=owner_pid, stop_event=stop_event)[0]


def fit_module(
    store: RunStore,
    run_id: str,
    *,
    resume: bool = False,
    config: RunConfig | None = None,
    owner_pid: int | None = None,
    stop_event: threading.Event | None = None,
) -> tuple[str, L.LightningModule]:
    """Like fit, and also returns the trained module (tests compare it with its reloaded checkpoint)."""
    config = screened_data(config or store.load_config(run_id), store, run_id)
    keep_freed_memory()  # no page faults on every step's activations (see genlab/runner/cpu_memory.py)
    L.seed_everything(config.seed, workers=True, verbose=False)
    family, datamodule, module = prepare(config)
    ckpt_path = None
    resume_step = None
    folder = store.run_folder(run_id) / "checkpoints"
    last = folder / "last.ckpt"
    rank_zero = int(os.environ.get("RANK", "0")) == 0
    if resume:
        if rank_zero:
            remove_stale_temps(folder)
        point = find_resume_checkpoint(folder)
        if point is not None:
            ckpt_path = str(point.path)
            resume_step = checkpoint_step(point.path)
            print(f"Run {run_id}: {point.describe()}", flush=True)
            if rank_zero:
                _restore_store_to(store, run_id, point.path)
    trainer = build_trainer(
        config,
        family,
        store,
        run_id,
        manual_optimization=not module.automatic_optimization,
        resume_step=resume_step,
        owner_pid=owner_pid,
        stop_event=stop_event,
    )
    tracker = next((c for c in trainer.callbacks if isinstance(c, WandbCallback)), None)
    model = torch.compile(module) if config.trainer.compile else module
    progress = next(c for c in trainer.callbacks if isinstance(c, ProgressCallback))
    status = "failed"
    try:
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        except SIGTERMException:
            # Lightning turns a SIGTERM into this exception at the epoch end; for a worker asked to stop
            # (the supervisor forwards SIGTERM) it is a cancel, and the step's state is still saved below.
            if stop_event is None or not stop_event.is_set():
                raise
            progress.cancelled = True
        if progress.lost:
            status = "lost"
            return status, module  # the folder may be another worker's now: write nothing more
        trainer.save_checkpoint(last)  # last.ckpt is the final state, also when the step schedule saved earlier
        best = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
        if best is not None and best.best_model_score is not None and trainer.is_global_zero:
            store.update(run_id, best_value=float(best.best_model_score))  # every ending has its last validation
        trial = next((c for c in trainer.callbacks if isinstance(c, SweepTrialCallback)), None)
        if trial is not None and trial.pruned_at is not None:
            status = "pruned"
        elif progress.cancelled:
            status = "cancelled"
        else:
            status = "completed"
        return status, module
    finally:
        if tracker is not None:  # after the final checkpoint and best value, so W&B gets both
            tracker.close(status)


def estimate(config: RunConfig, steps: int = 3) -> dict[str, Any]:
    """Pre-flight: parameter count, rough memory, and seconds per step measured on a few real steps."""
    family, datamodule, module = prepare(config)
    params = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    n_batches = len(datamodule.train_dataloader())
    trial = config.model_copy(deep=True)
    trial.trainer = trial.trainer.model_copy(update={"max_steps": steps + 1, "max_epochs": 1, "limit_val_batches": 0})
    timer = _StepTimer()
    trainer = build_trainer(trial, family, None, None, [timer], manual_optimization=not module.automatic_optimization)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, datamodule=datamodule)
    per_step = timer.seconds_per_step()
    # The peak of real steps (activations included), not a parameter-count guess: the process's peak
    # resident memory (the estimate runs in a child process, as a worker would) and, on a GPU, its peak.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_peak_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    available_mb = available_memory_mb()
    limit = config.trainer.limit_train_batches
    steps_per_epoch = min(n_batches, limit) if limit else n_batches
    return {
        "parameters": params,
        "trainable_parameters": trainable,
        "weights_mb": params * 4 / 1e6,
        "train_memory_mb_estimate": params * 16 / 1e6,  # weights + grads + Adam's two moments, fp32
        "peak_memory_mb": peak_mb,
        "gpu_peak_memory_mb": gpu_peak_mb,
        "available_memory_mb": available_mb,
        "fits_in_memory": available_mb is None or peak_mb * 1.1 < available_mb,
        "seconds_per_step": per_step,
        "steps_per_epoch": steps_per_epoch,
        "seconds_per_epoch": per_step * steps_per_epoch if per_step else None,
        "data": datamodule.info(),
    }


def available_memory_mb() -> float | None:
    """RAM a new worker can still use: MemAvailable, capped by this cgroup's limit when there is one."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            room = (int(limit) - used) / 2**20
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail


class _StepTimer(L.Callback):
    """Times training steps after the first (which pays one-off warm-up costs)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def on_train_batch_start(self, *args: Any) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.times.append(time.perf_counter() - self._t)

    def seconds_per_step(self) -> float | None:
        times = self.times[1:] or self.times
        return sum(times) / len(times) if times else None
