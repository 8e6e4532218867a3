"""Sign-in rate limiting: failed attempts per account and per client address, in memory.

One router process serves the web app, so memory is the right place: a restart forgets the
counts, which costs an attacker a restart they cannot cause. A successful sign-in clears the
account's count (not the address's: one address guessing many accounts stays limited).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 100_000  # beyond this many tracked keys the oldest are forgotten


@dataclass
class SlidingWindowLimiter:
    limit: int
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, key: str) -> float:
        """0 when `key` may try again now, else the seconds until it may."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window_seconds - self.clock())

    def hit(self, key: str) -> None:
        hits = self._recent(key)
        hits.append(self.clock())
        self._hits[key] = hits
        if len(self._hits) > MAX_KEYS:
            self._hits.pop(next(iter(self._hits)))

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key, deque())
        horizon = self.clock() - self.window_seconds
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits


@dataclass
class SignInLimiter:
    """Both limits together; keys are `kind:name` for accounts and the client address."""

    per_account: SlidingWindowLimiter
    per_address: SlidingWindowLimiter

    @classmethod
    def create(
        cls,
        account_limit: int,
        address_limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> SignInLimiter:
        return cls(
            SlidingWindowLimiter(account_limit, window_seconds, clock),
            SlidingWindowLimiter(address_limit, window_seconds, clock),
        )

    def retry_after(self, account: str, address: str) -> float:
        return max(self.per_account.blocked(account), self.per_address.blocked(address))

    def failed(self, account: str, address: str) -> None:
        self.per_account.hit(account)
        self.per_address.hit(address)

    def succeeded(self, account: str) -> None:
        self.per_account.clear(account)
