"""GenLab's steady-state seconds per step when a user trains from the CLI: `python -m genlab train --wait`
in a subprocess, then the median gap between consecutive logged steps in the run store (each metric row
carries its wall-clock time), warm-up steps left out. Start-up, data decoding and the final save are not
in it, just as a reference script's own per-iteration timer leaves them out."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def genlab_seconds_per_step(home: Path, config_path: Path, env: dict[str, str], key: str, skip: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "genlab", "train", "--config", str(config_path), "--wait"],
        cwd=ROOT,
        env={**env, "GENLAB_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    found = re.search(r"^run (\S+)", out.stdout, re.M)
    if out.returncode or not found:
        raise SystemExit(f"GenLab's training failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    from genlab.store.runs import RunStore

    store = RunStore(home)
    try:
        rows = [r for r in store.metrics(found.group(1), [key]) if r["step"] >= skip]
    finally:
        store.close()
    gaps = [(b["time"] - a["time"]) / (b["step"] - a["step"]) for a, b in zip(rows, rows[1:], strict=False)]
    if not gaps:
        raise SystemExit("GenLab logged too few steps to time; train for more steps")
    return statistics.median(gaps)
