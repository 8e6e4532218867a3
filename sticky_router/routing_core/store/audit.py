"""The one trail of admin changes: every row of settings_audit is written here.

Routing settings (settings_store), agents and customer classes (the admin people API) and the
review of do-not-pair requests (the admin API) each add a row inside the transaction of their
change, so one trail answers "who changed what", and its columns are spelled once.
"""

from __future__ import annotations

import json
from typing import Any

from sticky_router.routing_core.store import Connection


def as_json(value: Any) -> str | None:
    """A Python value as the JSON text an audit row keeps; None stays "no value"."""
    return None if value is None else json.dumps(value)


async def record_change(
    connection: Connection,
    *,
    actor: str,
    scope_kind: str,
    scope_value: str,
    key: str,
    old: str | None,
    new: str | None,
) -> None:
    """One audited change. `old` and `new` are JSON text (as a jsonb column reads, or as_json
    writes); None is no value: a setting that was not set, or that was cleared."""
    await connection.execute(
        "INSERT INTO settings_audit (actor, scope_kind, scope_value, key, old_value, new_value)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
        actor, scope_kind, scope_value, key, old, new,
    )  # fmt: skip
