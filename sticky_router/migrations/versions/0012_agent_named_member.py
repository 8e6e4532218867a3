"""A report that names the agent's queue member as a Local channel finds the agent.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

On FreePBX the router rings an agent through `Local/102@from-queue-exten-only/n` (the extension's
phones, never its follow-me) while the queue rings the member `Local/102@from-queue/n`: two Local
channels, one agent. agent_named() knew a Local channel's device (Local/102@from-queue, the
interface without its options) only by the endpoint; it now knows it by the queue member
interface too, so the queue's calls are learned as the agent's whichever of the two is dialled.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BY_NAME_OR_INTERFACE = """
            SELECT id FROM agents
             WHERE endpoint = who OR name = who OR queue_interface = who
                OR who = ANY(devices)
                OR (endpoint LIKE 'Local/%' AND regexp_replace(endpoint, '/[^/@]*$', '') = who)
"""
_ORDER = """
             ORDER BY endpoint = who DESC, name = who DESC, id
             LIMIT 1
"""
_MEMBER = """
                OR (queue_interface LIKE 'Local/%'
                    AND regexp_replace(queue_interface, '/[^/@]*$', '') = who)
"""


def _define(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION agent_named(who text) RETURNS bigint LANGUAGE sql STABLE"
        f" AS $$ {body} $$"
    )


def upgrade() -> None:
    _define(_BY_NAME_OR_INTERFACE + _MEMBER + _ORDER)


def downgrade() -> None:
    _define(_BY_NAME_OR_INTERFACE + _ORDER)
