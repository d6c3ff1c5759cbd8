"""Per-client rate limit for the public widget and the API.

Why a sliding window: a fixed per-minute bucket lets a client send twice the
limit across a minute boundary; keeping each key's request times for the last
60 s bounds *any* 60 s span. Memory stays bounded: a key's times are at most
``per_minute`` long, and keys with nothing in their window are forgotten
(swept at most once a window, so the cost is spread over many calls).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Hashable

WINDOW_S = 60.0


class RateLimiter:
    """Sliding window: at most `per_minute` requests per key in any 60 s."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
            raise ValueError(f"per_minute: {per_minute!r}; use a whole number of requests, at least 1.")
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def check(self, key: str) -> float:
        """0.0 when allowed (and counted); else seconds until the next request would be allowed."""
        with self._lock:
            now = self.clock()
            if now - self._last_sweep >= WINDOW_S:
                self._sweep(now)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            if len(hits) < self.per_minute:
                hits.append(now)
                return 0.0
            # Allowed again once the oldest hit leaves the window; never report 0 for a refusal.
            return max(hits[0] + WINDOW_S - now, 1e-3)

    def __len__(self) -> int:
        """Keys currently remembered (for tests and health pages)."""
        with self._lock:
            return len(self._hits)

    def _sweep(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - WINDOW_S]:
            del self._hits[key]
        self._last_sweep = now
