"""The rules of routing.md, one table row per situation a support engineer would name."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest

from sticky_router.routing_core.decision import (
    BlockedDecision,
    CandidateReason,
    Exclusion,
    QueueDecision,
    QueueReason,
    StickyDecision,
)
from sticky_router.routing_core.dialplan_variables import fallback_variables
from sticky_router.routing_core.model import (
    BlockDestinationKind,
    CallerBlock,
    CallerFacts,
    CallerKey,
    Customer,
    Identity,
    Incident,
    KeyKind,
    PairingBan,
    PairingKind,
)
from sticky_router.routing_core.policy import decide
from sticky_router.routing_core.settings import EffectiveSettings
from tests.factories import (
    AGENTS,
    CUSTOMER,
    NOW,
    NUMBER_KEY,
    call,
    facts,
    interaction,
    settings,
    talk,
    ticket,
    transfer_unanswered,
)

WITH_TICKET = Identity(key=NUMBER_KEY, customers=(CUSTOMER,), ticket=ticket(owner=3))
SHARED = Identity(key=NUMBER_KEY, customers=(CUSTOMER, Customer(2, "Romashka", "vip", None, None)))
MANAGED = Identity(
    key=NUMBER_KEY,
    customers=(Customer(1, "Pavel", "personal_manager", "1", "ru", personal_agent_id=4),),
)
RECENT_AGENT2 = interaction(42, talk(2, 360, 42))


@dataclass(frozen=True)
class Case:
    name: str
    facts: CallerFacts
    expect: str  # "sticky", "queue" or "blocked"
    targets: tuple[str, ...] = ()  # sticky: agents in ringing order
    reason: QueueReason | None = None  # queue: why
    excluded: dict[str, Exclusion] = field(default_factory=dict)
    settings: EffectiveSettings = field(default_factory=settings)


CASES = [
    Case("callback 119 min after the end is sticky",
         facts(interaction(119, talk(2, 360, 119))), "sticky", ("agent2",)),
    Case("callback at exactly the window is sticky",
         facts(interaction(120, talk(2, 360, 120))), "sticky", ("agent2",)),
    Case("callback 121 min after the end is not",
         facts(interaction(121, talk(2, 360, 121))), "queue", reason=QueueReason.WINDOW_EXPIRED),
    Case("the window counts from the end of the call, not its start",
         facts(interaction(100, talk(2, 3000, 100))), "sticky", ("agent2",)),
    Case("first call ever", facts(), "queue", reason=QueueReason.NO_HISTORY),
    Case("a misdial (4 s) is not a conversation",
         facts(interaction(10, talk(1, 4, 10))), "queue", reason=QueueReason.NO_HISTORY),
    Case("exactly the minimum talk time counts",
         facts(interaction(10, talk(1, 10, 10))), "sticky", ("agent1",)),
    Case("behind a misdial, the last real conversation still counts",
         facts(interaction(5, talk(1, 3, 5), number=2), interaction(30, talk(2, 300, 30))),
         "sticky", ("agent2",)),
    Case("the newest conversation wins over an older one",
         facts(interaction(20, talk(4, 120, 20), number=2), interaction(60, talk(2, 300, 60))),
         "sticky", ("agent4",)),
    Case("inside one call, the agent who talked last wins",
         facts(interaction(20, talk(1, 120, 25, "a"), talk(4, 120, 20, "b"))),
         "sticky", ("agent4",)),
    Case("a window that expired says so even after a misdial inside it",
         facts(interaction(5, talk(1, 3, 5), number=2), interaction(300, talk(2, 300, 300))),
         "queue", reason=QueueReason.WINDOW_EXPIRED),
    Case("escalated call goes to the specialist, first line skipped",
         facts(interaction(30, talk(1, 200, 32), replace(talk(3, 300, 30, "t"), transferred=True))),
         "sticky", ("agent3",)),
    Case("caller hung up while waiting for the transfer: still the specialist",
         facts(interaction(25, talk(1, 180, 26), transfer_unanswered(3, 25))),
         "sticky", ("agent3",)),
    Case("an older escalation does not outrank a newer ordinary call",
         facts(interaction(10, talk(2, 200, 10), number=2),
               interaction(40, talk(1, 100, 41), transfer_unanswered(3, 40))),
         "sticky", ("agent2",)),
    Case("an escalation outside the window is forgotten",
         facts(interaction(130, talk(1, 180, 131), transfer_unanswered(3, 130))),
         "queue", reason=QueueReason.WINDOW_EXPIRED),
    Case("owner precedence off: the ticket owner is not a candidate",
         facts(RECENT_AGENT2, identity=WITH_TICKET), "sticky", ("agent2",)),
    Case("owner wins: owner first, then the last agent",
         facts(RECENT_AGENT2, identity=WITH_TICKET), "sticky", ("agent3", "agent2"),
         settings=settings(target_precedence="owner_first")),
    Case("owner after the last agent",
         facts(RECENT_AGENT2, identity=WITH_TICKET), "sticky", ("agent2", "agent3"),
         settings=settings(target_precedence="owner_after_last_agent")),
    Case("owner wins even without recent history (no window for the owner)",
         facts(identity=WITH_TICKET), "sticky", ("agent3",),
         settings=settings(target_precedence="owner_first")),
    Case("the owner of a closed ticket is nobody's target",
         facts(identity=Identity(NUMBER_KEY, (CUSTOMER,), ticket(owner=3, status="closed"))),
         "queue", reason=QueueReason.NO_HISTORY,
         settings=settings(target_precedence="owner_first")),
    Case("owner who is also the last agent is rung once",
         facts(interaction(42, talk(3, 360, 42)), identity=WITH_TICKET), "sticky", ("agent3",),
         settings=settings(target_precedence="owner_after_last_agent")),
    Case("abusive towards the last agent: queue, never that agent",
         facts(RECENT_AGENT2, pairing_bans=(PairingBan(2, PairingKind.ABUSE, None),)),
         "queue", reason=QueueReason.DO_NOT_PAIR, excluded={"agent2": Exclusion.ABUSE}),
    Case("the agent asked not to be paired: queue",
         facts(RECENT_AGENT2, pairing_bans=(PairingBan(2, PairingKind.AGENT_REQUEST, None),)),
         "queue", reason=QueueReason.DO_NOT_PAIR, excluded={"agent2": Exclusion.DO_NOT_PAIR}),
    Case("a ban on another agent changes nothing",
         facts(RECENT_AGENT2, pairing_bans=(PairingBan(1, PairingKind.ABUSE, None),)),
         "sticky", ("agent2",)),
    Case("the agent hit the sticky cap this hour",
         facts(RECENT_AGENT2, sticky_calls_last_hour={2: 6}), "queue",
         reason=QueueReason.CAP_REACHED, excluded={"agent2": Exclusion.CAP_REACHED}),
    Case("one below the cap still rings",
         facts(RECENT_AGENT2, sticky_calls_last_hour={2: 5}), "sticky", ("agent2",)),
    Case("disabled agent is never a target",
         facts(RECENT_AGENT2, agents={**AGENTS, 2: replace(AGENTS[2], active=False)}),
         "queue", reason=QueueReason.AGENT_INACTIVE, excluded={"agent2": Exclusion.INACTIVE}),
    Case("excluded last agent, owner after: the owner is rung",
         facts(RECENT_AGENT2, identity=WITH_TICKET, sticky_calls_last_hour={2: 9}),
         "sticky", ("agent3",), excluded={"agent2": Exclusion.CAP_REACHED},
         settings=settings(target_precedence="owner_after_last_agent")),
    Case("anonymous caller, nothing keyed",
         facts(RECENT_AGENT2, identity=Identity(key=None)), "queue",
         reason=QueueReason.NO_CALLER_KEY),
    Case("shared number: queue, no customer is assumed",
         facts(RECENT_AGENT2, identity=SHARED), "queue", reason=QueueReason.AMBIGUOUS_CALLER),
    Case("shared number with number-level stickiness on",
         facts(RECENT_AGENT2, identity=SHARED), "sticky", ("agent2",),
         settings=settings(ambiguous_number_sticky=True)),
    Case("sticky routing switched off",
         facts(RECENT_AGENT2), "queue", reason=QueueReason.DISABLED,
         settings=settings(enabled=False)),
    Case("a longer window for this scope",
         facts(interaction(200, talk(2, 360, 200))), "sticky", ("agent2",),
         settings=settings(window_minutes=240)),
    Case("personal manager first, with no window",
         facts(interaction(20, talk(1, 300, 20)), identity=MANAGED), "sticky",
         ("agent4", "agent1"), settings=settings(use_personal_manager=True)),
    Case("personal manager is not held to the sticky cap",
         facts(identity=MANAGED, sticky_calls_last_hour={4: 50}), "sticky", ("agent4",),
         settings=settings(use_personal_manager=True)),
    Case("personal manager only where the class setting says so",
         facts(identity=MANAGED), "queue", reason=QueueReason.NO_HISTORY),
    Case("a blocked caller goes where the admin said, never to an agent",
         facts(RECENT_AGENT2, caller_block=CallerBlock(
             BlockDestinationKind.QUEUE, "supervisors", NOW + timedelta(days=1))),
         "blocked"),
    Case("a call keyed by account is sticky like one by number",
         facts(RECENT_AGENT2, identity=Identity(CallerKey(KeyKind.ACCOUNT, "100201"), (CUSTOMER,))),
         "sticky", ("agent2",)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_policy(case: Case) -> None:
    decision = decide(call(), case.facts, case.settings, "+79123456701")
    assert decision.route.value == case.expect
    if isinstance(decision, StickyDecision):
        assert tuple(c.agent.name for c in decision.candidates) == case.targets
    if isinstance(decision, QueueDecision):
        assert decision.reason == case.reason
    excluded = {e.candidate.agent.name: e.exclusion for e in getattr(decision, "excluded", ())}
    assert excluded == case.excluded


def test_blocked_decision_carries_the_admins_destination() -> None:
    block = CallerBlock(BlockDestinationKind.MESSAGE, "policy-message", None)
    decision = decide(call(), facts(RECENT_AGENT2, caller_block=block), settings())
    assert isinstance(decision, BlockedDecision)
    assert decision.block == block


def test_candidate_carries_its_evidence() -> None:
    decision = decide(call(), facts(RECENT_AGENT2), settings())
    assert isinstance(decision, StickyDecision)
    target = decision.target
    assert target.reason is CandidateReason.LAST_AGENT
    assert target.talk_seconds == 360
    assert target.last_contact_ended_at == NOW - timedelta(minutes=42)


def test_window_expired_decision_remembers_who_it_was() -> None:
    decision = decide(call(), facts(interaction(185, talk(2, 420, 185))), settings())
    assert isinstance(decision, QueueDecision)
    assert decision.context.last_contact is not None
    assert decision.context.last_contact.agent.name == "agent2"


def test_ambiguous_caller_keeps_every_candidate_customer_and_no_ticket() -> None:
    decision = decide(call(), facts(RECENT_AGENT2, identity=SHARED), settings())
    assert [c.name for c in decision.context.identity.customers] == ["Ivan Petrov", "Romashka"]
    assert decision.context.identity.customer is None
    assert decision.context.identity.ticket is None


def test_a_caller_handed_to_a_second_line_queue_nobody_took_goes_straight_back_there() -> None:
    """First line answered, handed the caller to second line, nobody there rang: no specialist
    leg, but the escalation is remembered (never back to agent1, first line)."""
    escalated = replace(interaction(20, talk(1, 180, 21)), escalated_queue="second-line")
    decision = decide(call(), facts(escalated), settings())
    assert isinstance(decision, QueueDecision)
    assert (decision.reason, decision.queue) == (QueueReason.ESCALATED_TO_QUEUE, "second-line")


def test_an_escalation_to_a_queue_outside_the_window_is_forgotten() -> None:
    escalated = replace(interaction(200, talk(1, 180, 201)), escalated_queue="second-line")
    decision = decide(call(), facts(escalated), settings())
    assert isinstance(decision, QueueDecision)
    assert (decision.reason, decision.queue) == (QueueReason.WINDOW_EXPIRED, None)


def test_the_specialist_who_took_it_in_second_line_is_rung_with_second_line_behind() -> None:
    taken = replace(
        interaction(20, talk(1, 100, 25), replace(talk(3, 300, 20, leg="s"), transferred=True)),
        escalated_queue="second-line",
    )
    decision = decide(call(), facts(taken), settings())
    assert isinstance(decision, StickyDecision)
    assert decision.target.agent.name == "agent3"
    assert decision.fallback_queue == "second-line"


def test_a_specialist_missing_falls_back_to_the_queues_escalation_queue() -> None:
    handed = interaction(25, talk(1, 180, 26), transfer_unanswered(3, 25))
    decision = decide(call(), facts(handed), settings(escalation_queue="second-line"))
    assert isinstance(decision, StickyDecision)
    assert decision.fallback_queue == "second-line"
    # Not an escalation: the call's own queue stays the fallback.
    plain = decide(call(), facts(interaction(25, talk(1, 180, 26))), settings(escalation_queue="x"))
    assert isinstance(plain, StickyDecision)
    assert plain.fallback_queue is None


@pytest.mark.parametrize("hostile", ["second line", "q,1", "q&r", "${X}", "a" * 81])
def test_an_escalation_queue_is_a_queue_name_and_nothing_else(hostile: str) -> None:
    with pytest.raises(ValueError, match="escalation_queue"):
        settings(escalation_queue=hostile)


RESOLVED_42 = replace(RECENT_AGENT2, ticket_resolved=True)  # T-1001 resolved since that call


@pytest.mark.parametrize(
    ("last", "knobs", "expect"),
    [
        # By default a resolved ticket changes nothing: the window holds.
        (RESOLVED_42, {}, "agent2"),
        # Sticky only while the problem is open: resolved, no stickiness at all.
        (RESOLVED_42, {"resolved_ticket_window_minutes": 0}, QueueReason.TICKET_RESOLVED),
        # A shorter window once resolved: 60 minutes still holds a 42-minute-old call ...
        (RESOLVED_42, {"resolved_ticket_window_minutes": 60}, "agent2"),
        # ... 30 does not.
        (RESOLVED_42, {"resolved_ticket_window_minutes": 30}, QueueReason.TICKET_RESOLVED),
        # An open ticket keeps the ordinary window whatever the resolved one says.
        (RECENT_AGENT2, {"resolved_ticket_window_minutes": 0}, "agent2"),
        # Outside the ordinary window it is the window that expired, resolved or not.
        (replace(interaction(185, talk(2, 420, 185)), ticket_resolved=True),
         {"resolved_ticket_window_minutes": 0}, QueueReason.WINDOW_EXPIRED),
    ],
)  # fmt: skip
def test_stickiness_follows_the_state_of_the_last_calls_ticket(
    last: object, knobs: dict[str, int], expect: object
) -> None:
    decision = decide(call(), facts(last), settings(**knobs))  # type: ignore[arg-type]
    if isinstance(expect, QueueReason):
        assert isinstance(decision, QueueDecision)
        assert decision.reason is expect
        assert decision.context.last_contact is not None  # who it was is still told
    else:
        assert isinstance(decision, StickyDecision)
        assert decision.target.agent.name == expect


def test_a_resolved_escalation_is_not_rung_either() -> None:
    """The specialist of a call whose ticket is resolved is no target once its window is over."""
    handed = replace(interaction(20, talk(1, 120, 21), transfer_unanswered(3, 20)),
                     ticket_resolved=True)  # fmt: skip
    decision = decide(call(), facts(handed), settings(resolved_ticket_window_minutes=10))
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.TICKET_RESOLVED


@pytest.mark.parametrize(
    ("promised_minutes_ago", "status", "knobs", "priority"),
    [
        (None, "open", {"overdue_promise_priority_boost": 7}, "0"),  # nothing promised
        (-30, "open", {"overdue_promise_priority_boost": 7}, "0"),  # promised, not yet due
        (30, "open", {"overdue_promise_priority_boost": 7}, "7"),  # we owe them a call
        (30, "resolved", {"overdue_promise_priority_boost": 7}, "0"),  # solved: owed nothing
        (30, "open", {}, "0"),  # the setting is off by default
    ],
)
def test_a_caller_we_owe_a_promised_call_jumps_the_queue(
    promised_minutes_ago: int | None, status: str, knobs: dict[str, int], priority: str
) -> None:
    promised = NOW - timedelta(minutes=promised_minutes_ago) if promised_minutes_ago else None
    owed = replace(ticket(owner=None, status=status), promised_by=promised)
    identity = Identity(key=NUMBER_KEY, customers=(CUSTOMER,), ticket=owed)
    decision = decide(call(), facts(identity=identity), settings(**knobs))  # no history: queue
    assert isinstance(decision, QueueDecision)
    assert fallback_variables(decision, decision.reason.value)["STICKY_PRIORITY"] == priority


def test_an_overdue_promise_and_a_missed_sticky_attempt_take_the_larger_jump() -> None:
    owed = replace(ticket(owner=None), promised_by=NOW - timedelta(hours=1))
    identity = Identity(key=NUMBER_KEY, customers=(CUSTOMER,), ticket=owed)
    knobs = settings(overdue_promise_priority_boost=3, fallback_priority_boost=5)
    decision = decide(call(), facts(RECENT_AGENT2, identity=identity), knobs)
    assert isinstance(decision, StickyDecision)
    assert fallback_variables(decision, "busy")["STICKY_PRIORITY"] == "5"


OUTAGE = Incident(1, "sticky-router/outage-notice")


@pytest.mark.parametrize(
    ("knobs", "expect"),
    [
        ({}, QueueReason.OUTAGE),  # by default stickiness is paused during an outage
        ({"outage_window_minutes": 60}, "agent2"),  # a shorter window: 42 min still holds
        ({"outage_window_minutes": 30}, QueueReason.OUTAGE),
    ],
)
def test_during_a_declared_outage_stickiness_steps_aside(
    knobs: dict[str, int], expect: object
) -> None:
    decision = decide(call(), facts(RECENT_AGENT2, incident=OUTAGE), settings(**knobs))
    assert decision.context.incident == OUTAGE
    if isinstance(expect, QueueReason):
        assert isinstance(decision, QueueDecision)
        assert decision.reason is expect
    else:
        assert isinstance(decision, StickyDecision)
        assert decision.target.agent.name == expect
    # Whatever the route, the notice goes to the dialplan, and only a sound name does.
    assert fallback_variables(decision, "x")["STICKY_OUTAGE_SOUND"] == "sticky-router/outage-notice"


def test_an_outage_notice_reaches_even_an_unknown_caller_and_a_hostile_one_nobody() -> None:
    unknown = facts(identity=Identity(key=None, customers=()), incident=OUTAGE)
    decision = decide(call(), unknown, settings())
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.NO_CALLER_KEY
    assert fallback_variables(decision, "x")["STICKY_OUTAGE_SOUND"] == "sticky-router/outage-notice"
    hostile = facts(incident=Incident(2, "x)|System(id)"))
    decision = decide(call(), hostile, settings())
    assert fallback_variables(decision, "x")["STICKY_OUTAGE_SOUND"] == ""
