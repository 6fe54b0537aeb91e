"""The safety audit: one row per screened output of a run (or of a pretrained model, `model:<name>`)."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from genlab.store.engine import Database
from genlab.store.records import SAFETY_ACTIONS
from genlab.store.schema import safety_events


class SafetyAudit:
    """The safety_events table (mixed into RunStore)."""

    db: Database

    def add_safety_event(
        self,
        run_id: str,
        *,
        path: str,
        action: str,
        screener: str,
        scores: dict[str, float],
        flagged: list[str],
        sha256: str,
        text: str | None = None,
    ) -> None:
        """Where an output came from, its scores, what the gate did, and a sha256 of the text (the text
        only when the owner asked)."""
        if action not in SAFETY_ACTIONS:
            raise ValueError(f"unknown safety action {action!r}; one of {SAFETY_ACTIONS}")
        row = {
            "run_id": run_id,
            "time": time.time(),
            "path": path,
            "action": action,
            "screener": screener,
            "scores": json.dumps(scores),
            "flagged": json.dumps(flagged),
            "sha256": sha256,
            "text": text,
        }
        with self.db.write() as con:
            con.execute(safety_events.insert().values(**row))

    def safety_events(self, run_id: str, *, flagged_only: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        """Audit rows, newest first."""
        e = safety_events.c
        q = sa.select(safety_events).where(e.run_id == run_id)
        if flagged_only:
            q = q.where(e.action != "pass")
        q = q.order_by(e.time.desc(), e.id.desc()).limit(int(limit))
        with self.db.read() as con:
            rows = con.execute(q).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["scores"] = json.loads(d["scores"] or "{}")
            d["flagged"] = json.loads(d["flagged"] or "[]")
            out.append(d)
        return out

    def safety_summary(self, run_id: str) -> dict[str, Any]:
        """How many outputs were screened, how many the gate stopped or changed, and the flagged rate."""
        e = safety_events.c
        q = sa.select(e.action, sa.func.count()).where(e.run_id == run_id).group_by(e.action)
        with self.db.read() as con:
            by_action = {r[0]: r[1] for r in con.execute(q)}
        screened = sum(by_action.values())
        flagged = screened - by_action.get("pass", 0)
        return {
            "screened": screened,
            "flagged": flagged,
            "flagged_rate": flagged / screened if screened else 0.0,
            "by_action": by_action,
        }
