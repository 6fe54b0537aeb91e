"""Fail when the installed packages differ from the lock: the README installs exactly the lock, so a
machine that has anything else is not the machine CI tested.

    python .ci/check_lock.py requirements-dev.lock requirements-data.txt

Every `name==version` in the given files must be installed at that version, and nothing else may be
installed except the project itself (editable) and the installer's own tools.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

TOOLS = {"pip", "setuptools", "wheel", "genlab"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """`name==version` lines of a requirements or lock file (hash and comment lines ignored)."""
    out = {}
    for line in text.splitlines():
        m = PIN.match(line.strip())
        if m:
            out[normalise(m.group(1))] = m.group(2)
    return out


def installed() -> dict[str, str]:
    return {normalise(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def drift(locked: dict[str, str], present: dict[str, str]) -> list[str]:
    """One line per difference; empty when the environment is exactly the lock."""
    problems = []
    for name, version in sorted(locked.items()):
        have = present.get(name)
        if have is None:
            problems.append(f"{name}: locked {version}, not installed")
        elif have != version:
            problems.append(f"{name}: locked {version}, installed {have}")
    for name in sorted(set(present) - set(locked) - TOOLS):
        problems.append(f"{name}: installed {present[name]}, not in the lock")
    return problems


def main(paths: list[str]) -> int:
    locked: dict[str, str] = {}
    for path in paths:
        locked.update(pins(Path(path).read_text(encoding="utf-8")))
    problems = drift(locked, installed())
    for line in problems:
        print("lock drift:", line)
    if problems:
        print(
            "error: the installed packages differ from the lock; install with the README's command, or "
            "regenerate the lock deliberately (docs/ARCHITECTURE.md, 'Dependencies')."
        )
        return 1
    print(f"lock check: {len(locked)} pinned packages installed exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
