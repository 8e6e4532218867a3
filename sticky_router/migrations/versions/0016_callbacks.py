"""Callbacks a caller asked for when their agent was busy (the wait offer's 2): each is owned by
that agent until it expires, dialled to the agent first and then to the caller.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        r"""
        CREATE TABLE callbacks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            -- The call that asked: applying the journal's event twice asks once.
            call_id text NOT NULL UNIQUE,
            agent_id bigint NOT NULL REFERENCES agents (id),
            customer_id bigint REFERENCES customers (id) ON DELETE CASCADE,
            -- Dialled back through the dialplan: digits (an E.164 +) only, nothing else.
            number text NOT NULL CHECK (number ~ '^\+?[0-9]{3,20}$'),
            queue text NOT NULL CHECK (queue ~ '^[A-Za-z0-9_-]{1,80}$'),
            requested_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'dialling', 'done', 'failed', 'expired')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            -- The owning agent pressed "call now": dialled even while they are paused.
            call_now_at timestamptz,
            last_attempt_at timestamptz,
            outcome text,
            closed_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX callbacks_open ON callbacks (agent_id, requested_at) "
               "WHERE status IN ('pending', 'dialling')")  # fmt: skip


def downgrade() -> None:
    op.execute("DROP TABLE callbacks")
