"""Password hashing with argon2 (argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the account does not exist, so an unknown name costs as much time as a
# wrong password and sign-in timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("no such account")

MIN_LENGTH = 8
MAX_LENGTH = 256


class WeakPassword(ValueError):
    """The password cannot be stored; the message says why."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing or broken hash never matches (and takes as long)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecksBusy(RuntimeError):
    """Too many sign-ins are being checked already: try again in a second."""


class PasswordChecks:
    """argon2 off the event loop, a few at a time. Each check takes tens of milliseconds of
    CPU and 64 MiB; run on the loop, a burst of sign-in attempts would stall every call's
    decision. At most `at_once` run in worker threads and `waiting` more wait their turn;
    beyond that a sign-in is refused at once (PasswordChecksBusy), costing nothing."""

    def __init__(self, at_once: int = 2, waiting: int = 16) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._limit = at_once + waiting
        self._admitted = 0

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        if self._admitted >= self._limit:
            raise PasswordChecksBusy("too many sign-ins at once")
        self._admitted += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(verify_password, stored_hash, password)
        finally:
            self._admitted -= 1


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
