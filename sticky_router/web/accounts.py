"""Accounts people sign in with: agents' passwords and admin users (for the CLI and sandbox)."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from sticky_router.web.passwords import hash_password
from sticky_router.web.sessions import Kind, set_password_hash

DEMO_ADMIN = "supervisor"


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


async def demo_credentials(pool: asyncpg.Pool) -> dict[str, tuple[Kind, str]]:
    """Sandbox only: a fresh random password for every agent and for the demo admin, returned
    for the console (never logged)."""
    await add_admin(pool, DEMO_ADMIN, "Demo supervisor")
    credentials: dict[str, tuple[Kind, str]] = {}
    names = await pool.fetch("SELECT name FROM agents WHERE active ORDER BY name")
    accounts: list[tuple[Kind, str]] = [("agent", row["name"]) for row in names]
    for kind, name in [*accounts, ("admin", DEMO_ADMIN)]:
        password = secrets.token_urlsafe(9)
        await set_password(pool, kind, name, password)
        credentials[name] = (kind, password)
    return credentials
