"""Tell listeners when a call's decision is recorded (PostgreSQL NOTIFY), instead of polling.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

The agent screen's pop for a ring waits for the call's decision (its first line says why the
call came to this agent). The decision may be written by this process's journal or by another
process's (the FastAGI server), so the wait is for PostgreSQL to say so: a trigger notifies
channel `sticky_call_decided` with the call id when `route` is first set.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION sticky_call_decided() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sticky_call_decided', NEW.call_id);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER interactions_decided AFTER UPDATE OF route ON interactions
        FOR EACH ROW WHEN (OLD.route IS NULL AND NEW.route IS NOT NULL)
        EXECUTE FUNCTION sticky_call_decided()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER interactions_decided ON interactions")
    op.execute("DROP FUNCTION sticky_call_decided()")
