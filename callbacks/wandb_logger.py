"""Mirrors a run into Weights & Biases from a background thread, so W&B never slows or breaks training.

One job: what the run store holds goes to the W&B run, with the same keys and steps. The training
thread only starts and stops a forwarder; the forwarder opens the W&B run (which may wait on the
network), then every `poll_s` reads what the store gained (metrics, sample grids, text samples) and
logs it: grids as images, text as tables of screened samples (genlab.safety.gate), and at the end the
checkpoints as a model artifact. A step is sent once the store has moved past it (or at the end), so
a step's metrics and samples land together and W&B's steps only go forward.

Anything W&B does wrong (bad key, no network, quota) becomes a line in the run's `warning` field and
the forwarder stops; training goes on. A resumed run continues the same W&B run, rewound to its
checkpoint's step, so the replayed steps are not shown twice.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
import wandb

from genlab.safety.gate import stored_text
from genlab.share.wandb_link import checkpoint_artifact_name, init_kwargs, wandb_env, wandb_run_id
from genlab.store.runs import RunStore

INIT_TIMEOUT_S = 60.0
TEXT_COLUMNS = ["step", "sample", "text", "flagged", "screener", "scores"]


class WandbCallback(L.Callback):
    def __init__(
        self,
        store: RunStore,
        run_id: str,
        config: Any,
        mode: str,
        *,
        resume_step: int | None = None,
        poll_s: float = 2.0,
        finish_timeout_s: float = 120.0,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.config = config
        self.mode = mode
        self.resume_step = resume_step
        self.poll_s = poll_s
        self.finish_timeout_s = finish_timeout_s
        self.api_key = os.environ.get("WANDB_API_KEY") or None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wb: Any = None
        self._metric_cursor = 0
        self._artifact_cursor = 0
        self._sent_step = -1  # the last step committed to W&B
        self._pending: dict[int, dict[str, Any]] = {}
        self._tables: dict[str, list[list[Any]]] = {}
        self.failed: str | None = None
        self._status = "completed"

    # -- the training thread: start and stop only -------------------------------------------------------

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self._thread is None:
            self._thread = threading.Thread(target=self._forward_loop, name="wandb-forwarder", daemon=True)
            self._thread.start()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._status = "failed"

    def close(self, status: str | None = None) -> None:
        """Send what is left, log the checkpoints, finish the W&B run; waits at most finish_timeout_s."""
        if self._thread is None:
            return
        self._status = status or self._status
        self._stop.set()
        self._thread.join(self.finish_timeout_s)
        if self._thread.is_alive():
            self._warn(
                f"W&B was still uploading {self.finish_timeout_s:.0f} s after training ended; the run's results "
                "are safe in GenLab. Offline files (if any) can be synced from the Run page."
            )
        self._thread = None

    # -- the forwarder thread -----------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        if self.api_key:
            message = message.replace(self.api_key, "***")
        self.failed = self.failed or message
        try:
            self.store.add_warning(self.run_id, message)
        except Exception:  # noqa: BLE001 - a busy database must not end the forwarder with an exception
            pass

    def _forward_loop(self) -> None:
        try:
            self._open()
        except Exception as err:  # noqa: BLE001 - any W&B failure: a warning, never a failed run
            self._warn(f"W&B could not start ({self.mode}): {type(err).__name__}: {err}. Training goes on without W&B.")
            return
        try:
            while not self._stop.wait(self.poll_s):
                self._forward(final=False)
            self._forward(final=True)
            self._log_checkpoints()
        except Exception as err:  # noqa: BLE001
            self._warn(f"W&B logging stopped: {type(err).__name__}: {err}. Training goes on without W&B.")
        finally:
            try:
                self._wb.finish(exit_code=0 if self._status != "failed" else 1)
            except Exception as err:  # noqa: BLE001
                self._warn(f"W&B did not finish cleanly: {type(err).__name__}: {err}")

    def _open(self) -> None:
        run = self.store.get(self.run_id)
        if self.mode == "online" and not self.api_key:
            self._warn(
                "W&B online was asked but no API key reached this run (set yours on the Settings page, or "
                "WANDB_API_KEY for the CLI); logging offline instead: sync it from the Run page."
            )
            self.mode = "offline"
        os.environ.update(wandb_env(self.store.home))
        previous = run.wandb.get("last_step")
        kwargs = init_kwargs(run, self.config, self.mode)
        if self.resume_step is not None and previous is not None:
            # Rewind the W&B run to the checkpoint: its history after that step is dropped, the steps the
            # store replays are logged once. (W&B applies the rewind online, or when offline files sync.)
            rewind = min(int(previous), self.resume_step)
            self._sent_step = rewind
            kwargs["resume_from"] = f"{wandb_run_id(self.run_id)}?_step={rewind}"
        else:
            kwargs["resume"] = "allow" if self.mode == "online" else None
        settings = wandb.Settings(
            silent=True, console="off", init_timeout=INIT_TIMEOUT_S, api_key=self.api_key, finish_timeout=60
        )
        self._wb = wandb.init(**kwargs, config=self.config.model_dump(mode="json"), settings=settings)
        info: dict[str, Any] = {"mode": self.mode, "id": self._wb.id, "project": self._wb.project}
        if self.mode == "online":
            info["url"] = self._wb.url
            info["entity"] = self._wb.entity
        else:
            info["dir"] = str(Path(self._wb.dir).parent)
        self.store.merge_wandb(self.run_id, **info)

    def _forward(self, final: bool) -> None:
        """Log what the store gained since the last call; a step waits until the store has moved past it."""
        rows, self._metric_cursor = self.store.metrics_since(self.run_id, self._metric_cursor)
        for r in rows:
            if r["step"] > self._sent_step:
                self._pending.setdefault(int(r["step"]), {})[r["key"]] = r["value"]
        arts = [
            a
            for a in self.store.artifacts(self.run_id)
            if a["id"] > self._artifact_cursor and a["kind"] in ("samples", "text") and a["step"] is not None
        ]
        if arts:
            self._artifact_cursor = max(a["id"] for a in arts)
        for a in arts:
            if a["step"] > self._sent_step and Path(a["path"]).exists():
                self._pending.setdefault(int(a["step"]), {})[f"__{a['kind']}/{a['name']}"] = (a["path"], a["meta"])
        if not self._pending:
            return
        latest, sent = max(self._pending), self._sent_step
        for step in sorted(self._pending):
            if step == latest and not final:
                break  # more of this step may still come (its samples, its validation)
            self._wb.log(self._payload(step, self._pending.pop(step)), step=step)
            self._sent_step = step
        if self._sent_step != sent:
            self.store.merge_wandb(self.run_id, last_step=self._sent_step)

    def _payload(self, step: int, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key.startswith("__samples/"):
                name = key.split("/", 1)[1]
                out[f"samples/{name}"] = wandb.Image(value[0], caption=f"{name}, step {step}")
            elif key.startswith("__text/"):
                name = key.split("/", 1)[1]
                # The gate's decision when the sample was made: a withheld sample's file holds the
                # notice, and screening that notice again would call it unflagged with its own scores.
                sample = stored_text(Path(value[0]).read_text(encoding="utf-8", errors="replace"), value[1])
                rows = self._tables.setdefault(name, [])
                rows.append([step, name, sample.text, sample.flagged, sample.screener, sample.scores])
                # A table holds every sample so far: the latest one in W&B shows the whole history.
                out[f"text/{name}"] = wandb.Table(columns=TEXT_COLUMNS, data=[list(r) for r in rows])
            elif value is not None:
                out[key] = value
        return out

    def _log_checkpoints(self) -> None:
        folder = self.store.run_folder(self.run_id) / "checkpoints"
        files = sorted(p for p in folder.glob("*.ckpt") if p.is_file())
        if not files:
            return
        run = self.store.get(self.run_id)
        art = wandb.Artifact(
            checkpoint_artifact_name(self.run_id),
            type="model",
            metadata={
                "family": run.family,
                "monitor": run.monitor,
                "best_value": run.best_value,
                "step": run.step,
                "genlab_run": self.run_id,
            },
        )
        for path in files:
            art.add_file(str(path), name=path.name)
        self._wb.log_artifact(art, aliases=["latest", f"step-{run.step}"])
        self.store.merge_wandb(self.run_id, checkpoint_artifact=f"{art.name}:step-{run.step}", finished_at=time.time())
