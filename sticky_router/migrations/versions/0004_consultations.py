"""Consultations: a colleague the agent consulted is not a handover until the caller reaches them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`interaction_legs.consultation` is true for a leg the agent talking with the caller dialled to
consult a colleague (an attended transfer begun). It turns false when the transfer completes
(the caller is handed over) or when the caller hangs up while the colleague is still on the
line (waiting for them). A consultation the colleague declined stays true: it is neither an
escalation nor a conversation with the caller, and the routing history leaves it out.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE interaction_legs ADD COLUMN consultation boolean NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE interaction_legs DROP COLUMN consultation")
