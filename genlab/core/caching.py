"""Read a cached file, or rebuild it and write it atomically: the one pattern every cache here follows
(decoded built-in sets, rendered emoji pairs, real-image features, metric classifiers).

A cache file that cannot be read (truncated by a crash, an older format) is rebuilt, never trusted; a new
one is written to a temp file beside it and renamed, so readers never see half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def read_or_rebuild(
    path: Path, read: Callable[[Path], T], build: Callable[[], T], write: Callable[[T, Path], None]
) -> T:
    if path.exists():
        try:
            return read(path)
        except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt
            path.unlink(missing_ok=True)
    value = build()
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")  # same folder, same suffix (numpy adds one)
    try:
        write(value, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return value


def cached_arrays(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Named numpy arrays kept in one .npz file (no pickles)."""

    def read(p: Path) -> dict[str, np.ndarray]:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    return read_or_rebuild(path, read, build, lambda arrays, p: np.savez(p, **arrays))
