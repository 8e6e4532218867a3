"""Routing settings as stored: validated first, stored per scope, every change audited; read
back as rows the core resolves per call (routing_core.settings.resolve_settings)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from sticky_router.routing_core.settings import InvalidSetting, Scope, ScopedValue, validate_setting
from sticky_router.routing_core.store import Executor
from sticky_router.routing_core.store.audit import record_change


async def read_settings_rows(executor: Executor) -> list[ScopedValue]:
    rows = await executor.fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value FROM routing_settings"
    )
    return [
        ScopedValue(
            Scope(r["scope_kind"]), r["scope_value"] or None, r["key"], json.loads(r["value"])
        )
        for r in rows
    ]


def _scope_value(scope: Scope, scope_value: str | None) -> str:
    if scope is Scope.DEFAULT:
        raise InvalidSetting("the default scope is built in; set the global scope instead")
    if scope is Scope.GLOBAL:
        return ""
    if not scope_value:
        raise InvalidSetting(f"scope {scope.value!r} needs a value (which {scope.value})")
    return scope_value


async def set_setting(
    pool: asyncpg.Pool,
    *,
    scope: Scope,
    scope_value: str | None,
    key: str,
    value: Any,
    actor: str,
) -> None:
    """Store one value; it is in force for the next call. Raises InvalidSetting naming the key."""
    canonical = validate_setting(key, value)
    where = _scope_value(scope, scope_value)
    async with pool.acquire() as connection, connection.transaction():
        old = await connection.fetchval(
            "SELECT value FROM routing_settings "
            "WHERE scope_kind = $1 AND scope_value = $2 AND key = $3 FOR UPDATE",
            scope.value, where, key,
        )  # fmt: skip
        await connection.execute(
            """
            INSERT INTO routing_settings (scope_kind, scope_value, key, value, updated_by)
            VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (scope_kind, scope_value, key)
            DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
                          updated_at = now()
            """,
            scope.value, where, key, json.dumps(canonical), actor,
        )  # fmt: skip
        await record_change(
            connection, actor=actor, scope_kind=scope.value, scope_value=where, key=key,
            old=old, new=json.dumps(canonical),
        )  # fmt: skip


async def clear_setting(
    pool: asyncpg.Pool, *, scope: Scope, scope_value: str | None, key: str, actor: str
) -> bool:
    """Remove a scope's value so the wider scope's value applies again; audited like a change."""
    where = _scope_value(scope, scope_value)
    async with pool.acquire() as connection, connection.transaction():
        old = await connection.fetchval(
            "DELETE FROM routing_settings WHERE scope_kind = $1 AND scope_value = $2 AND key = $3 "
            "RETURNING value",
            scope.value, where, key,
        )  # fmt: skip
        if old is None:
            return False
        await record_change(
            connection, actor=actor, scope_kind=scope.value, scope_value=where, key=key,
            old=old, new=None,
        )  # fmt: skip
    return True
