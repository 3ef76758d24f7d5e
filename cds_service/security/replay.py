"""Replay protection: each ``jti`` is accepted once per issuer while its token is valid.

The default cache lives in the memory of one process. With several workers or replicas a
token captured in transit could be replayed once against each *other* process until it
expires (at most the client's ``max_token_lifetime``; 300 s for the sandbox and Epic), to
the same endpoint only, since ``aud`` binds it. TLS makes the capture itself hard. A
deployment that wants one cache across processes implements ``ReplayCache`` over a shared
store (for example ``INSERT ... ON CONFLICT DO NOTHING`` on a PostgreSQL table keyed by
``(iss, jti)``) and passes it to ``Authenticator``.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol


class ReplayCache(Protocol):
    async def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record ``(iss, jti)`` until ``expires_at`` (epoch seconds); False if already seen."""


class MemoryReplayCache:
    """Per-process cache; entries are only added for fully verified tokens, so its size is
    bounded by the trusted clients' call rate times their token lifetime."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._expiries: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._seen)

    async def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        # No await between the check and the insert: atomic within the event loop.
        self._evict(self._clock())
        key = (iss, jti)
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        heapq.heappush(self._expiries, (expires_at, key))
        return True

    def _evict(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] < now:
            _, key = heapq.heappop(expiries)
            self._seen.pop(key, None)
