"""Builders for policy facts, so a table row reads like the situation it describes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from sticky_router.routing_core.model import (
    Agent,
    AgentRole,
    CallerFacts,
    CallerKey,
    Customer,
    Identity,
    IncomingCall,
    KeyKind,
    Leg,
    PastInteraction,
    Ticket,
)
from sticky_router.routing_core.settings import (
    DEFAULT_SETTINGS,
    EffectiveSettings,
    RoutingSettings,
    Scope,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

AGENTS = {
    1: Agent(1, "agent1", "Anna", "PJSIP/agent1", AgentRole.FIRST_LINE, True),
    2: Agent(2, "agent2", "Boris", "PJSIP/agent2", AgentRole.FIRST_LINE, True),
    3: Agent(3, "agent3", "Vera", "PJSIP/agent3", AgentRole.SPECIALIST, True),
    4: Agent(4, "agent4", "Dmitry", "PJSIP/agent4", AgentRole.FIRST_LINE, True),
}
NUMBER_KEY = CallerKey(KeyKind.NUMBER, "+79123456701")
CUSTOMER = Customer(1, "Ivan Petrov", "standard", "100201", "ru")


def call(at: datetime = NOW) -> IncomingCall:
    return IncomingCall(call_id="c-new", caller_id="+79123456701", at=at, queue="support")


def talk(agent_id: int, seconds: float, ended_minutes_ago: float, leg: str = "a") -> Leg:
    ended = NOW - timedelta(minutes=ended_minutes_ago)
    return Leg(
        leg_id=leg,
        agent_id=agent_id,
        role=AGENTS[agent_id].role,
        rang_at=ended - timedelta(seconds=seconds + 5),
        answered_at=ended - timedelta(seconds=seconds),
        ended_at=ended,
        transferred=False,
    )


def transfer_unanswered(agent_id: int, ended_minutes_ago: float) -> Leg:
    """A transfer leg the caller hung up on before the specialist answered."""
    ended = NOW - timedelta(minutes=ended_minutes_ago)
    return Leg(
        "t", agent_id, AGENTS[agent_id].role, ended - timedelta(seconds=20), None, ended, True
    )


def interaction(ended_minutes_ago: float, *legs: Leg, number: int = 1) -> PastInteraction:
    ended = NOW - timedelta(minutes=ended_minutes_ago)
    return PastInteraction(number, f"c-{number}", ended - timedelta(minutes=10), ended, legs)


def ticket(owner: int | None, status: str = "open") -> Ticket:
    return Ticket(7, "T-1001", 1, "No internet", status, owner, None, None, NOW)


def facts(
    *history: PastInteraction,
    identity: Identity | None = None,
    agents: dict[int, Agent] | None = None,
    **extra: object,
) -> CallerFacts:
    return CallerFacts(
        identity=identity or Identity(key=NUMBER_KEY, customers=(CUSTOMER,)),
        history=history,
        agents=agents if agents is not None else AGENTS,
        **extra,  # type: ignore[arg-type]
    )


def settings(**values: object) -> EffectiveSettings:
    if not values:
        return DEFAULT_SETTINGS
    knobs = RoutingSettings.model_validate(values)
    sources = {
        key: Scope.GLOBAL if key in values else Scope.DEFAULT
        for key in RoutingSettings.model_fields
    }
    return EffectiveSettings(knobs, sources)


def unpacked(pack: str) -> dict[str, str]:
    """STICKY_PACK as dialplan/sticky-router.conf's sticky-unpack sets it."""
    plain, _, coded = pack.partition("|")
    pairs = [pair.removeprefix("__").split("=", 1) for pair in plain.split(",") if pair]
    pairs += [[name, unquote(value)] for name, value in
              (pair.split("=", 1) for pair in coded.split("&") if pair)]  # fmt: skip
    return dict(pairs)
