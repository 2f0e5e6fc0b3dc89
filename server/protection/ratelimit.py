"""A token bucket per client, in memory.

Per process: with several uvicorn workers each keeps its own buckets, so a client
gets up to workers x the rate. Good enough to stop one client from starving the
others on a small server; a shared store (Redis) would be needed for exact limits.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Idle clients are forgotten oldest first beyond this many, so a flood of client
# addresses cannot grow memory without bound. A forgotten client starts full.
MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        # Called from the event loop only today; the lock keeps it correct if a
        # thread ever calls it too, and costs well under a microsecond.
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Take one token; returns 0.0 when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = _Bucket(self.burst, now)
                self._buckets[client] = bucket
                if len(self._buckets) > self._max_clients:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(client)
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait: float) -> str:
    """Whole seconds, rounded up and at least 1 (Retry-After takes integers)."""
    return str(max(1, math.ceil(wait)))
