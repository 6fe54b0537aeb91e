"""API keys for the REST server: created and revoked in Settings or `genlab serve keys`, stored in the
run store as sha256 hashes only (a key is shown once, when it is made, and never logged).

Keys are long random tokens, so one sha256 is enough (no slow password hash is needed): whoever reads
the database cannot use what is in it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from genlab.core.errors import GenLabError
from genlab.store.runs import RunStore
from genlab.store.schema import api_keys

PREFIX = "glk_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


@dataclass(frozen=True)
class ApiKey:
    """What is kept of a key: never the key itself."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at, "active": self.active}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(store: RunStore, name: str) -> tuple[ApiKey, str]:
    """A new key: (its record, the secret to hand to the user once)."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise GenLabError("A key name needs 1-64 letters, digits, spaces, '.', '_' or '-' (e.g. 'mobile app')")
    key_id = secrets.token_hex(4)
    secret = PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    with store.db.write() as con:
        con.execute(api_keys.insert().values(id=key_id, name=name, sha256=_hash(secret), created_at=now))
    return ApiKey(key_id, name, now, None), secret


def list_keys(store: RunStore, *, include_revoked: bool = True) -> list[ApiKey]:
    with store.db.read() as con:
        rows = con.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
    keys = [ApiKey(r.id, r.name, r.created_at, r.revoked_at) for r in rows]
    return keys if include_revoked else [k for k in keys if k.active]


def revoke_key(store: RunStore, key_id: str) -> ApiKey:
    """Revoke by id (as listed); a revoked key stops working at its next request."""
    q = api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
    with store.db.write() as con:
        n = con.execute(q.values(revoked_at=time.time())).rowcount
    if not n:
        known = ", ".join(k.id for k in list_keys(store, include_revoked=False)) or "none"
        raise GenLabError(f"No active API key with id {key_id!r} (active keys: {known})")
    return next(k for k in list_keys(store) if k.id == key_id)


def has_active_keys(store: RunStore) -> bool:
    with store.db.read() as con:
        return con.execute(sa.select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None)).limit(1)).first() is not None


def verify_key(store: RunStore, secret: str) -> ApiKey | None:
    """The active key this secret belongs to, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    q = sa.select(api_keys).where(api_keys.c.sha256 == _hash(secret), api_keys.c.revoked_at.is_(None))
    with store.db.read() as con:
        row = con.execute(q).first()
    return ApiKey(row.id, row.name, row.created_at, row.revoked_at) if row else None
