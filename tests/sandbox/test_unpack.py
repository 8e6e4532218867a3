"""sticky-unpack on a real Asterisk 22: what the router packs arrives on the caller's channel and
on the agent's (inherited through Dial()) unchanged and unevaluated, in the format of this
version and of the one before it; a pack nobody should have written runs nothing.

A probe context, added to this throwaway Asterisk only, sets STICKY_PACK, runs the shipped
sticky-unpack, and leaves what it finds in a global the test reads over AMI."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest

from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk
from sticky_router.routing_core.dialplan_variables import pack
from testkit.ami_client import AmiClient

NAMES = ("STICKY_CALL_ID", "STICKY_TARGET_ENDPOINT", "STICKY_CUSTOMERS", "STICKY_CALLERID_NAME")
HOSTILE_NAME = '[T-1] ${EXTEN} $[1+1] (a),b;c|d=e"q'
PROBE = """
[sticky-test-unpack]
exten => s,1,Set(STICKY_PACK=${GLOBAL(TEST_PACK)})
 same => n,Gosub(sticky-unpack,s,1)
 same => n,Set(GLOBAL(UNPACKED_CALLER)=%(fields)s&Pack=${URIENCODE(${STICKY_PACK})})
 same => n,Dial(Local/agent@sticky-test-unpack,2)
 same => n,Hangup()
exten => agent,1,Set(GLOBAL(UNPACKED_AGENT)=%(fields)s)
 same => n,Hangup()
"""


@pytest.fixture(scope="module")
def asterisk() -> Iterator[LocalAsterisk]:
    with throwaway_asterisk("unpack", phone_ports_from=43900) as server:
        # Each value URI-encoded, so the report reads back exactly.
        fields = "&".join(f"{name}=${{URIENCODE(${{{name}}})}}" for name in NAMES)
        conf = server.instance_dir / "etc" / "extensions.conf"
        conf.write_text(conf.read_text() + PROBE % {"fields": fields})
        server.cli("dialplan reload")
        yield server


async def unpacked(asterisk: LocalAsterisk, packed: str) -> dict[str, dict[str, str]]:
    """What the caller's and the agent's channel hold after sticky-unpack read `packed`."""
    client = await AmiClient.connect(asterisk)
    try:
        for name, value in (("TEST_PACK", packed), ("UNPACKED_CALLER", ""), ("UNPACKED_AGENT", "")):
            reply = await client.action("Setvar", Variable=name, Value=value)  # globals
            assert reply["Response"] == "Success", reply
        # The sandbox's AMI users may not originate: the CLI does.
        await asyncio.to_thread(
            asterisk.cli, "channel originate Local/s@sticky-test-unpack application Wait 3"
        )
        found: dict[str, dict[str, str]] = {}
        for _ in range(50):
            for where in ("caller", "agent"):
                reply = await client.action("Getvar", Variable=f"UNPACKED_{where.upper()}")
                if reply.get("Value"):
                    found[where] = {
                        name: unquote(value)
                        for name, _, value in (
                            pair.partition("=") for pair in reply["Value"].split("&")
                        )
                    }
            if len(found) == 2:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"sticky-unpack's probe did not report: {found}")
    finally:
        await client.close()


def test_this_versions_pack_arrives_unchanged_on_both_channels(asterisk: LocalAsterisk) -> None:
    values = {
        "STICKY_CALL_ID": "1234.5",
        "STICKY_TARGET_ENDPOINT": "PJSIP/agent2",  # plain: one MSet() step
        "STICKY_CUSTOMERS": "1,2&3",  # coded: the loop
        "STICKY_CALLERID_NAME": HOSTILE_NAME,
    }
    packed = pack(values)
    assert "|" in packed
    found = asyncio.run(unpacked(asterisk, packed))
    for where in ("caller", "agent"):
        assert {name: found[where][name] for name in NAMES} == values, where
    assert found["caller"]["Pack"] == ""  # read once, cleared


def test_the_previous_versions_pack_still_arrives(asterisk: LocalAsterisk) -> None:
    """A router older than the dialplan (the upgrade order README asks for) packs all coded."""
    values = {"STICKY_CALL_ID": "99.1", "STICKY_CUSTOMERS": "1,2"}
    packed = "&".join(f"{name}={quote(value, safe='')}" for name, value in values.items())
    found = asyncio.run(unpacked(asterisk, packed))
    assert found["agent"]["STICKY_CALL_ID"] == "99.1"
    assert found["agent"]["STICKY_CUSTOMERS"] == "1,2"


def test_a_pack_nobody_should_have_written_runs_nothing(asterisk: LocalAsterisk) -> None:
    """Quotes, parentheses and spaces never reach MSet(), and the loop sets only NAME=value."""
    log = asterisk.instance_dir / "log" / "full"
    before = log.stat().st_size
    packed = '__STICKY_CALL_ID=7,__X=x")|System(echo unpacked-and-ran)|__Y=1'
    found = asyncio.run(unpacked(asterisk, packed))
    assert found["caller"]["STICKY_CALL_ID"] == "7"
    with log.open() as lines:
        lines.seek(before)
        ran = [line for line in lines if "Executing [" in line]
    assert ran, "the probe's own steps are in the log"
    assert not [line for line in ran if '] System("' in line]  # no step ran System()
    [mset] = [line for line in ran if '] MSet("' in line]
    assert mset.rstrip().endswith('"__STICKY_CALL_ID=7,__X=x") in new stack')  # FILTERed
