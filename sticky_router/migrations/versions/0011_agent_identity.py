"""How the PBX knows an agent: queue member interface, state interface, and their phones.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A FreePBX or Issabel line makes each agent a queue member such as Local/102@from-queue/n whose
state comes from hint:102@ext-local, and rings every phone of extension 102 (a desk phone and a
softphone). `endpoint` stays what a sticky attempt dials; `queue_interface` and `state_interface`
say how the queues and the hint know the agent (NULL: the endpoint, as on a plain Asterisk), and
`devices` lists the phones that ring for them, by which AMI's reports find the agent. Each value
reaches a dialplan function or is matched against channel names, so each is held to the patterns
of routing_core/dialplan_safe.py (a test holds the copies here equal).
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ENDPOINT = r"^[A-Za-z][A-Za-z0-9_-]{0,19}/[A-Za-z0-9_.@:+/-]{1,90}$"
HINT = r"^hint:[0-9A-Za-z_*#+-]{1,40}@[A-Za-z0-9_-]{1,80}$"
MAX_DEVICES = 8
# The devices joined by spaces: each an ENDPOINT (which holds no space), or none at all.
_DEVICE = ENDPOINT.removeprefix("^").removesuffix("$")
DEVICES = f"^({_DEVICE}( {_DEVICE})*)?$"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE agents
          ADD COLUMN queue_interface text
            CONSTRAINT agents_queue_interface_check CHECK (queue_interface ~ '{ENDPOINT}'),
          ADD COLUMN state_interface text
            CONSTRAINT agents_state_interface_check
            CHECK (state_interface ~ '{ENDPOINT}' OR state_interface ~ '{HINT}'),
          ADD COLUMN devices text[] NOT NULL DEFAULT '{{}}'
            CONSTRAINT agents_devices_check
            CHECK (cardinality(devices) <= {MAX_DEVICES}
                   AND array_to_string(devices, ' ') ~ '{DEVICES}')
        """
    )
    # AMI names a phone: the agent is looked up by it on every recorded leg.
    op.execute("CREATE INDEX agents_devices ON agents USING gin (devices)")
    # The one definition of "the agent a report names" (the recorder, the pops): by dial
    # endpoint, name, queue member interface or one of their phones; a Local channel's device
    # (Local/102@from-queue, routing_core.channels.device_of) is the endpoint without its
    # options (/n). The endpoint wins over a name, a name over the rest.
    op.execute(
        """
        CREATE FUNCTION agent_named(who text) RETURNS bigint LANGUAGE sql STABLE AS $$
            SELECT id FROM agents
             WHERE endpoint = who OR name = who OR queue_interface = who
                OR who = ANY(devices)
                OR (endpoint LIKE 'Local/%' AND regexp_replace(endpoint, '/[^/@]*$', '') = who)
             ORDER BY endpoint = who DESC, name = who DESC, id
             LIMIT 1
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION agent_named(text)")
    op.execute("DROP INDEX agents_devices")
    op.execute(
        "ALTER TABLE agents DROP COLUMN devices, DROP COLUMN state_interface, "
        "DROP COLUMN queue_interface"
    )
