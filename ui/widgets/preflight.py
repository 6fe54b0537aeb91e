"""The pre-flight estimate (genlab.runner.train.estimate) run in a short-lived child process.

The estimate builds the model and times a few real steps; doing that in a child keeps torch, the data
and any crash out of the Streamlit server process (which must stay light for every user).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.paths import PROJECT_ROOT, genlab_home
from genlab.data.paths import confine_config_paths

_CHILD = r"""
import json, sys
from genlab.core.parsing import parse_config
from genlab.core.errors import GenLabError
try:
    from genlab.runner.train import estimate
    result = estimate(parse_config(json.load(sys.stdin)))
    print("\n@@RESULT@@" + json.dumps({"ok": result}, default=str))
except GenLabError as err:
    print("\n@@RESULT@@" + json.dumps({"error": str(err)}))
except Exception as err:
    print("\n@@RESULT@@" + json.dumps({"error": f"{type(err).__name__}: {err}"}))
"""


def run_estimate(config: RunConfig, timeout_s: float = 180.0) -> dict[str, Any]:
    """Parameter count, measured peak memory and seconds per step; GenLabError with a readable message on
    failure. The config comes from a browser, so its paths are confined first."""
    confine_config_paths(config)
    env = dict(os.environ)
    env["GENLAB_HOME"] = str(genlab_home())
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(config.model_dump(mode="json")),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=PROJECT_ROOT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise GenLabError(
            f"The estimate took longer than {timeout_s:.0f} s; the machine is busy or the model is "
            "large. Start the run and watch its ETA instead."
        ) from None
    marker = proc.stdout.rfind("@@RESULT@@")
    if marker < 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise GenLabError("The estimate process stopped without a result: " + " / ".join(tail))
    payload = json.loads(proc.stdout[marker + len("@@RESULT@@") :].strip().splitlines()[0])
    if "error" in payload:
        raise GenLabError(payload["error"])
    return payload["ok"]
