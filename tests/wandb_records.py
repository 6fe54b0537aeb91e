"""Read an offline W&B run back with wandb's own reader: `wandb leet inspect` prints the records of a
.wandb transaction log, and wandb's protobuf text format parses them into `wandb.proto` Records."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from wandb.proto import wandb_internal_pb2 as pb

_RECORD = re.compile(r"^# record \d+: \w+\n", flags=re.M)


def records(wandb_file: Path) -> list[pb.Record]:
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", str(wandb_file)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    parsed = []
    for block in _RECORD.split(out.stdout)[1:]:
        record = pb.Record()
        text_format.Parse(block, record)
        parsed.append(record)
    assert parsed, out.stdout[:500]
    return parsed


def history(recs: list[pb.Record]) -> dict[int, dict[str, Any]]:
    """step -> {key: value} (nested keys such as an image's fields joined with '.')."""
    steps: dict[int, dict[str, Any]] = {}
    for r in recs:
        if r.WhichOneof("record_type") != "history":
            continue
        row = {".".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item}
        steps.setdefault(int(row["_step"]), {}).update(row)
    return steps


def wandb_files(run_folder: Path) -> list[Path]:
    return sorted(run_folder.glob("wandb/offline-run-*/run-*.wandb"))
