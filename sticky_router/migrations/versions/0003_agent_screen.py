"""Agent screen and web sign-in: credentials, admins, sessions, pops, notes, agent actions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Agents sign in with their own password (argon2 hash on `agents`); admins are people of their own
(`admin_users`), signed in separately. A web session is an opaque random token in a cookie; only
its SHA-256 is stored, so a copy of this table opens no session. `agent_pops` is one row per call
per agent whose phone rang: it makes the pop happen once (ARI and AMI both report a ring) and it
is what lets an agent open that call's screen and act on it.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE agents ADD COLUMN password_hash text")
    op.execute(
        """
        CREATE TABLE admin_users (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
            display_name text NOT NULL,
            password_hash text,
            language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ru')),
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE web_sessions (
            token_hash text PRIMARY KEY,
            agent_id bigint REFERENCES agents (id) ON DELETE CASCADE,
            admin_id bigint REFERENCES admin_users (id) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            created_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            CHECK ((agent_id IS NULL) <> (admin_id IS NULL))
        )
        """
    )
    op.execute("CREATE INDEX web_sessions_by_agent ON web_sessions (agent_id)")
    op.execute("CREATE INDEX web_sessions_by_admin ON web_sessions (admin_id)")
    op.execute("CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at)")
    # What the caller keyed in the IVR, as keyed (the caller key is only the one that won).
    op.execute(
        "ALTER TABLE interactions ADD COLUMN ivr_account text, ADD COLUMN ivr_ticket text, "
        "ADD COLUMN ivr_menu text"
    )
    op.execute(
        """
        CREATE TABLE agent_pops (
            call_id text NOT NULL,
            agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
            rang_at timestamptz NOT NULL,
            source text NOT NULL CHECK (source IN ('sticky', 'queue', 'transfer')),
            PRIMARY KEY (call_id, agent_id)
        )
        """
    )
    op.execute("CREATE INDEX agent_pops_by_agent ON agent_pops (agent_id, rang_at DESC)")
    op.execute(
        """
        CREATE TABLE interaction_notes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            interaction_id bigint NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
            agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
            body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX interaction_notes_by_interaction ON interaction_notes (interaction_id)"
    )
    # Every agent action on a call, in order: the trail a supervisor reads.
    op.execute(
        """
        CREATE TABLE agent_actions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            interaction_id bigint NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
            agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
            action text NOT NULL,
            detail jsonb NOT NULL DEFAULT '{}',
            at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX agent_actions_by_interaction ON agent_actions (interaction_id)")
    # Which call a do-not-pair request came from, for the supervisor who reviews it.
    op.execute(
        "ALTER TABLE do_not_pair ADD COLUMN interaction_id bigint "
        "REFERENCES interactions (id) ON DELETE SET NULL"
    )
    op.execute(
        "CREATE INDEX do_not_pair_pending ON do_not_pair (requested_at) WHERE status = 'pending'"
    )
    # Tickets an agent opens from the screen get numbers of their own.
    op.execute("CREATE SEQUENCE ticket_numbers START 20001")


def downgrade() -> None:
    op.execute("DROP SEQUENCE ticket_numbers")
    op.execute("DROP INDEX do_not_pair_pending")
    op.execute("ALTER TABLE do_not_pair DROP COLUMN interaction_id")
    for table in (
        "agent_actions",
        "interaction_notes",
        "agent_pops",
        "web_sessions",
        "admin_users",
    ):
        op.execute(f"DROP TABLE {table}")
    op.execute(
        "ALTER TABLE interactions DROP COLUMN ivr_account, DROP COLUMN ivr_ticket, "
        "DROP COLUMN ivr_menu"
    )
    op.execute("ALTER TABLE agents DROP COLUMN password_hash")
