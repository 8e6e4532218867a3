"""The hand-over to sticky-ring made ready while the agent is checked (ari_app.hand_over): the
watch and the first candidate's variables go ahead; another choice replaces them, nothing ahead
is overtaken by the fallback's variables, and the watch is dropped when nobody is rung.

A recording fake of `Channels` stands in for ARI; tests/e2e/test_calls.py walks the same paths
on the real Asterisk (the first candidate rung, the next one after a paused agent, the queue
after a busy one)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

import pytest

from sticky_router.ari_app.availability import facts_expression
from sticky_router.ari_app.channels import ChannelGone
from sticky_router.ari_app.hand_over import PreparedHandOver
from sticky_router.routing_core.decision import Candidate, CandidateReason, StickyDecision
from sticky_router.routing_core.policy import decide
from tests.factories import (
    AGENTS,
    call,
    facts,
    interaction,
    settings,
    talk,
    ticket,
    transfer_unanswered,
    unpacked,
)


class RecordingChannels:
    """What was asked of ARI, in order; `hold` keeps variable sets waiting until released."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []
        self.hold: asyncio.Event | None = None
        self.gone = False

    async def watch(self, channel_id: str) -> None:
        self.asked.append(("watch", channel_id))

    async def read(self, channel_id: str, expression: str) -> str:
        self.asked.append(("read", expression))
        return "PJSIP/agent1,PJSIP/agent3|0|NOT_INUSE"

    async def set_variables(self, channel_id: str, variables: Mapping[str, str]) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.gone:
            raise ChannelGone(channel_id)
        self.asked.append(("set", dict(variables)))

    async def unsubscribe(self, source: str) -> None:
        self.asked.append(("unsubscribe", source))


def sticky() -> StickyDecision:
    """Two candidates: the specialist the caller was handed to, then agent1 who talked to them."""
    handed = interaction(25, talk(1, 180, 26), transfer_unanswered(3, 25))
    decision = decide(call(), facts(handed), settings())
    assert isinstance(decision, StickyDecision)
    agent1 = Candidate(AGENTS[1], CandidateReason.LAST_AGENT)
    return replace(decision, candidates=(decision.target, agent1))


def dialled(asked: list[tuple[str, object]]) -> list[str]:
    """The STICKY_TARGET_ENDPOINT of each variable set, in order."""
    return [unpacked(value["STICKY_PACK"])["STICKY_TARGET_ENDPOINT"]
            for kind, value in asked if kind == "set" and isinstance(value, dict)]  # fmt: skip


async def test_the_first_candidate_rung_leaves_only_the_continue() -> None:
    channels = RecordingChannels()
    decision = sticky()
    prepared = PreparedHandOver(channels, "c-new", decision, set())  # type: ignore[arg-type]
    await prepared.complete(decision, decision.candidates[0], None)
    assert ("watch", "c-new") in channels.asked
    assert dialled(channels.asked) == [decision.candidates[0].agent.endpoint]


async def test_another_candidate_or_another_node_replaces_the_variables_sent_ahead() -> None:
    decision = sticky()
    first, second = decision.candidates[:2]
    channels = RecordingChannels()
    prepared = PreparedHandOver(channels, "c-new", decision, set())  # type: ignore[arg-type]
    await prepared.complete(decision, second, None)
    assert dialled(channels.asked) == [first.agent.endpoint, second.agent.endpoint]

    channels = RecordingChannels()
    prepared = PreparedHandOver(channels, "c-new", decision, set())  # type: ignore[arg-type]
    await prepared.complete(decision, first, "node-a")
    assert dialled(channels.asked)[-1] == f"{first.agent.endpoint}@node-a"


async def test_a_pack_too_long_for_one_request_is_not_sent_ahead() -> None:
    decision = sticky()
    context = decision.context
    # A ticket id of an external system, URI-encoded at 6 characters a letter: past the 3000
    # characters of one request (MAX_PACK_CHARS).
    external = replace(ticket(owner=3), external_id="Я" * 512)
    identity = replace(context.identity, ticket=external)
    long = replace(decision, context=replace(context, identity=identity))
    channels = RecordingChannels()
    prepared = PreparedHandOver(channels, "c-new", long, set())  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await prepared.settled()
    assert [kind for kind, _ in channels.asked] == ["read", "watch"]
    await prepared.complete(long, long.candidates[0], None)
    sets = [value for kind, value in channels.asked if kind == "set"]
    assert len(sets) == 1
    assert isinstance(sets[0], dict)
    assert sets[0]["STICKY_PACK"] == ""  # cleared, the variables one by one
    assert sets[0]["__STICKY_TARGET_ENDPOINT"] == long.candidates[0].agent.endpoint


async def test_the_fallback_waits_for_the_variables_sent_ahead() -> None:
    """Over HTTP two requests in flight are done in any order: the fallback's variables must
    not be overtaken by the sticky ones sent ahead."""
    channels = RecordingChannels()
    channels.hold = asyncio.Event()
    prepared = PreparedHandOver(channels, "c-new", sticky(), set())  # type: ignore[arg-type]
    settled = asyncio.create_task(prepared.settled())
    await asyncio.sleep(0.01)
    assert not settled.done()
    channels.hold.set()
    await asyncio.wait_for(settled, 1)
    assert sorted(kind for kind, _ in channels.asked) == ["read", "set", "watch"]


async def test_a_caller_gone_while_checked_is_reported_at_the_hand_over_not_before() -> None:
    channels = RecordingChannels()
    channels.gone = True
    decision = sticky()
    prepared = PreparedHandOver(channels, "c-new", decision, set())  # type: ignore[arg-type]
    await prepared.settled()  # swallowed here: the fallback's own request reports it
    with pytest.raises(ChannelGone):
        await prepared.complete(decision, decision.candidates[0], None)


async def test_nobody_rung_drops_the_watch_in_the_background() -> None:
    channels = RecordingChannels()
    pending: set[asyncio.Task[None]] = set()
    prepared = PreparedHandOver(channels, "c-new", sticky(), pending)  # type: ignore[arg-type]
    prepared.drop()
    assert len(pending) == 1
    await asyncio.gather(*pending)
    assert channels.asked[-1] == ("unsubscribe", "channel:c-new")
    assert not pending


async def test_the_agent_check_read_sent_ahead_serves_the_first_check_of_that_candidate_only() -> (
    None
):
    decision = sticky()
    first, second = decision.candidates[:2]
    channels = RecordingChannels()
    prepared = PreparedHandOver(channels, "c-new", decision, set())  # type: ignore[arg-type]
    assert prepared.check_read(second, "support") is None  # not the one it was sent for
    assert prepared.check_read(first, "other-queue") is None
    read = prepared.check_read(first, "support")
    assert read is not None
    assert await read == "PJSIP/agent1,PJSIP/agent3|0|NOT_INUSE"
    assert prepared.check_read(first, "support") is None  # a re-check after a wait reads anew
    [(_, expression)] = [ask for ask in channels.asked if ask[0] == "read"]
    assert expression == facts_expression("support", first.agent)
