"""The hooks on the agent's leg, on the real Asterisk 22 (dialplan/sticky-router.conf): the
caller's name on the agent's phone through a pre-dial hook of the sticky Dial() and of Queue(),
and only when there is one to show (a pre-dial hook holds the caller in autoservice, which delays
the ring); the sticky leg's STICKYRING line in the queue_log written when the agent answers (and
not for a ring nobody answered: test_calls.py, test_e)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sip_log import received
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled, sticky_lines

IVAN = "79123456701"  # the demo: agent2 helped him 42 minutes ago, ticket T-1001
SERGEY = "79123456703"  # the demo: agent2 helped him 3 hours ago, outside the window: the queue

pytestmark = pytest.mark.usefixtures("fresh")


async def answered_call(
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    caller: str,
    agent: str,
    *,
    named: bool,
) -> list[str | None]:
    """One call from `caller` that `agent` answers, with the setting callerid_name_prefix as
    given; the display names on the INVITEs the agent's phone received."""
    await set_setting(
        pool,
        scope=Scope.GLOBAL,
        scope_value=None,
        key="callerid_name_prefix",
        value=named,
        actor="e2e",
    )
    with AgentPhones(asterisk, phone_logs, {agent: "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=caller, hold_ms=1500))
    assert phones.rung()[agent] == 1
    return [invite.from_display_name for invite in received(phone_logs / f"{agent}.messages.log")]


@pytest.mark.parametrize("named", [True, False])
async def test_the_agents_phone_shows_the_ticket_name_only_when_the_setting_asks(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, named: bool
) -> None:
    names = await answered_call(asterisk, pool, phone_logs, IVAN, "agent2", named=named)
    if named:
        assert names == ["[T-1001] Ivan Petrov"]
    else:
        assert not any((name or "").startswith("[T-1001]") for name in names)
    row = await settled(pool, IVAN)
    assert row["outcome"] == "sticky"
    [leg] = await legs(pool, row["id"])
    # Either way the answered leg is in Asterisk's own record, by the agent channel's id, and
    # its end after it.
    lines = await sticky_lines(asterisk, row["call_id"])
    assert [fields[4] for fields in lines] == ["STICKYRING", "STICKYEND"]
    assert lines[0][3] == "PJSIP/agent2"
    assert lines[0][5] == leg["leg_id"]


@pytest.mark.parametrize("named", [True, False])
async def test_a_queue_members_phone_shows_the_name_only_when_the_setting_asks(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, named: bool
) -> None:
    names = await answered_call(asterisk, pool, phone_logs, SERGEY, "agent1", named=named)
    row = await settled(pool, SERGEY)
    assert (row["route"], row["outcome"]) == ("queue", "queue")
    if named:
        assert names == ["Sergey Volkov"]
    else:
        assert "Sergey Volkov" not in names
