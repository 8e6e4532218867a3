"""Several Asterisk nodes on one history (issue 17): which queue members each node has now.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

Each router of a node of several publishes its Asterisk's queue members (AMI's member board:
membership, pause, device state) in `node_members`, and says it is alive in `cluster_nodes`.
Another node's router reads them to ring an agent logged in elsewhere, through the trunk to that
node (`PJSIP/agent2@node-a`); rows of a node whose router stopped saying it is alive count for
nothing. agent_named() now knows the agent behind such a dial string, so the sticky leg rung
through a trunk is learned as theirs.

Several routers for one Asterisk (StasisBroadcast) each say they are alive in
`router_heartbeats`, by their ARI application name: a caller held by the application of a router
that stopped beating is taken over by another router's sweep and sent to the queue.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BY_NAME_OR_INTERFACE = """
            SELECT id FROM agents
             WHERE endpoint = who OR name = who OR queue_interface = who
                OR who = ANY(devices)
                OR (endpoint LIKE 'Local/%' AND regexp_replace(endpoint, '/[^/@]*$', '') = who)
"""
_ORDER = """
             ORDER BY endpoint = who DESC, name = who DESC, id
             LIMIT 1
"""
_MEMBER = """
                OR (queue_interface LIKE 'Local/%'
                    AND regexp_replace(queue_interface, '/[^/@]*$', '') = who)
"""
# PJSIP/agent2@node-a: the agent's own device, dialled through the trunk named after a node.
_THROUGH_A_NODE = """
                OR (endpoint NOT LIKE 'Local/%' AND endpoint NOT LIKE '%@%'
                    AND who ~ '^[^@]+@[a-z0-9][a-z0-9-]{0,31}$'
                    AND split_part(who, '@', 1) = endpoint)
"""


def _define(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION agent_named(who text) RETURNS bigint LANGUAGE sql STABLE"
        f" AS $$ {body} $$"
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE cluster_nodes (
            name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
            alive_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE node_members (
            node text NOT NULL REFERENCES cluster_nodes (name) ON DELETE CASCADE,
            queue text NOT NULL,
            interface text NOT NULL,
            device_state text NOT NULL,
            paused boolean NOT NULL,
            PRIMARY KEY (node, queue, interface)
        )
        """
    )
    op.execute("CREATE INDEX node_members_by_interface ON node_members (lower(interface))")
    op.execute(
        """
        CREATE TABLE router_heartbeats (
            app text PRIMARY KEY CHECK (app ~ '^[A-Za-z0-9_.-]{1,64}$'),
            alive_at timestamptz NOT NULL
        )
        """
    )
    _define(_BY_NAME_OR_INTERFACE + _MEMBER + _THROUGH_A_NODE + _ORDER)


def downgrade() -> None:
    _define(_BY_NAME_OR_INTERFACE + _MEMBER + _ORDER)
    op.execute("DROP TABLE router_heartbeats")
    op.execute("DROP TABLE node_members")
    op.execute("DROP TABLE cluster_nodes")
