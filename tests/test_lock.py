"""The lock is the install: CI's check fails on any drift between the environment and the lock files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("check_lock", ROOT / ".ci" / "check_lock.py")
check_lock = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_lock)

LOCK_FILES = ["requirements-dev.lock", "requirements-data.txt"]


def test_this_environment_is_exactly_the_lock() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_lock.py"), *LOCK_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_planted_version_drift_fails_the_check(tmp_path: Path) -> None:
    lock = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    locked = check_lock.pins(lock)
    assert locked["torch"].startswith("2.13.0"), "the lock must keep the CPU torch 2.13.0"
    planted = lock.replace(f"numpy=={locked['numpy']}", "numpy==0.0.1")
    (tmp_path / "drifted.lock").write_text(planted, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_lock.py"), str(tmp_path / "drifted.lock"), "requirements-data.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"numpy: locked 0.0.1, installed {locked['numpy']}" in proc.stdout


def test_an_unlocked_extra_package_and_a_missing_one_are_named() -> None:
    problems = check_lock.drift({"a": "1.0", "b": "2.0"}, {"a": "1.0", "c": "3.0", "pip": "26.0"})
    assert problems == ["b: locked 2.0, not installed", "c: installed 3.0, not in the lock"]


def test_every_requirement_is_pinned_exactly_in_the_lock() -> None:
    """A dependency named in requirements*.txt but missing from the lock would install unpinned."""
    locked = check_lock.pins((ROOT / "requirements-dev.lock").read_text(encoding="utf-8"))
    wanted = []
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                wanted.append(check_lock.normalise(line.split("[")[0].split("=")[0].split(">")[0].split("<")[0]))
    assert wanted and not [w for w in wanted if w not in locked]
