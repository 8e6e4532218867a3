"""How the FastAGI lookup hands its variables to the dialplan: one pack when the dialplan
unpacks (lookup?...&pack=1), one SET VARIABLE each otherwise, and always the route last."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sticky_router.agi.protocol import AgiReply, AgiRequest
from sticky_router.agi.variables import MAX_AGI_PACK_CHARS, set_variables
from sticky_router.routing_core.dialplan_variables import PACK


@dataclass
class Session:
    """What set_variables uses of an AgiSession: the request, and SET VARIABLE."""

    request: AgiRequest
    set: list[tuple[str, str]] = field(default_factory=list)

    async def set_variable(self, name: str, value: str) -> AgiReply:
        self.set.append((name, value))
        return AgiReply(200, 1, "")


def session(script: str) -> Session:
    return Session(AgiRequest({"network_script": script}, ()))


VARIABLES = {"STICKY_ROUTE": "queue", "STICKY_REASON": "no_history", "TICKET_ID": ""}


async def _given(script: str, variables: dict[str, str]) -> list[tuple[str, str]]:
    played = session(script)
    await set_variables(played, variables)
    return played.set


async def test_a_dialplan_that_unpacks_gets_one_pack_with_the_route() -> None:
    # One command: cut short, the conversation leaves all of the variables or none (the queue).
    assert await _given("lookup?secret=s&pack=1", VARIABLES) == [
        (PACK, "__STICKY_ROUTE=queue,__STICKY_REASON=no_history|"),
    ]


@pytest.mark.parametrize("script", ["lookup?secret=s", "lookup?secret=s&pack=0"])
async def test_an_older_dialplan_gets_one_command_per_variable(script: str) -> None:
    assert await _given(script, VARIABLES) == [
        ("__STICKY_REASON", "no_history"), ("__TICKET_ID", ""), ("__STICKY_ROUTE", "queue"),
    ]  # fmt: skip


async def test_a_pack_longer_than_an_agi_line_goes_one_by_one() -> None:
    long = {"STICKY_CALLERID_NAME": "x" * MAX_AGI_PACK_CHARS, "STICKY_ROUTE": "queue"}
    assert await _given("lookup?secret=s&pack=1", long) == [
        ("__STICKY_CALLERID_NAME", "x" * MAX_AGI_PACK_CHARS), ("__STICKY_ROUTE", "queue"),
    ]  # fmt: skip
