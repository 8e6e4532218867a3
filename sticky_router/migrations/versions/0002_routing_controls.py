"""Routing controls: do-not-pair flags, caller blocks, scoped settings with audit, sticky claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An agent's "don't route this caller to me" and an abuse flag both wait for a supervisor.
    op.execute(
        """
        CREATE TABLE do_not_pair (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id bigint REFERENCES customers (id) ON DELETE CASCADE,
            e164 text,
            agent_id bigint NOT NULL REFERENCES agents (id),
            kind text NOT NULL CHECK (kind IN ('abuse', 'agent_request')),
            reason text NOT NULL,
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
            requested_by text NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            reviewed_by text,
            reviewed_at timestamptz,
            expires_at timestamptz,
            CHECK (customer_id IS NOT NULL OR e164 IS NOT NULL)
        )
        """
    )
    op.execute(
        "CREATE INDEX do_not_pair_by_customer ON do_not_pair (customer_id) "
        "WHERE status = 'approved' AND customer_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX do_not_pair_by_number ON do_not_pair (e164) "
        "WHERE status = 'approved' AND e164 IS NOT NULL"
    )
    # A block is temporary by definition, so it cannot be stored without an expiry.
    op.execute(
        """
        CREATE TABLE caller_blocks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id bigint REFERENCES customers (id) ON DELETE CASCADE,
            e164 text,
            reason text NOT NULL,
            destination_kind text NOT NULL CHECK (destination_kind IN ('queue', 'message')),
            destination text NOT NULL,
            status text NOT NULL DEFAULT 'approved'
                CHECK (status IN ('pending', 'approved', 'lifted')),
            set_by text NOT NULL,
            set_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            CHECK (customer_id IS NOT NULL OR e164 IS NOT NULL)
        )
        """
    )
    op.execute(
        "CREATE INDEX caller_blocks_by_customer ON caller_blocks (customer_id) "
        "WHERE status = 'approved' AND customer_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX caller_blocks_by_number ON caller_blocks (e164) "
        "WHERE status = 'approved' AND e164 IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE routing_settings (
            scope_kind text NOT NULL
                CHECK (scope_kind IN ('global', 'queue', 'did', 'customer_class')),
            scope_value text NOT NULL DEFAULT '',
            key text NOT NULL,
            value jsonb NOT NULL,
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope_kind, scope_value, key),
            CHECK ((scope_kind = 'global') = (scope_value = ''))
        )
        """
    )
    op.execute(
        """
        CREATE TABLE settings_audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            scope_kind text NOT NULL,
            scope_value text NOT NULL,
            key text NOT NULL,
            old_value jsonb,
            new_value jsonb
        )
        """
    )
    # A claim is an agent promised to one ringing callback. At most one live claim per agent is
    # what keeps two simultaneous callbacks from the same caller from both ringing that agent.
    op.execute(
        """
        CREATE TABLE sticky_claims (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            call_id text NOT NULL,
            agent_id bigint NOT NULL REFERENCES agents (id),
            claimed_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            released_at timestamptz,
            outcome text,
            UNIQUE (call_id, agent_id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX sticky_claims_one_live_per_agent ON sticky_claims (agent_id) "
        "WHERE released_at IS NULL"
    )
    op.execute("CREATE INDEX sticky_claims_by_agent_time ON sticky_claims (agent_id, claimed_at)")


def downgrade() -> None:
    for table in (
        "sticky_claims",
        "settings_audit",
        "routing_settings",
        "caller_blocks",
        "do_not_pair",
    ):
        op.execute(f"DROP TABLE {table}")
