"""The agent check in one ARI request, on the real Asterisk 22: `EVAL()` read on a channel in
Stasis substitutes QUEUE_MEMBER_LIST, QUEUE_MEMBER(paused) and the agent's state in one
value, with the same answers as the three reads it replaces, including the negative cases (an
agent who is no member, a queue that does not exist, a device Asterisk does not know).
"""

from __future__ import annotations

import asyncio

import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import support_queue
from sticky_router.ari_app.availability import check_availability, facts_expression
from sticky_router.ari_app.channels import AriChannels
from sticky_router.ari_app.client import AriClient, segment
from sticky_router.routing_core.attempt import Availability, split_agent_facts
from sticky_router.routing_core.model import Agent, AgentRole

pytestmark = pytest.mark.usefixtures("fresh")  # every agent logged in and unpaused, no call left


def make_agent(*, endpoint: str, state_interface: str | None = None) -> Agent:
    return Agent(1, "agent", "Agent", endpoint, AgentRole.FIRST_LINE, True,
                 state_interface=state_interface)  # fmt: skip


async def _read(client: AriClient, channel_id: str, expression: str) -> str:
    answer = await client.request(
        "GET", f"/channels/{segment(channel_id)}/variable", params={"variable": expression}
    )
    return str(answer["value"])


async def test_one_read_answers_what_the_three_reads_answer(
    asterisk: LocalAsterisk, stasis_channel: tuple[AriClient, str]
) -> None:
    client, channel_id = stasis_channel
    queue = support_queue("plain")
    agent = make_agent(endpoint="PJSIP/agent1")
    members, paused, state = split_agent_facts(
        await _read(client, channel_id, facts_expression(queue, agent))
    )
    # The list has commas in it, and the read keeps them: EVAL() does not split its argument.
    assert members == await _read(client, channel_id, f"QUEUE_MEMBER_LIST({queue})")
    assert "PJSIP/agent1" in members.split(",")
    assert len(members.split(",")) == 4
    assert paused == await _read(client, channel_id, f"QUEUE_MEMBER({queue},paused,PJSIP/agent1)")
    assert paused == "0"
    device = await client.request("GET", f"/deviceStates/{segment('PJSIP/agent1')}")
    assert state == device["state"] == "NOT_INUSE"

    await asyncio.to_thread(asterisk.cli, f"queue pause member {asterisk.member('agent1')}")
    _, paused, _ = split_agent_facts(
        await _read(client, channel_id, facts_expression(queue, agent))
    )
    assert paused == "1"
    channels = AriChannels(client)
    assert await check_availability(channels, channel_id, agent, queue) is Availability.PAUSED


async def test_a_stranger_and_a_missing_queue_leave_their_parts_empty_and_the_read_stands(
    stasis_channel: tuple[AriClient, str],
) -> None:
    """The negative cases. QUEUE_MEMBER(paused) of a non-member reads 0, as alone: only the
    membership says the agent is not logged in, which is why it is judged first."""
    client, channel_id = stasis_channel
    channels = AriChannels(client)
    queue = support_queue("plain")
    stranger = make_agent(endpoint="PJSIP/nobody")
    members, paused, state = split_agent_facts(
        await _read(client, channel_id, facts_expression(queue, stranger))
    )
    assert "PJSIP/nobody" not in members.split(",")
    alone = await _read(client, channel_id, f"QUEUE_MEMBER({queue},paused,PJSIP/nobody)")
    assert paused == alone == "0"
    assert state == "INVALID"  # a device Asterisk has never heard of
    assert await check_availability(channels, channel_id, stranger, queue) is Availability.OFFLINE

    member = make_agent(endpoint="PJSIP/agent1")
    members, paused, _ = split_agent_facts(
        await _read(client, channel_id, facts_expression("no-such-queue", member))
    )
    assert (members, paused) == ("", "0")
    assert await _read(client, channel_id, "QUEUE_MEMBER_LIST(no-such-queue)") == ""
    offline = await check_availability(channels, channel_id, member, "no-such-queue")
    assert offline is Availability.OFFLINE


async def test_a_hint_that_does_not_exist_reads_as_unreachable(
    stasis_channel: tuple[AriClient, str],
) -> None:
    client, channel_id = stasis_channel
    queue = support_queue("plain")
    agent = make_agent(endpoint="PJSIP/agent1", state_interface="hint:999@no-such-context")
    _, _, state = split_agent_facts(await _read(client, channel_id, facts_expression(queue, agent)))
    assert state not in ("NOT_INUSE", "INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD")
    channels = AriChannels(client)
    found = await check_availability(channels, channel_id, agent, queue)
    assert found is Availability.UNREACHABLE
