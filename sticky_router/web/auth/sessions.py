"""Server-side sessions in Postgres, for two kinds of people: agents and admins.

The browser holds an opaque random token (HttpOnly, SameSite=Strict cookie, one cookie name per
kind); the table holds its SHA-256, the person, a CSRF token and the expiry. A session ends
after `idle` without a request or `absolute` after sign-in, whichever comes first.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

Kind = Literal["agent", "admin"]
KINDS: tuple[Kind, ...] = ("agent", "admin")
COOKIE_NAMES: dict[Kind, str] = {"agent": "sticky_agent_session", "admin": "sticky_admin_session"}
_TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), as create_session makes


@dataclass(frozen=True)
class Principal:
    """Who a request comes from. `id` is agents.id or admin_users.id, by `kind`."""

    kind: Kind
    id: int
    name: str
    display_name: str
    language: str
    csrf_token: str
    token_hash: str


@dataclass(frozen=True)
class Account:
    """A person who may sign in, as stored (the hash never leaves the server)."""

    kind: Kind
    id: int
    name: str
    display_name: str
    language: str
    password_hash: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _table(kind: Kind) -> str:
    return "agents" if kind == "agent" else "admin_users"


def _column(kind: Kind) -> str:
    return "agent_id" if kind == "agent" else "admin_id"


async def find_account(pool: asyncpg.Pool, kind: Kind, name: str) -> Account | None:
    row = await pool.fetchrow(
        f"SELECT id, name, display_name, language, password_hash FROM {_table(kind)} "
        "WHERE name = $1 AND active",
        name,
    )
    if row is None:
        return None
    return Account(
        kind, row["id"], row["name"], row["display_name"], row["language"], row["password_hash"]
    )


async def set_password_hash(pool: asyncpg.Pool, kind: Kind, name: str, hashed: str) -> bool:
    """Store a new hash; every session of that person ends (a changed password is often a
    reaction to a leak). Whether the person exists."""
    async with pool.acquire() as connection, connection.transaction():
        person_id = await connection.fetchval(
            f"UPDATE {_table(kind)} SET password_hash = $2 WHERE name = $1 RETURNING id",
            name,
            hashed,
        )
        if person_id is None:
            return False
        await connection.execute(f"DELETE FROM web_sessions WHERE {_column(kind)} = $1", person_id)
    return True


async def create_session(
    pool: asyncpg.Pool, account: Account, now: datetime, absolute: timedelta
) -> str:
    """A new session for `account`; returns the token for the cookie (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    await pool.execute(
        f"""
        INSERT INTO web_sessions
            (token_hash, {_column(account.kind)}, csrf_token, created_at, last_seen_at, expires_at)
        VALUES ($1, $2, $3, $4, $4, $5)
        """,
        token_hash(token), account.id, secrets.token_urlsafe(32), now, now + absolute,
    )  # fmt: skip
    return token


async def load_session(
    pool: asyncpg.Pool, kind: Kind, token: str, now: datetime, idle: timedelta
) -> Principal | None:
    """The signed-in person, or None when the token is unknown, expired or idle too long (an
    expired row is deleted on the way)."""
    if not _TOKEN.fullmatch(token):  # not one we made: no query spent on it
        return None
    hashed = token_hash(token)
    row = await pool.fetchrow(
        f"""
        SELECT s.csrf_token, s.last_seen_at, s.expires_at,
               p.id, p.name, p.display_name, p.language, p.active
        FROM web_sessions s JOIN {_table(kind)} p ON p.id = s.{_column(kind)}
        WHERE s.token_hash = $1
        """,
        hashed,
    )
    if row is None:
        return None
    if not row["active"] or now >= row["expires_at"] or now - row["last_seen_at"] >= idle:
        await pool.execute("DELETE FROM web_sessions WHERE token_hash = $1", hashed)
        return None
    if now - row["last_seen_at"] >= _TOUCH_EVERY:
        await pool.execute(
            "UPDATE web_sessions SET last_seen_at = $2 WHERE token_hash = $1", hashed, now
        )
    return Principal(
        kind, row["id"], row["name"], row["display_name"], row["language"], row["csrf_token"],
        hashed,
    )  # fmt: skip


async def end_session(pool: asyncpg.Pool, hashed: str) -> None:
    await pool.execute("DELETE FROM web_sessions WHERE token_hash = $1", hashed)


async def purge_expired(pool: asyncpg.Pool, now: datetime, idle: timedelta) -> int:
    status = await pool.execute(
        "DELETE FROM web_sessions WHERE expires_at <= $1 OR last_seen_at <= $2", now, now - idle
    )
    return int(status.split()[-1])
