"""At most one automatic incident open per queue: several processes watching one Asterisk's
backlog (the router, a FastAGI server) cannot declare the same outage twice.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE UNIQUE INDEX incidents_one_automatic ON incidents (scope_kind, scope_value) "
        "WHERE ended_at IS NULL AND started_by = 'automatic'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX incidents_one_automatic")
