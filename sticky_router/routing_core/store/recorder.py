"""Record what happens to a call, so the next callback can find who helped.

Every method is idempotent: the first report of an event wins (an event's fields are only
written while the event is not yet recorded; a second start only fills what the first did not
know), so the journal applying an event again after a crash, or the same event heard from two
sources (ARI and AMI live, the queue_log afterwards), changes nothing the second time. Each
method returns whether the call (and agent) it names were known: the journal's applier keeps an
event whose call is not known yet until it is (routing_core/store/applier.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg

from sticky_router.routing_core.events import (
    CallbackRequested,
    CallRouted,
    CallStarted,
    DecisionMade,
)
from sticky_router.routing_core.model import HangupSide, IncomingCall
from sticky_router.routing_core.observer import RoutingObserver, notify_ring_ended
from sticky_router.routing_core.store import Connection, Executor

# The agent a report names (endpoint, name, member interface or one of their phones): the SQL
# function of migration 0011.
_AGENT = "agent_named({0})"
_AGENT_ROLE = "(SELECT role FROM agents WHERE id = agent_named({0}))"
_INTERACTION = "(SELECT id FROM interactions WHERE call_id = {0})"


class CallRecorder:
    def __init__(self, pool: Executor, observer: RoutingObserver | None = None) -> None:
        self._pool = pool  # a pool, or one connection of it (session)
        self._observer = observer

    @contextlib.asynccontextmanager
    async def session(self, checkout_seconds: float) -> AsyncIterator[CallRecorder]:
        """This recorder on one connection for a run of reports (a journal pass applies many):
        one pool checkout for them all instead of one per statement. Each statement still
        commits on its own."""
        if not isinstance(self._pool, asyncpg.Pool):
            yield self
            return
        async with self._pool.acquire(timeout=checkout_seconds) as connection:
            yield CallRecorder(connection, self._observer)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        if isinstance(self._pool, asyncpg.Pool):
            async with self._pool.acquire() as connection, connection.transaction():
                yield connection
        else:
            async with self._pool.transaction():
                yield self._pool

    async def call_started(self, call: IncomingCall, number: str | None) -> bool:
        status = await self._pool.execute(
            """
            INSERT INTO interactions
                (call_id, caller_number, queue, did, started_at, ivr_account, ivr_ticket, ivr_menu)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (call_id) DO UPDATE SET
                -- Two reporters may start a call (the application live, the queue_log after
                -- the fact), in either order: what the first did not know, the second fills.
                caller_number = coalesce(interactions.caller_number, excluded.caller_number),
                did = coalesce(interactions.did, excluded.did),
                ivr_account = coalesce(interactions.ivr_account, excluded.ivr_account),
                ivr_ticket = coalesce(interactions.ivr_ticket, excluded.ivr_ticket),
                ivr_menu = coalesce(interactions.ivr_menu, excluded.ivr_menu),
                started_at = least(interactions.started_at, excluded.started_at)
            """,
            call.call_id, number, call.queue, call.did, call.at,
            call.ivr_account, call.ivr_ticket, call.ivr_menu,
        )  # fmt: skip
        return status == "INSERT 0 1"

    async def decision_made(self, made: DecisionMade) -> bool:
        """Attach who the caller is and what the core decided; the first decision stays."""
        status = await self._pool.execute(
            """
            UPDATE interactions SET
                key_kind = CASE WHEN route IS NULL THEN $2 ELSE key_kind END,
                key_value = CASE WHEN route IS NULL THEN $3 ELSE key_value END,
                customer_id = CASE WHEN route IS NULL THEN $4 ELSE customer_id END,
                ticket_id = CASE WHEN route IS NULL THEN $5 ELSE ticket_id END,
                route = coalesce(route, $6),
                route_reason = CASE WHEN route IS NULL THEN $7 ELSE route_reason END,
                target_agent_id = CASE WHEN route IS NULL THEN $8 ELSE target_agent_id END,
                ticket_ref = CASE WHEN route IS NULL THEN $9 ELSE ticket_ref END
            WHERE call_id = $1
            """,
            made.call_id, made.key_kind, made.key_value, made.customer_id, made.ticket_id,
            made.route, made.reason, made.target_agent_id, made.ticket_ref,
        )  # fmt: skip
        return status == "UPDATE 1"

    async def call_opened(
        self, started: CallStarted, made: DecisionMade, routed: CallRouted | None
    ) -> None:
        """A call's start, decision and (a queue or blocked call's) route, journalled together:
        one statement with the effect of call_started, decision_made and call_routed in turn,
        whatever an earlier report of the call (the queue_log, another process) wrote. On a
        new row the decision's notice comes from migration 0018's trigger."""
        await self._pool.execute(
            """
            INSERT INTO interactions
                (call_id, caller_number, queue, did, started_at, ivr_account, ivr_ticket,
                 ivr_menu, key_kind, key_value, customer_id, ticket_id, route, route_reason,
                 target_agent_id, ticket_ref, outcome, outcome_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17, $18)
            ON CONFLICT (call_id) DO UPDATE SET
                -- call_started: fill what the first report did not know
                caller_number = coalesce(interactions.caller_number, excluded.caller_number),
                did = coalesce(interactions.did, excluded.did),
                ivr_account = coalesce(interactions.ivr_account, excluded.ivr_account),
                ivr_ticket = coalesce(interactions.ivr_ticket, excluded.ivr_ticket),
                ivr_menu = coalesce(interactions.ivr_menu, excluded.ivr_menu),
                started_at = least(interactions.started_at, excluded.started_at),
                -- decision_made: the first decision stays
                key_kind = CASE WHEN interactions.route IS NULL
                    THEN excluded.key_kind ELSE interactions.key_kind END,
                key_value = CASE WHEN interactions.route IS NULL
                    THEN excluded.key_value ELSE interactions.key_value END,
                customer_id = CASE WHEN interactions.route IS NULL
                    THEN excluded.customer_id ELSE interactions.customer_id END,
                ticket_id = CASE WHEN interactions.route IS NULL
                    THEN excluded.ticket_id ELSE interactions.ticket_id END,
                route = coalesce(interactions.route, excluded.route),
                route_reason = CASE WHEN interactions.route IS NULL
                    THEN excluded.route_reason ELSE interactions.route_reason END,
                target_agent_id = CASE WHEN interactions.route IS NULL
                    THEN excluded.target_agent_id ELSE interactions.target_agent_id END,
                ticket_ref = CASE WHEN interactions.route IS NULL
                    THEN excluded.ticket_ref ELSE interactions.ticket_ref END,
                -- call_routed: the first route stays
                outcome = coalesce(interactions.outcome, excluded.outcome),
                outcome_reason = CASE WHEN interactions.outcome IS NULL
                    THEN excluded.outcome_reason ELSE interactions.outcome_reason END
            """,
            started.call_id, started.number, started.queue, started.did, started.at,
            started.ivr_account, started.ivr_ticket, started.ivr_menu,
            made.key_kind, made.key_value, made.customer_id, made.ticket_id, made.route,
            made.reason, made.target_agent_id, made.ticket_ref,
            routed.outcome if routed else None, routed.reason if routed else None,
        )  # fmt: skip

    async def leg_rang(
        self,
        call_id: str,
        leg_id: str,
        agent: str,
        at: datetime,
        transferred_from_leg_id: str | None = None,
        consultation: bool = False,
    ) -> bool:
        """An agent's phone started ringing for this call. `agent` is an endpoint or a name."""
        status = await self._pool.execute(
            f"""
            INSERT INTO interaction_legs
                (interaction_id, leg_id, agent_id, role, rang_at, transferred_from_leg_id,
                 consultation)
            SELECT {_INTERACTION.format("$1")}, $2, {_AGENT.format("$3")},
                   {_AGENT_ROLE.format("$3")}, $4, $5, $6
            WHERE {_INTERACTION.format("$1")} IS NOT NULL AND {_AGENT.format("$3")} IS NOT NULL
            ON CONFLICT (interaction_id, leg_id) DO UPDATE SET
                rang_at = coalesce(interaction_legs.rang_at, excluded.rang_at),
                transferred_from_leg_id = coalesce(interaction_legs.transferred_from_leg_id,
                                                   excluded.transferred_from_leg_id)
            """,
            call_id, leg_id, agent, at, transferred_from_leg_id, consultation,
        )  # fmt: skip
        return status == "INSERT 0 1"

    async def transfer(
        self,
        call_id: str,
        from_leg_id: str,
        to_leg_id: str,
        to_agent: str,
        at: datetime,
        consultation: bool = False,
    ) -> bool:
        """A transfer started: the target leg exists from now on, even if the caller hangs up
        before anyone answers it (that is what makes an escalation stick). A `consultation`
        (the agent consults a colleague first) becomes a handover only by `handover()`."""
        return await self.leg_rang(
            call_id, to_leg_id, to_agent, at, from_leg_id, consultation=consultation
        )

    async def handover(self, call_id: str, leg_id: str) -> bool:
        """The consulted colleague's leg is a handover: the attended transfer completed, or the
        caller hung up while waiting for that colleague."""
        status = await self._pool.execute(
            f"""
            UPDATE interaction_legs SET consultation = false
            WHERE interaction_id = {_INTERACTION.format("$1")} AND leg_id = $2
            """,
            call_id, leg_id,
        )  # fmt: skip
        return status == "UPDATE 1"

    async def escalated_to_queue(self, call_id: str, queue: str) -> bool:
        """An agent handed the caller to another queue (second line); the first such queue
        stays, and the call's own queue never counts."""
        status = await self._pool.execute(
            """
            UPDATE interactions SET escalated_queue = $2
            WHERE call_id = $1 AND escalated_queue IS NULL AND queue IS DISTINCT FROM $2
            """,
            call_id,
            queue,
        )
        return status == "UPDATE 1" or await self.known(call_id)

    async def leg_answered(self, call_id: str, leg_id: str, at: datetime) -> bool:
        async with self._transaction() as connection:
            status = await connection.execute(
                f"""
                UPDATE interaction_legs SET answered_at = coalesce(answered_at, $3)
                WHERE interaction_id = {_INTERACTION.format("$1")} AND leg_id = $2
                """,
                call_id, leg_id, at,
            )  # fmt: skip
            await connection.execute(
                "UPDATE interactions SET answered_at = coalesce(answered_at, $2) "
                "WHERE call_id = $1",
                call_id,
                at,
            )
        return status == "UPDATE 1"

    async def leg_ended(
        self,
        call_id: str,
        leg_id: str,
        at: datetime,
        outcome: str,
        hangup_side: HangupSide | None = None,
    ) -> bool:
        """`outcome` is the dial status as Asterisk tells it: ANSWER, BUSY, NOANSWER, CANCEL..."""
        # RETURNING tells whether this was the first report of the end: only that one is counted.
        first = await self._pool.fetchval(
            f"""
            WITH leg AS (
                SELECT id, ended_at IS NULL AS open FROM interaction_legs
                WHERE interaction_id = {_INTERACTION.format("$1")} AND leg_id = $2 FOR UPDATE)
            UPDATE interaction_legs l SET
                ended_at = coalesce(l.ended_at, $3),
                outcome = CASE WHEN l.ended_at IS NULL THEN $4 ELSE l.outcome END,
                hangup_side = CASE WHEN l.ended_at IS NULL THEN $5 ELSE l.hangup_side END
            FROM leg WHERE l.id = leg.id
            RETURNING leg.open
            """,
            call_id, leg_id, at, outcome, hangup_side.value if hangup_side else None,
        )  # fmt: skip
        if first:
            notify_ring_ended(self._observer, outcome)
        return first is not None

    async def call_routed(self, call_id: str, outcome: str, reason: str | None = None) -> bool:
        """Where the call went, known before it ends: `sticky` (connected to the sticky target),
        `queue`, `blocked`, `abandoned`; `reason` is why a sticky attempt missed, if it did."""
        status = await self._pool.execute(
            """
            UPDATE interactions SET
                outcome = coalesce(outcome, $2),
                outcome_reason = CASE WHEN outcome IS NULL THEN $3 ELSE outcome_reason END
            WHERE call_id = $1
            """,
            call_id,
            outcome,
            reason,
        )
        return status == "UPDATE 1"

    async def call_ended(
        self,
        call_id: str,
        at: datetime,
        hangup_side: HangupSide | None,
        outcome: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """The caller's channel is gone; the window of the next callback counts from `at`.
        `outcome` and `reason` as for `call_routed`, when not already recorded."""
        status = await self._pool.execute(
            """
            UPDATE interactions SET
                ended_at = coalesce(ended_at, $2),
                hangup_side = CASE WHEN ended_at IS NULL THEN $3 ELSE hangup_side END,
                -- Two sources report the end (the ARI app, the AMI learner); the one that
                -- knows the outcome may come second, so an outcome still missing is filled.
                outcome_reason = CASE WHEN outcome IS NULL THEN $5 ELSE outcome_reason END,
                outcome = coalesce(outcome, $4)
            WHERE call_id = $1
            """,
            call_id, at, hangup_side.value if hangup_side else None, outcome, reason,
        )  # fmt: skip
        return status == "UPDATE 1"

    async def callback_requested(self, asked: CallbackRequested) -> bool:
        """The callback, owned by the agent; the customer as the asking call found them (False
        while that call's decision is not recorded yet: the applier keeps the event)."""
        status = await self._pool.execute(
            f"""
            INSERT INTO callbacks
                (call_id, agent_id, customer_id, number, queue, requested_at, expires_at)
            SELECT $1, {_AGENT.format("$2")}, i.customer_id, $3, $4, $5, $6
            FROM interactions i WHERE i.call_id = $1 AND {_AGENT.format("$2")} IS NOT NULL
            ON CONFLICT (call_id) DO NOTHING
            """,
            asked.call_id, asked.agent, asked.number, asked.queue, asked.at, asked.expires_at,
        )  # fmt: skip
        return status == "INSERT 0 1" or await self.known(asked.call_id)

    async def callback_dialled(self, callback_id: int, call_id: str, at: datetime) -> bool:
        """An attempt at a callback, as a call of the asking caller's (their customer, key and
        ticket), sticky to the agent who owns it: the next callback's history finds it."""
        status = await self._pool.execute(
            """
            INSERT INTO interactions
                (call_id, caller_number, key_kind, key_value, customer_id, ticket_id, queue,
                 did, started_at, route, route_reason, target_agent_id)
            SELECT $2, i.caller_number, i.key_kind, i.key_value, i.customer_id, i.ticket_id,
                   c.queue, i.did, $3, 'sticky', 'callback', c.agent_id
            FROM callbacks c JOIN interactions i ON i.call_id = c.call_id
            WHERE c.id = $1
            ON CONFLICT (call_id) DO NOTHING
            """,
            callback_id, call_id, at,
        )  # fmt: skip
        return status == "INSERT 0 1" or await self.known(call_id)

    async def known(self, call_id: str) -> bool:
        """Whether the call's row exists: an event for a call not known yet waits for it."""
        found = await self._pool.fetchval(
            "SELECT true FROM interactions WHERE call_id = $1", call_id
        )
        return bool(found)
