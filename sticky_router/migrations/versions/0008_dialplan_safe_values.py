"""Only values that are safe in a dialplan application can be stored where the dialplan reads them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

An agent's endpoint reaches Dial(), DEVICE_STATE() and QUEUE_MEMBER(); a block's destination
reaches Queue() or Playback(). The old endpoint check allowed `&` (a second, parallel
destination), `,` (Dial options) and parentheses. The patterns are those of
routing_core/dialplan_safe.py (a test holds them equal). Rows that break them stop the upgrade
with their names, so an admin fixes them knowingly instead of the router dialling them.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ENDPOINT = r"^[A-Za-z][A-Za-z0-9_-]{0,19}/[A-Za-z0-9_.@:+/-]{1,90}$"
SOUND = r"^[A-Za-z0-9_][A-Za-z0-9_/-]{0,199}$"
QUEUE = r"^[A-Za-z0-9_-]{1,80}$"


def upgrade() -> None:
    op.execute(
        f"""
        DO $$
        DECLARE bad text;
        BEGIN
            SELECT string_agg(name, ', ') INTO bad FROM agents WHERE endpoint !~ '{ENDPOINT}';
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'agents with an endpoint unsafe for Dial(): %; change them to '
                    'Tech/resource (letters, digits, _ . @ : + / -) and upgrade again', bad;
            END IF;
            SELECT string_agg(id::text, ', ') INTO bad FROM caller_blocks
             WHERE NOT ((destination_kind = 'queue' AND destination ~ '{QUEUE}')
                     OR (destination_kind = 'message' AND destination ~ '{SOUND}'));
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'caller blocks with an unsafe destination (ids %); change them '
                    'and upgrade again', bad;
            END IF;
        END $$
        """
    )
    op.execute("ALTER TABLE agents DROP CONSTRAINT IF EXISTS agents_endpoint_check")
    op.execute(
        f"ALTER TABLE agents ADD CONSTRAINT agents_endpoint_check CHECK (endpoint ~ '{ENDPOINT}')"
    )
    op.execute(
        "ALTER TABLE caller_blocks ADD CONSTRAINT caller_blocks_destination_safe CHECK ("
        f"(destination_kind = 'queue' AND destination ~ '{QUEUE}') OR "
        f"(destination_kind = 'message' AND destination ~ '{SOUND}'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE caller_blocks DROP CONSTRAINT caller_blocks_destination_safe")
    op.execute("ALTER TABLE agents DROP CONSTRAINT agents_endpoint_check")
    op.execute(
        "ALTER TABLE agents ADD CONSTRAINT agents_endpoint_check "
        "CHECK (endpoint ~ '^[A-Za-z0-9_-]+/[^[:space:]]+$')"
    )
