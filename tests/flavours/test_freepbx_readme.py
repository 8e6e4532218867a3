"""docs/pbx-flavours.md's FreePBX steps, followed word for word on a PBX laid out as FreePBX.

The sandbox's `freepbx` flavour is FreePBX's layout (asterisk_conf/freepbx/): calls enter through
an inbound route that keeps the dialled number in FROM_DID and a Custom Destination entered from
FreePBX's own `dest-1`; queue members are Local channels into a from-queue that finds the queue
again by NODEST. What an administrator adds is what the page says: these tests hold the page and
the sandbox together, then call in through the inbound routes.

Followed as the page said before (target `sticky-inbound,${EXTEN},1`, endpoint
`Local/102@from-queue/n`, no NODEST), every call was lost on this layout: the custom destination
jumped to the extension `dest-1`, which sticky-inbound does not have (the caller was hung up),
and each queue member's channel looped in from-queue without ringing anyone."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import (
    CONF_TEMPLATES,
    FREEPBX_AGI_DID,
    FREEPBX_DESTINATIONS,
    FREEPBX_TEMPLATES,
    PHONES,
    agent_identity,
)
from devkit.sandbox.stack import identify_agents
from sticky_router.process.agi_process import AgiProcess
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

PAGE = Path(__file__).parents[2] / "docs" / "pbx-flavours.md"
IVAN = "79123456701"  # the demo: last helped by agent2 42 minutes ago
SUPPORT_NUMBER = "74950000000"


def freepbx_section() -> str:
    text = PAGE.read_text()
    start = text.index("## FreePBX and Issabel")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(section: str) -> list[list[str]]:
    """The page's indented blocks (four spaces past the list's indent), line by line."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in section.splitlines():
        if line.startswith("       ") and line.strip():
            current.append(line.strip())
        elif (current and not line.strip()) or current:
            blocks.append(current)
            current = []
    return blocks


def meaningful_lines(conf: str) -> list[str]:
    """A configuration file's lines without comments and blank lines."""
    return [line.strip() for line in conf.splitlines() if line.strip() and line[0] != ";"]


def test_extensions_custom_holds_exactly_the_pages_blocks() -> None:
    blocks = code_blocks(freepbx_section())
    assert blocks == [
        ["#include sticky-router.conf", "#include sticky-router-agi.conf"],
        ["[globals](+)", "QUEUE_NAME=400"],
    ]
    custom = (CONF_TEMPLATES / FREEPBX_TEMPLATES / "extensions_custom.conf").read_text()
    assert meaningful_lines(custom) == [line for block in blocks for line in block]


def test_the_custom_destinations_and_the_agents_are_the_pages() -> None:
    section = freepbx_section()
    targets = re.findall(r"`(sticky-[a-z-]*inbound,[^`]*)`", section)
    assert targets == [FREEPBX_DESTINATIONS["ari"], FREEPBX_DESTINATIONS["agi"]]
    table = dict(re.findall(r"^\| `([a-z_]+)` \| `([^`]+)` \|$", section, flags=re.MULTILINE))
    agent2 = agent_identity("agent2", "freepbx")
    # The devices are the site's own names (the sandbox's phones are agent2 and agent2soft).
    assert (table["endpoint"], table["queue_interface"], table["state_interface"]) == (
        agent2.endpoint,
        agent2.queue_interface,
        agent2.state_interface,
    )
    assert len(table["devices"].split()) == len(agent2.devices)


async def test_a_call_through_the_inbound_route_reaches_the_router_with_its_number(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN))
    assert agents.rung()["agent2"] == 1
    row = await settled(pool, IVAN)
    assert (row["did"], row["queue"]) == (SUPPORT_NUMBER, "400")
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")


async def test_a_dialled_number_with_a_comma_neither_splits_nor_drops_the_call(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The inbound route's catch-all keeps whatever the trunk sent in FROM_DID; `from-did` keeps
    its digits, so the call is routed, not hung up by a Goto split at the comma."""
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, names=PHONES):
        result = await call(asterisk, phone_logs, caller_id=IVAN, dialled="74950000000,100201")
    assert_calls_succeeded(result)
    row = await settled(pool, IVAN)
    assert row["did"] == "74950000000100201"
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")


@pytest.mark.usefixtures("agi")
async def test_a_call_through_the_fastagi_inbound_route_reaches_the_server_with_its_number(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, agi: AgiProcess
) -> None:
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(
            await call(asterisk, phone_logs, caller_id=IVAN, dialled=FREEPBX_AGI_DID)
        )
    assert agents.rung()["agent2"] == 1
    row = await settled(pool, IVAN)
    assert (row["did"], row["queue"]) == (FREEPBX_AGI_DID, "400")
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
