"""Sign-in rate limiting, in memory: a hard limit per client address, a delay per account.

The rules:

- Per client address (web/auth/proxies.py says which address): a hard limit. At most
  `address_limit` failed sign-ins in `window` seconds; past that, every attempt from the address
  is refused (429, Retry-After until its oldest failure leaves the window), the right password
  included. One address guessing many accounts stays stopped.
- Per account: a progressive delay, never a lockout. After `free_failures` failures the
  account's next attempt must wait 1 s from the start of the last one; each further failure
  doubles the wait, up to `delay_cap` seconds. Attempts during the wait are refused at once
  (429 with the seconds left) and do not lengthen it; the first attempt after it is checked, so
  the owner who types the right password then is in, however many addresses guess at the
  account. A success clears the account; failures are forgotten `window` seconds after the last.
- A browser that signed in to the account before (web/auth/known_browsers.py) is not slowed by the
  account's delay: it has a delay of its own, by the same rule. Guesses from elsewhere cannot
  keep the owner's own browser waiting, and guessing from it slows only it.
- Counted before checked: `reserve` takes the attempt's slots synchronously, before the
  sign-in awaits the database or argon2, so parallel attempts see each other. A failure keeps
  them, a success gives the address's back and clears the account's, an attempt that was never
  checked (argon2 busy) gives both back.

One router process serves the web app, so memory is the right place: a restart forgets the
counts (and the known browsers), which costs an attacker a restart they cannot cause.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sticky_router.web.auth.known_browsers import KnownBrowsers

MAX_KEYS = 100_000  # beyond this many tracked keys the oldest are forgotten
FIRST_DELAY_SECONDS = 1.0


class TooManyAttempts(Exception):
    """Refused before any check: come back in `seconds` (the Retry-After)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"try again in {seconds:.0f} s")
        self.seconds = max(1, math.ceil(seconds))


def _bounded(store: dict[str, Any]) -> None:
    if len(store) > MAX_KEYS:
        store.pop(next(iter(store)))


@dataclass
class HardLimit:
    """At most `limit` failures per key in a sliding window of `window_seconds`."""

    limit: int
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """0 when `key` may try now, else the seconds until it may."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window_seconds - self.clock())

    def take(self, key: str) -> float:
        """Count an attempt as a failure now; returns its mark for `give_back`."""
        now = self.clock()
        hits = self._recent(key)
        hits.append(now)
        self._hits[key] = hits
        _bounded(self._hits)
        return now

    def give_back(self, key: str, mark: float) -> None:
        hits = self._hits.get(key)
        if hits is not None and mark in hits:
            hits.remove(mark)

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key, deque())
        horizon = self.clock() - self.window_seconds
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits


@dataclass
class _Delay:
    failures: int = 0
    not_before: float = 0.0
    last: float = 0.0


@dataclass
class ProgressiveDelay:
    """After `free_failures` failures of a key, its next attempt waits 1 s, then 2, 4 ... at
    most `cap_seconds`, counted from the start of the last attempt."""

    free_failures: int
    cap_seconds: float
    forget_after_seconds: float
    clock: Callable[[], float] = time.monotonic
    _delays: dict[str, _Delay] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        delay = self._current(key)
        return 0.0 if delay is None else max(0.0, delay.not_before - self.clock())

    def take(self, key: str) -> _Delay:
        """Count an attempt as a failure now (and set the next one's wait); returns the state
        before, for `give_back`."""
        now = self.clock()
        delay = self._current(key) or _Delay()
        before = _Delay(delay.failures, delay.not_before, delay.last)
        delay.failures += 1
        delay.last = now
        beyond = delay.failures - self.free_failures
        if beyond >= 0:
            # 2**beyond would overflow a float after a thousand failures: cap the exponent.
            wait = FIRST_DELAY_SECONDS * 2.0 ** min(beyond, 32)
            delay.not_before = now + min(wait, self.cap_seconds)
        self._delays[key] = delay
        _bounded(self._delays)
        return before

    def give_back(self, key: str, before: _Delay) -> None:
        delay = self._delays.get(key)
        if delay is None or delay.failures == 0:
            return
        if delay.failures == before.failures + 1:  # nobody took a slot since: undo exactly
            self._delays[key] = before
        else:
            delay.failures -= 1

    def clear(self, key: str) -> None:
        self._delays.pop(key, None)

    def _current(self, key: str) -> _Delay | None:
        delay = self._delays.get(key)
        if delay is None:
            return None
        now = self.clock()
        if now >= delay.not_before and now - delay.last > self.forget_after_seconds:
            del self._delays[key]
            return None
        return delay


@dataclass(frozen=True)
class Reservation:
    """The slots one sign-in attempt holds until its password has been checked."""

    account: str  # the account's key, or the account's known browser's
    address: str
    address_mark: float
    delay_before: _Delay


@dataclass
class SignInLimiter:
    """Both rules together; keys are `kind:name` for accounts and the client address."""

    per_account: ProgressiveDelay
    per_address: HardLimit
    browsers: KnownBrowsers = field(default_factory=KnownBrowsers)

    @classmethod
    def create(
        cls,
        account_limit: int,
        address_limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        delay_cap_seconds: float = 30.0,
    ) -> SignInLimiter:
        return cls(
            ProgressiveDelay(account_limit, delay_cap_seconds, window_seconds, clock),
            HardLimit(address_limit, window_seconds, clock),
        )

    def reserve(self, account: str, address: str, browser: str | None = None) -> Reservation:
        """Take this attempt's slots, or raise TooManyAttempts. No await in here: the check and
        the count are one step for every attempt running at the same time. `browser` is the
        account's known browser this attempt comes from, if any."""
        delay_key = account if browser is None else f"{account}|browser:{browser}"
        wait = max(self.per_address.wait(address), self.per_account.wait(delay_key))
        if wait > 0:
            raise TooManyAttempts(wait)
        mark = self.per_address.take(address)
        return Reservation(delay_key, address, mark, self.per_account.take(delay_key))

    def failed(self, reservation: Reservation) -> None:
        """The password was wrong: the slots stay taken (reserve counted the failure)."""

    def succeeded(self, reservation: Reservation, account: str) -> None:
        self.per_address.give_back(reservation.address, reservation.address_mark)
        self.per_account.clear(reservation.account)
        self.per_account.clear(account)

    def unchecked(self, reservation: Reservation) -> None:
        """The password was never checked (argon2 busy): as if the attempt had not been made."""
        self.per_address.give_back(reservation.address, reservation.address_mark)
        self.per_account.give_back(reservation.account, reservation.delay_before)
