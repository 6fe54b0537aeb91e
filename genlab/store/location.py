"""Where the run store lives: its database URL, the machine's name, a read-only SQLite fallback.

No SQLAlchemy here, so a command that only reads the store (`runs list`) can find it without importing it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DB_FILE = "genlab.db"
DB_URL_ENV = "GENLAB_DB_URL"
ARTIFACT_ROOT_ENV = "GENLAB_ARTIFACT_ROOT"
RETRAIN_FILE = "retrain.json"  # in a run's folder: its retraining schedule (genlab.runner.retrain_schedule)


def db_url(home: Path, url: str | None = None) -> str:
    """The store's URL: an explicit one, else GENLAB_DB_URL, else the SQLite file in GENLAB_HOME."""
    url = url or os.environ.get(DB_URL_ENV) or ""
    url = url.strip()
    if not url:
        return f"sqlite:///{home / DB_FILE}"
    if not url.startswith(("sqlite", "postgresql")):
        from genlab.store.records import StoreUnavailable

        raise StoreUnavailable(
            f"{DB_URL_ENV} must be a postgresql+psycopg://user:password@host/database URL (or unset for the "
            f"SQLite file in GENLAB_HOME); got {safe_url(url)}"
        )
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the driver we ship
    return url


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


def runs_dir(home: Path) -> Path:
    """The folder that holds one folder per run: GENLAB_ARTIFACT_ROOT (shared by a team) or GENLAB_HOME/runs."""
    root = os.environ.get(ARTIFACT_ROOT_ENV)
    return Path(root).expanduser().resolve() if root else home / "runs"


def this_host() -> str:
    """The machine a run was created or trained on (GENLAB_HOST overrides, e.g. a container's name)."""
    return os.environ.get("GENLAB_HOST") or socket.gethostname()


def sqlite_read_only_url(path: Path) -> str | None:
    """A read-only URL for a SQLite store whose folder cannot be written (a read-only mount, another
    user's home), so listing and showing runs still work there; None when the folder is writable.

    WAL needs its -shm file: where the -wal/-shm files exist SQLite reads them read-only (mode=ro); where
    they do not, every commit is in the main file and `immutable=1` reads it without them."""
    folder = path.parent
    if not path.exists() or os.access(folder, os.W_OK):
        return None
    wal_files = all(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))
    flag = "mode=ro" if wal_files else "mode=ro&immutable=1"
    return f"sqlite:///file:{path}?{flag}&uri=true"
