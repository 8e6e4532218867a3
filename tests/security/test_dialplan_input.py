"""What callers and admins type, against the shipped dialplan on a real Asterisk 22.

Stasis() and AGI() split their arguments at `,`; ExecIf() ends a branch at `)`; Dial() takes
`&` as a second destination. A caller controls the dialled number (any SIP Request-URI user,
`,` included); an admin controls sound names and endpoints. Each test plays the attack through
SIPp or ARI and asserts it changed nothing: no forged key, no command run, no call dropped.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.agi_process import AgiProcess
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

UNKNOWN = "79990000077"  # no history: routed on the caller ID, this caller goes to the queue
IVAN_ACCOUNT = "100201"  # demo data: Ivan Petrov's account, whose last agent is agent2


async def assert_not_forged(pool: asyncpg.Pool) -> None:
    row = await settled(pool, UNKNOWN)
    assert row["ivr_account"] is None, "the caller's comma forged an account keyed in the IVR"
    assert (row["key_kind"], row["customer_id"]) == ("number", None)
    assert (row["route"], row["route_reason"]) == ("queue", "no_history")
    assert "," not in (row["did"] or "")


@pytest.mark.usefixtures("fresh")
async def test_a_comma_in_the_dialled_number_cannot_forge_an_account_in_ari_mode(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """`74950000000,100201` would reach Stasis() as DID 74950000000 and account 100201: the
    stranger would be routed as Ivan, to agent2, with Ivan's ticket on agent2's screen."""
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}):
        result = await call(
            asterisk, phone_logs, caller_id=UNKNOWN, dialled=f"74950000000,{IVAN_ACCOUNT}",
            hold_ms=1000,
        )  # fmt: skip
        assert_calls_succeeded(result)  # and the caller was served, not dropped
    await assert_not_forged(pool)


async def test_a_comma_in_the_dialled_number_cannot_forge_an_account_in_agi_mode(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The same through AGI(): `agi<DID>` enters sticky-agi-inbound with that DID."""
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}):
        result = await call(
            asterisk, phone_logs, caller_id=UNKNOWN, dialled=f"agi74950000000,{IVAN_ACCOUNT}",
            hold_ms=1000,
        )  # fmt: skip
        assert_calls_succeeded(result)
    assert await agi.quiesce(5)
    await assert_not_forged(pool)


@pytest.mark.usefixtures("fresh")
async def test_a_comma_in_the_dialled_number_does_not_drop_a_call_that_went_through_the_ivr(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """A PBX that sends the DID to the IVR first: sticky-ivr hands the call on with
    Goto(sticky-inbound,<DID>,1), which a `,` in the DID breaks (Goto fails, the caller is hung
    up). The caller keys Ivan's account, as the IVR asks, and must reach agent2."""
    caller = SippPhone.caller(
        "uac_ivr.xml", asterisk, phone_logs, dialled="ivr74950000000,x", caller_id=UNKNOWN,
        hold_ms=1500, timeout_s=60, name="caller",
    )  # fmt: skip
    caller.arguments += ["-key", "dtmf", f"{IVAN_ACCOUNT}#"]
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await asyncio.to_thread(caller.run))
    assert phones.rung()["agent2"] == 1
    row = await settled(pool, UNKNOWN)
    assert (row["key_kind"], row["key_value"]) == ("account", IVAN_ACCOUNT)
    assert row["did"] == "74950000000"  # the comma and the letter dropped, never a separator


def ari_post(asterisk: LocalAsterisk, path: str, query: dict[str, str], body: Any) -> Any:
    request = urllib.request.Request(
        f"{asterisk.ari_url}{path}?{urlencode(query)}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": asterisk.ari_credentials.basic_auth(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


@pytest.mark.parametrize(
    ("context", "variables"),
    [
        # Announcement off (the common case): the old ExecIf ran its false branch, which the
        # `)` in the sound name opened up.
        ("sticky-ring", {"STICKY_ANNOUNCE": "0", "STICKY_ANNOUNCE_SOUND": "{payload}",
                         "STICKY_TARGET_ENDPOINT": "PJSIP/agent1", "STICKY_RING_TIMEOUT": "1"}),
        ("sticky-blocked", {"STICKY_BLOCK_DESTINATION": "{payload}"}),
    ],
    ids=["announcement", "block message"],
)  # fmt: skip
@pytest.mark.usefixtures("fresh")
async def test_a_sound_name_that_reached_a_channel_runs_nothing_but_playback(
    asterisk: LocalAsterisk, context: str, variables: dict[str, str]
) -> None:
    """Whatever gets past the router's own checks (a row written straight into the database, a
    dialplan of the admin's that sets the variable): the shipped contexts never turn a sound
    name into an application. System() is loaded in the sandbox, as on most PBXs."""
    marker = f"/tmp/sticky-pwned-{uuid.uuid4().hex}"
    payload = f"beep):System(touch {marker} #"
    filled = {f"__{name}": value.format(payload=payload) for name, value in variables.items()}
    channel = await asyncio.to_thread(
        ari_post, asterisk, "/channels",
        {"endpoint": f"Local/s@{context}", "context": "sticky-sandbox-agents",
         "extension": "nowhere", "priority": "1", "timeout": "5"},
        {"variables": filled},
    )  # fmt: skip
    assert channel["id"]
    await asyncio.sleep(3)  # the Local channel's dialplan side runs at once
    inside = asterisk.root_dir / marker.lstrip("/")  # System() runs in Asterisk's chroot
    ran = await asyncio.to_thread(lambda: inside.exists() or Path(marker).exists())
    assert not ran, "a sound name ran System()"
