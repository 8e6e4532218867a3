"""When each agent's last conversation ended, read in one index probe (wrap-up).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The routing lookup reads, for every agent it may ring, the end of their last answered call, so
an agent still in wrap-up after it is not rung (routing setting wrap_up_seconds).
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX interaction_legs_last_talk ON interaction_legs (agent_id, ended_at DESC)"
        " WHERE answered_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX interaction_legs_last_talk")
