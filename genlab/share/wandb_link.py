"""How a GenLab run maps to its W&B run: folders, mode, id, link or sync command, sync, export artifacts.

Torch-free, and wandb is imported only by the calls that talk to W&B, so pages can show a run's link or
its sync command cheaply. Every folder W&B writes (its cache, config, artifact staging, data dir) lies
under GENLAB_HOME/wandb/, and an offline run's files under the run folder (runs/<id>/wandb/), so one
storage folder holds everything and deleting a run deletes its W&B files.

The key is never read from or written to disk here: callers pass the user's key, and it reaches the
`wandb` process only through that process's environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from genlab.core.errors import GenLabError
from genlab.store.runs import Run, RunStore

SYNC_TIMEOUT_S = 900
_URL = re.compile(r"https?://\S+/runs/[A-Za-z0-9_.-]+")


def wandb_env(home: Path) -> dict[str, str]:
    """W&B's own folders, all under the GenLab home (W&B would otherwise use ~/.cache, ~/.config, /tmp)."""
    base = Path(home) / "wandb"
    env = {
        "WANDB_CACHE_DIR": base / "cache",
        "WANDB_CONFIG_DIR": base / "config",
        "WANDB_DATA_DIR": base / "data",
        "WANDB_ARTIFACT_DIR": base / "artifacts",
    }
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in env.items()}


def resolve_mode(mode: str, api_key: str | None) -> str:
    """off | online | offline: `auto` goes online only when this run's worker was handed a key."""
    if mode == "auto":
        return "online" if api_key else "offline"
    return mode


def wandb_run_id(run_id: str) -> str:
    """The W&B run id of a GenLab run (stable, so a resumed run continues the same W&B run)."""
    return run_id.replace("-", "")


def offline_dirs(run: Run) -> list[Path]:
    """The run's offline W&B folders, oldest first (a resumed run adds one per session)."""
    folder = run.folder / "wandb"
    return sorted(p for p in folder.glob("offline-run-*") if p.is_dir()) if folder.is_dir() else []


def needs_sync(run: Run) -> bool:
    return (
        bool(run.wandb)
        and run.wandb.get("mode") == "offline"
        and not run.wandb.get("synced")
        and bool(offline_dirs(run))
    )


def sync_command(run: Run) -> str:
    """The command that uploads an offline run to W&B (also what the Sync button runs)."""
    dirs = " ".join(str(p) for p in offline_dirs(run)) or str(run.folder / "wandb" / "offline-run-*")
    return f"wandb sync {dirs}"


def run_url(run: Run) -> str | None:
    """The W&B page of the run, once it is online or synced."""
    return run.wandb.get("url") or None


def sync(store: RunStore, run_id: str, api_key: str | None, timeout_s: float = SYNC_TIMEOUT_S) -> str:
    """Upload an offline run's W&B files with `wandb sync`, using this user's key; returns the run's URL."""
    run = store.get(run_id)
    dirs = offline_dirs(run)
    if not dirs:
        raise GenLabError(f"Run {run_id} has no offline W&B files to sync (its W&B mode was off or online).")
    if not api_key:
        raise GenLabError("Syncing needs your W&B API key: paste it on the Settings page (or set WANDB_API_KEY).")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(wandb_env(store.home), WANDB_API_KEY=api_key, WANDB_SILENT="true")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wandb", "sync", *map(str, dirs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise GenLabError(f"wandb sync did not finish within {timeout_s:.0f} s; check the network and retry.") from None
    output = (proc.stdout or "") + (proc.stderr or "")
    urls = _URL.findall(output)
    if proc.returncode != 0 or not urls:
        tail = "\n".join(output.strip().splitlines()[-5:]) or f"exit code {proc.returncode}"
        raise GenLabError(f"wandb sync failed: {tail}")
    store.merge_wandb(run_id, synced=True, url=urls[-1])
    return urls[-1]


def init_kwargs(run: Run, config: Any, mode: str) -> dict[str, Any]:
    """The arguments of wandb.init shared by the training run and its later export sessions."""
    return {
        "project": config.logging.wandb_project,
        "entity": config.logging.wandb_entity or None,
        "name": config.name or run.id,
        "id": wandb_run_id(run.id),
        "dir": str(run.folder),
        "mode": mode,
        "group": run.sweep_id or None,
        "tags": list(config.tags),
        "notes": config.notes or None,
    }


def checkpoint_artifact_name(run_id: str) -> str:
    return f"model-{wandb_run_id(run_id)}"


def log_export(store: RunStore, run_id: str, path: str | Path, fmt: str, api_key: str | None = None) -> bool:
    """Log an export (a file or folder) as a W&B artifact linked to the run's checkpoint artifact.

    Only for runs that logged to W&B. It is logged by the same W&B run that logged the checkpoint (so
    both are outputs of one run, also offline); online it also *uses* the checkpoint artifact, which
    draws the export -> checkpoint edge in W&B's lineage graph. Never raises: a W&B problem becomes a
    warning on the run and False.
    """
    run = store.get(run_id)
    if not run.wandb:
        return False
    try:
        import wandb

        config = store.load_config(run_id)
        mode = "online" if api_key and run.wandb.get("mode") == "online" else "offline"
        os.environ.update(wandb_env(store.home))
        kwargs = init_kwargs(run, config, mode)
        settings = wandb.Settings(silent=True, console="off", api_key=api_key or None, x_disable_stats=True)
        session = wandb.init(
            **kwargs, job_type="export", resume="allow" if mode == "online" else None, settings=settings
        )
        try:
            source = checkpoint_artifact_name(run_id)
            if mode == "online":
                session.use_artifact(f"{source}:latest")
            art = wandb.Artifact(
                f"export-{wandb_run_id(run_id)}-{fmt}",
                type="export",
                metadata={"format": fmt, "checkpoint_artifact": f"{source}:latest", "genlab_run": run_id},
            )
            p = Path(path)
            art.add_dir(str(p)) if p.is_dir() else art.add_file(str(p))
            session.log_artifact(art, aliases=["latest", fmt])
        finally:
            session.finish()
    except Exception as err:  # noqa: BLE001 - W&B must never break an export
        store.add_warning(run_id, f"W&B: the {fmt} export was not logged ({type(err).__name__}: {err})")
        return False
    return True
