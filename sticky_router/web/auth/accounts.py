"""Accounts people sign in with: agents' passwords and admin users (for the CLI)."""

from __future__ import annotations

import asyncio

import asyncpg

from sticky_router.web.auth.passwords import hash_password
from sticky_router.web.auth.sessions import Kind, set_password_hash


class UnknownAccount(LookupError):
    """No agent or admin of that name."""


async def set_password(pool: asyncpg.Pool, kind: Kind, name: str, password: str) -> None:
    """Hash and store; raises WeakPassword or UnknownAccount. Ends that person's sessions."""
    hashed = await asyncio.to_thread(hash_password, password)
    if not await set_password_hash(pool, kind, name, hashed):
        raise UnknownAccount(f"there is no {kind} named {name!r}")


async def add_admin(
    pool: asyncpg.Pool, name: str, display_name: str | None = None, language: str = "en"
) -> bool:
    """Create the admin (no password yet: set one with set_password); False if it existed."""
    created = await pool.fetchval(
        """
        INSERT INTO admin_users (name, display_name, language) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO NOTHING RETURNING id
        """,
        name,
        display_name or name,
        language,
    )
    return created is not None
