"""Retention and erasure of personal data: deletable customers, anonymous counts, erasure audit.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Before this revision a customer could not be deleted at all: tickets and interactions pointed
at them without ON DELETE, so `forget-customer` had nothing to stand on. Now a customer's
tickets go with them, and their calls stay (countable, for reports) with `customer_id` and
`ticket_id` set to NULL. Deleting an agent no longer fails on a customer's personal manager.

The retention job (routing_core/store/retention.py) deletes old calls; before it does, it adds
them to `interaction_daily_counts`, one row per day and kind of call, which carries nothing that
names a caller. `erasure_audit` says who erased a customer, when and by which kind of key, and
what was erased in numbers only: never the erased data itself.

The foreign keys are replaced NOT VALID and then validated: validation scans the table with a
lock that lets calls be recorded meanwhile, instead of blocking writes for the whole scan.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (table, column, referenced table, ON DELETE behaviour now)
FOREIGN_KEYS = (
    ("tickets", "customer_id", "customers", "CASCADE"),
    ("interactions", "customer_id", "customers", "SET NULL"),
    ("interactions", "ticket_id", "tickets", "SET NULL"),
    ("customers", "personal_agent_id", "agents", "SET NULL"),
)


def _replace_foreign_key(table: str, column: str, target: str, on_delete: str | None) -> None:
    name = f"{table}_{column}_fkey"  # PostgreSQL's own name for the keys of 0001
    action = f" ON DELETE {on_delete}" if on_delete else ""
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
        f"REFERENCES {target} (id){action} NOT VALID"
    )
    op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def upgrade() -> None:
    for table, column, target, on_delete in FOREIGN_KEYS:
        _replace_foreign_key(table, column, target, on_delete)
    # One row per day (UTC) and kind of call: what the dashboard counts (routing_core.store.
    # reports), so a purged day keeps its numbers. Empty strings stand for NULL in the key.
    op.execute(
        """
        CREATE TABLE interaction_daily_counts (
            day date NOT NULL,
            queue text NOT NULL,
            route text NOT NULL DEFAULT '',
            route_reason text NOT NULL DEFAULT '',
            outcome text NOT NULL DEFAULT '',
            outcome_reason text NOT NULL DEFAULT '',
            target_agent text NOT NULL DEFAULT '',
            calls bigint NOT NULL,
            answered bigint NOT NULL,
            answer_seconds double precision NOT NULL,
            PRIMARY KEY (day, queue, route, route_reason, outcome, outcome_reason, target_agent)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE erasure_audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            key_kind text NOT NULL CHECK (key_kind IN ('id', 'name', 'number', 'account')),
            reference text CHECK (reference ~ '^[A-Za-z0-9_.:/-]{1,64}$'),
            erased jsonb NOT NULL
        )
        """
    )
    # The purge finds old rows by time; BRIN costs almost nothing on these append-only tables,
    # and pops are read by agent, so their time needs an index of its own.
    op.execute("CREATE INDEX agent_pops_by_time ON agent_pops (rang_at)")
    op.execute(
        "CREATE INDEX interaction_notes_by_time ON interaction_notes USING brin (created_at)"
    )
    op.execute("CREATE INDEX agent_actions_by_time ON agent_actions USING brin (at)")


def downgrade() -> None:
    for index in ("agent_actions_by_time", "interaction_notes_by_time", "agent_pops_by_time"):
        op.execute(f"DROP INDEX {index}")
    op.execute("DROP TABLE erasure_audit")
    op.execute("DROP TABLE interaction_daily_counts")
    for table, column, target, _ in FOREIGN_KEYS:
        _replace_foreign_key(table, column, target, None)
