"""Which checkpoint a resume starts from, chosen without torch (the UI and the job supervisor use it).

A Lightning checkpoint is a zip archive (torch.save's format) whose members carry CRCs, so a file torn
by a kill or a full disk fails a zip test. Resume takes last.ckpt when it is whole (it holds the exact
loop state to continue from), else the newest other checkpoint that passes, saying which.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from genlab.core.atomic import TEMP_MARK


@dataclass(frozen=True)
class ResumePoint:
    path: Path
    skipped: tuple[str, ...]  # newer checkpoints that were damaged, by name

    def describe(self) -> str:
        text = f"resuming from {self.path.name}"
        if self.skipped:
            text += f" ({', '.join(self.skipped)} damaged: skipped)"
        return text


def checkpoint_is_whole(path: Path) -> bool:
    """True when the file is a complete torch checkpoint archive whose data all match their CRCs."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if not any(n.endswith("data.pkl") for n in names):
                return False
            return z.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError):
        return False


def checkpoint_candidates(folder: Path) -> list[Path]:
    """last.ckpt first, then best-*.ckpt and others newest first (by the time each was written)."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob("*.ckpt") if TEMP_MARK not in p.name and p.is_file()]
    return sorted(files, key=lambda p: (p.name == "last.ckpt", p.stat().st_mtime_ns), reverse=True)


def find_resume_checkpoint(folder: Path) -> ResumePoint | None:
    """The newest whole checkpoint in folder; None when there is none."""
    skipped: list[str] = []
    for path in checkpoint_candidates(folder):
        if checkpoint_is_whole(path):
            return ResumePoint(path, tuple(skipped))
        skipped.append(path.name)
    return None
