"""Files of a run (sample grids, checkpoints, text samples, exports) and links between runs (a pruned
copy and its source, a student and its teacher).

Paths are stored relative to the run's folder, so a team whose machines mount the shared artifact root
(GENLAB_ARTIFACT_ROOT) at different places still finds every file.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from genlab.store.engine import Database
from genlab.store.records import LINK_KINDS, StoreOffline
from genlab.store.schema import artifacts, links


class RunFiles:
    """The artifacts and links tables (mixed into RunStore)."""

    db: Database
    _pending_lock: threading.Lock
    _pending_artifacts: list[dict[str, Any]]

    def add_artifact(
        self,
        run_id: str,
        kind: str,
        path: str | Path,
        *,
        name: str | None = None,
        step: int | None = None,
        meta: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Record a file of the run (kept in memory while a team database is unreachable). `replace`: the
        file is rewritten in place (an export made again), so its older rows go and one row stays."""
        path = Path(path)
        folder = self.run_folder(run_id)  # type: ignore[attr-defined]
        rel = str(path.relative_to(folder)) if path.is_absolute() and path.is_relative_to(folder) else str(path)
        row = {
            "run_id": run_id,
            "kind": kind,
            "name": name or path.stem,
            "path": rel,
            "step": step,
            "created_at": time.time(),
            "meta": json.dumps(meta) if meta else None,
        }
        with self._pending_lock:
            batch = [*self._pending_artifacts, row]
            try:
                with self.db.write() as con:
                    if replace:
                        a = artifacts.c
                        con.execute(artifacts.delete().where(a.run_id == run_id, a.kind == kind, a.path == rel))
                        batch = [r for r in batch[:-1] if (r["run_id"], r["kind"], r["path"]) != (run_id, kind, rel)]
                        batch.append(row)
                    con.execute(artifacts.insert(), batch)
            except StoreOffline:
                self._pending_artifacts = batch
                return
            self._pending_artifacts = []

    def artifacts(self, run_id: str, kind: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        """Artifacts ordered by step; `path` is absolute."""
        q = sa.select(artifacts).where(artifacts.c.run_id == run_id)
        if kind:
            q = q.where(artifacts.c.kind == kind)
        if name:
            q = q.where(artifacts.c.name == name)
        q = q.order_by(artifacts.c.step, artifacts.c.id)
        folder = self.run_folder(run_id)  # type: ignore[attr-defined]
        with self.db.read() as con:
            rows = con.execute(q).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["path"] = str(folder / d["path"]) if not Path(d["path"]).is_absolute() else d["path"]
            d["meta"] = json.loads(d["meta"]) if d["meta"] else {}
            out.append(d)
        return out

    def add_link(self, run_id: str, kind: str, target_id: str, meta: dict[str, Any] | None = None) -> None:
        """Record that `run_id` was made from `target_id` in a way of its own (`pruned_from`,
        `distilled_from`), beside the plain "cloned from" parent_id."""
        if kind not in LINK_KINDS:
            raise ValueError(f"unknown link kind {kind!r}; one of {LINK_KINDS}")
        row = {"run_id": run_id, "kind": kind, "target_id": target_id, "created_at": time.time()}
        with self.db.write() as con:
            con.execute(links.insert().values(**row, meta=json.dumps(meta) if meta else None))

    def links(self, run_id: str) -> list[dict[str, Any]]:
        """Links from and to a run: {run_id, kind, target_id, meta}."""
        q = (
            sa.select(links)
            .where(sa.or_(links.c.run_id == run_id, links.c.target_id == run_id))
            .order_by(links.c.created_at)
        )
        with self.db.read() as con:
            rows = con.execute(q).all()
        return [dict(r._mapping) | {"meta": json.loads(r.meta) if r.meta else {}} for r in rows]
