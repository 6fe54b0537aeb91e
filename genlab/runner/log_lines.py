"""A worker log as a person wants to read it: training's own progress lines, warnings and errors, without the
start-up boilerplate Lightning and its libraries print into every run (the Logs tab and `runs logs` share it).
"""

from __future__ import annotations

import re

# Lines every run prints that say nothing about this run's training.
_BOILERPLATE = re.compile(
    r"^(?:"
    r"(?:GPU|TPU|HPU|IPU) available:"
    r"|💡 Tip:"
    r"|Loading `\w+_dataloader` to estimate number of stepping batches"
    r"|LOCAL_RANK: \d+ - CUDA_VISIBLE_DEVICES"
    r"|`weights_only` was not set"
    r"|You are using a CUDA device .* set `torch.set_float32_matmul_precision"
    r"|Using (?:16bit|bfloat16) .*precision"
    r")"
)
# A library's deprecation notice: "/…/site-packages/pkg/mod.py:21: … deprecated …", and the code line after it.
_LIBRARY_WARNING = re.compile(r"^\S*site-packages/\S+:\d+: .*(?:[Dd]eprecat|FutureWarning|will be removed)")


def readable_log(text: str) -> tuple[str, int]:
    """The log without boilerplate, and how many lines were left out (so a person can ask for them)."""
    kept: list[str] = []
    dropped = 0
    skip_source_line = False
    for line in text.splitlines():
        if skip_source_line and line.startswith((" ", "\t")):
            dropped += 1
            skip_source_line = False
            continue
        skip_source_line = False
        if _BOILERPLATE.match(line):
            dropped += 1
        elif _LIBRARY_WARNING.match(line):
            dropped += 1
            skip_source_line = True
        else:
            kept.append(line)
    return "\n".join(kept), dropped
