"""A caller block can be proposed (by an agent from the call, or by a supervisor) and waits,
pending, for a supervisor's approval or rejection; the call it was proposed from is kept.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

`pending` blocks existed in the schema but nothing made them; a rejected proposal needs a status
of its own (a `lifted` block was once in force, a rejected one never was). The lookup honours
only `approved` blocks, as before.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE caller_blocks DROP CONSTRAINT caller_blocks_status_check")
    op.execute(
        "ALTER TABLE caller_blocks ADD CONSTRAINT caller_blocks_status_check "
        "CHECK (status IN ('pending', 'approved', 'lifted', 'rejected'))"
    )
    op.execute(
        "ALTER TABLE caller_blocks ADD COLUMN interaction_id bigint "
        "REFERENCES interactions (id) ON DELETE SET NULL"
    )
    # One open proposal per caller: a second agent's proposal joins the first.
    op.execute(
        "CREATE UNIQUE INDEX caller_blocks_one_proposal ON caller_blocks "
        "(coalesce(customer_id, 0), coalesce(e164, '')) WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX caller_blocks_one_proposal")
    op.execute("ALTER TABLE caller_blocks DROP COLUMN interaction_id")
    op.execute("UPDATE caller_blocks SET status = 'lifted' WHERE status = 'rejected'")
    op.execute("ALTER TABLE caller_blocks DROP CONSTRAINT caller_blocks_status_check")
    op.execute(
        "ALTER TABLE caller_blocks ADD CONSTRAINT caller_blocks_status_check "
        "CHECK (status IN ('pending', 'approved', 'lifted'))"
    )
