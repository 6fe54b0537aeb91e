"""Exports in the background: one thread per request list, so a page's script thread only reads progress.

Jobs run one at a time in a process (the converters hold a lot of memory and are not meant to run side
by side); a job waiting for the one before it says so. Importing this file loads no torch: the engine is
imported by the thread when it starts, keeping the UI's start-up light.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.errors import GenLabError
from genlab.store.runs import RunNotFound, RunStore

_JOBS: dict[str, ExportJob] = {}
_JOBS_LOCK = threading.Lock()
_ONE_AT_A_TIME = threading.Lock()


@dataclass
class ExportJob:
    """What a page shows: messages as they come, one record per exported net, errors in words."""

    id: str
    run_id: str
    requests: list[tuple[str, str | None]]  # (format, quantize)
    messages: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: bool = False
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    def say(self, message: str) -> None:
        self.messages.append(message)


def _work(job: ExportJob, home: Path) -> None:
    from genlab.export.engine import export_run

    try:
        job.say("waiting for the export before this one" if _ONE_AT_A_TIME.locked() else "starting")
        with _ONE_AT_A_TIME:
            store = RunStore(home)
            try:
                for fmt, quantize in job.requests:
                    job.say(f"{fmt} {quantize or 'fp32'}")
                    try:
                        job.records.extend(export_run(store, job.run_id, fmt, quantize, progress=job.say))
                    except (GenLabError, RunNotFound) as err:
                        job.errors.append(f"{fmt} {quantize or 'fp32'}: {err}")
            finally:
                store.close()
    except Exception as err:  # noqa: BLE001 - a converter crash must reach the page, not vanish with the thread
        job.errors.append(f"the export stopped: {type(err).__name__}: {err}")
    finally:
        job.done, job.ended_at = True, time.time()
        job.say("done")


def start(home: str | Path, run_id: str, requests: list[tuple[str, str | None]]) -> ExportJob:
    """Start exporting `run_id` in `requests` order in a background thread; returns at once."""
    job = ExportJob(id=secrets.token_hex(4), run_id=run_id, requests=list(requests))
    with _JOBS_LOCK:
        _JOBS[job.id] = job
    threading.Thread(target=_work, args=(job, Path(home)), name=f"export-{job.id}", daemon=True).start()
    return job


def get(job_id: str) -> ExportJob | None:
    with _JOBS_LOCK:
        return _JOBS.get(job_id)
