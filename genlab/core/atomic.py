"""Files a reader sees whole or not at all: write a temp file in the same folder, fsync, rename.

A rename inside one folder is atomic on POSIX file systems, so a kill -9, a power cut or a full disk
leaves either the old file or the new one, never a torn mix; the temp file is removed when the write
fails. Checkpoints, run configs, uploads and extracted zips all go through here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

TEMP_MARK = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A unique hidden sibling of path (same folder, so the final rename never crosses a disk)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(3)}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in folder durable (the directory entry itself must reach the disk)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[bytes]]:
    """Open a temp file beside path for binary writing; on success fsync it and rename it over path."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_with(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Let `write` fill a file object (torch.save, Image.save), then publish it atomically."""
    with atomic_open(path) as f:
        write(f)


def atomic_copy(src: str | Path, dest: str | Path) -> None:
    with open(src, "rb") as inp, atomic_open(dest) as out:
        shutil.copyfileobj(inp, out, 1 << 20)


@contextlib.contextmanager
def atomic_folder(dest: str | Path) -> Iterator[Path]:
    """Fill a temp folder beside dest; on success it replaces dest in one rename, on failure it is removed.

    A reader of dest never sees a half-filled folder (a half-extracted zip is never reused).
    """
    dest = Path(dest)
    tmp = temp_path_for(dest)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        old = None
        if dest.exists():
            old = temp_path_for(dest)
            dest.rename(old)
        tmp.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(dest.parent)


def remove_stale_temps(folder: str | Path) -> int:
    """Delete temp files a killed writer left in folder; returns how many."""
    n = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for p in folder.glob(f".*{TEMP_MARK}*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
        n += 1
    return n
