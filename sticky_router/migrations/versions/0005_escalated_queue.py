"""Escalations to a queue: the second-line queue a caller was handed to, even if nobody took them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

`interactions.escalated_queue` is the queue an agent transferred the caller to (a second-line
queue). Without it, a caller handed to second line who gave up before any specialist rang left
no trace of the escalation, and their callback started again at first line.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE interactions ADD COLUMN escalated_queue text")


def downgrade() -> None:
    op.execute("ALTER TABLE interactions DROP COLUMN escalated_queue")
