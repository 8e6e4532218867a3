"""Tell listeners of a call's decision also when the call's row is inserted with it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

The journal applies a call's start, its decision and (for a queue or blocked call) its route in
one INSERT when they come together (CallRecorder.call_opened): one statement instead of three
for most calls. Migration 0007's trigger fires only on an UPDATE that first sets `route`; this one
sends the same notice (`sticky_call_decided`, the call id) for a row inserted with its route, so
an agent's pop waiting for the decision hears of it either way.
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TRIGGER interactions_decided_at_insert AFTER INSERT ON interactions
        FOR EACH ROW WHEN (NEW.route IS NOT NULL)
        EXECUTE FUNCTION sticky_call_decided()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER interactions_decided_at_insert ON interactions")
