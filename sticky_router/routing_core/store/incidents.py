"""Incidents: outages a supervisor declares and ends, each change audited in the same
transaction. The lookup reads the one in force for a call (store/lookup.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sticky_router.routing_core.store import Connection, Executor
from sticky_router.routing_core.store.audit import as_json, record_change

AUDIT_SCOPE = "incident"


@dataclass(frozen=True)
class NewIncident:
    scope_kind: str  # global | queue | did
    scope_value: str  # "" for global
    description: str
    announce_sound: str | None  # checked against routing_core.dialplan_safe by the caller
    expected_end: datetime | None


async def declare(connection: Connection, incident: NewIncident, actor: str) -> int:
    incident_id = await connection.fetchval(
        "INSERT INTO incidents (scope_kind, scope_value, description, announce_sound,"
        " expected_end, started_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        incident.scope_kind, incident.scope_value, incident.description,
        incident.announce_sound, incident.expected_end, actor,
    )  # fmt: skip
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(incident_id),
        key="status", old=None,
        new=as_json({"status": "declared", "scope": incident.scope_kind,
                     "scope_value": incident.scope_value, "sound": incident.announce_sound}),
    )  # fmt: skip
    return int(incident_id)


async def end(connection: Connection, incident_id: int, actor: str) -> bool:
    """Ends an incident in force; False when none with that id is."""
    ended = await connection.fetchval(
        "UPDATE incidents SET ended_at = now(), ended_by = $2"
        " WHERE id = $1 AND ended_at IS NULL RETURNING id",
        incident_id, actor,
    )  # fmt: skip
    if ended is None:
        return False
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(incident_id),
        key="status", old=as_json("declared"), new=as_json("ended"),
    )  # fmt: skip
    return True


async def in_force(executor: Executor) -> list[dict[str, object]]:
    rows = await executor.fetch(
        "SELECT id, scope_kind, scope_value, description, announce_sound, started_at,"
        " expected_end, started_by FROM incidents WHERE ended_at IS NULL ORDER BY started_at"
    )
    return [dict(row) for row in rows]
