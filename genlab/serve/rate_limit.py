"""A per-key token bucket for the REST server: `rate` requests a minute on average, bursts up to `rate`.

The same class limits failed API key attempts per client address (genlab/serve/guard.py): `waiting`
looks without spending, `allow` spends one. Buckets that have refilled are dropped once there are many,
so a caller cycling through addresses cannot grow the table without bound.
"""

from __future__ import annotations

import threading
import time

MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = int(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60.0)

    def waiting(self, key: str) -> float:
        """The seconds until `key` may go ahead again (0.0 now), without spending anything."""
        if self.per_minute <= 0:
            return 0.0
        with self._lock:
            tokens = self._tokens(key, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * 60.0 / self.per_minute

    def allow(self, key: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before the next one."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            tokens = self._tokens(key, now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) * 60.0 / self.per_minute

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.per_minute]
        for k in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[k]
