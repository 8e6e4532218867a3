"""Incidents: an outage a supervisor declares (every call, a queue or a dialled number), during
which stickiness steps aside and callers may hear a notice before routing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        r"""
        CREATE TABLE incidents (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            scope_kind text NOT NULL CHECK (scope_kind IN ('global', 'queue', 'did')),
            scope_value text NOT NULL DEFAULT '',
            description text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
            -- Reaches Playback(): a sound name, nothing else (routing_core.dialplan_safe).
            announce_sound text CHECK (announce_sound ~ '^[A-Za-z0-9_][A-Za-z0-9_/-]{0,199}$'),
            started_at timestamptz NOT NULL DEFAULT now(),
            expected_end timestamptz,
            ended_at timestamptz,
            started_by text NOT NULL,
            ended_by text,
            CHECK ((scope_kind = 'global') = (scope_value = ''))
        )
        """
    )
    op.execute("CREATE INDEX incidents_open ON incidents (scope_kind, scope_value) "
               "WHERE ended_at IS NULL")  # fmt: skip


def downgrade() -> None:
    op.execute("DROP TABLE incidents")
