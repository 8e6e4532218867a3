"""A router of the test's own in place of the suite's, for tests that need other settings (a
ticket source, the pages): Asterisk serves one ARI application of a name at a time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from sticky_router.process.router import Router, RouterSettings
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting


@contextlib.asynccontextmanager
async def replacing(router: Router, settings: RouterSettings) -> AsyncIterator[Router]:
    """The suite's router stopped and one with `settings` running until the block ends; the
    suite's `fresh` fixture starts the suite's router again for the next test."""
    await router.stop()
    replacement = Router(settings)
    await replacement.start()
    try:
        await replacement.wait_connected(10)
        yield replacement
    finally:
        await replacement.stop()


async def owner_wins_from_an_empty_mirror(pool: asyncpg.Pool, actor: str) -> None:
    """`target_precedence = owner_first`, and no ticket mirrored or reported yet."""
    await pool.execute("TRUNCATE ticket_mirror, ticket_source_state, ticket_call_reports")
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor=actor,
    )  # fmt: skip
