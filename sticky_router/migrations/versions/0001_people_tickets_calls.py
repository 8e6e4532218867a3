"""People, tickets and calls: agents, customers, numbers, tickets, interactions and their legs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The callback lookup must stay a few index probes at 10 million interactions, so every way the
policy reaches history (by number, by customer, by ticket) has its own index ordered by the end of
the call, newest first, and only finished calls are indexed.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE agents (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
            display_name text NOT NULL,
            endpoint text NOT NULL UNIQUE CHECK (endpoint ~ '^[A-Za-z0-9_-]+/[^[:space:]]+$'),
            role text NOT NULL DEFAULT 'first_line' CHECK (role IN ('first_line', 'specialist')),
            active boolean NOT NULL DEFAULT true,
            language text NOT NULL DEFAULT 'en',
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE customer_classes (
            name text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
            description text NOT NULL DEFAULT ''
        )
        """
    )
    op.execute(
        "INSERT INTO customer_classes (name, description) "
        "VALUES ('standard', 'Every customer without a class of their own')"
    )
    op.execute(
        """
        CREATE TABLE customers (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            class_name text NOT NULL DEFAULT 'standard'
                REFERENCES customer_classes (name) ON UPDATE CASCADE,
            account_number text UNIQUE,
            language text,
            personal_agent_id bigint REFERENCES agents (id),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE phone_numbers (
            e164 text NOT NULL CHECK (e164 ~ '^\\+[1-9][0-9]{4,15}$'),
            customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            label text,
            PRIMARY KEY (e164, customer_id)
        )
        """
    )
    op.execute("CREATE INDEX phone_numbers_by_customer ON phone_numbers (customer_id)")
    op.execute(
        """
        CREATE TABLE tickets (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            external_id text NOT NULL UNIQUE,
            customer_id bigint NOT NULL REFERENCES customers (id),
            subject text NOT NULL,
            status text NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
            owner_agent_id bigint REFERENCES agents (id),
            last_faults text,
            promised_by timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX tickets_open_by_customer ON tickets (customer_id, updated_at DESC) "
        "WHERE status IN ('open', 'pending')"
    )
    op.execute(
        """
        CREATE TABLE interactions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            call_id text NOT NULL UNIQUE,
            caller_number text,
            key_kind text CHECK (key_kind IN ('ticket', 'account', 'number')),
            key_value text,
            customer_id bigint REFERENCES customers (id),
            ticket_id bigint REFERENCES tickets (id),
            queue text NOT NULL,
            did text,
            started_at timestamptz NOT NULL,
            answered_at timestamptz,
            ended_at timestamptz,
            hangup_side text CHECK (hangup_side IN ('caller', 'agent', 'system')),
            route text CHECK (route IN ('sticky', 'queue', 'blocked')),
            route_reason text,
            target_agent_id bigint REFERENCES agents (id),
            outcome text,
            outcome_reason text,
            note text
        )
        """
    )
    for name, column in (
        ("number", "caller_number"),
        ("customer", "customer_id"),
        ("ticket", "ticket_id"),
    ):
        op.execute(
            f"CREATE INDEX interactions_by_{name} ON interactions ({column}, ended_at DESC) "
            f"WHERE ended_at IS NOT NULL AND {column} IS NOT NULL"
        )
    # Reports and the what-if replay scan by time; BRIN costs almost nothing on an append-only table.
    op.execute("CREATE INDEX interactions_started_brin ON interactions USING brin (started_at)")
    op.execute(
        """
        CREATE TABLE interaction_legs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            interaction_id bigint NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
            leg_id text NOT NULL,
            agent_id bigint NOT NULL REFERENCES agents (id),
            role text NOT NULL CHECK (role IN ('first_line', 'specialist')),
            rang_at timestamptz,
            answered_at timestamptz,
            ended_at timestamptz,
            transferred_from_leg_id text,
            hangup_side text CHECK (hangup_side IN ('caller', 'agent', 'system')),
            outcome text,
            UNIQUE (interaction_id, leg_id)
        )
        """
    )
    op.execute("CREATE INDEX interaction_legs_by_agent ON interaction_legs (agent_id)")


def downgrade() -> None:
    for table in (
        "interaction_legs",
        "interactions",
        "tickets",
        "phone_numbers",
        "customers",
        "customer_classes",
        "agents",
    ):
        op.execute(f"DROP TABLE {table}")
