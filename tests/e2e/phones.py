"""The four agent phones and the caller of one end-to-end test, and what each phone saw.

Every agent phone runs for the whole test (so a phone that must NOT ring is listening and would
notice); what it received is read back from SIPp's message log, with the time of each request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from devkit.sandbox.asterisk import LocalAsterisk
from testkit.sip_log import requests
from testkit.sipp import SippPhone, SippResult, assert_calls_succeeded

AGENTS = ("agent1", "agent2", "agent3", "agent4")


@dataclass(frozen=True)
class Received:
    at: datetime
    method: str


def requests_received(messages_log: Path, direction: str = "received") -> list[Received]:
    """The SIP requests (not responses) a SIPp phone received (or `sent`), in order, with their
    times."""
    return [Received(r.at, r.method) for r in requests(messages_log, direction)]


@dataclass
class AgentPhones:
    """Start with a scenario per agent (`uas_answer.xml`, `uas_noanswer.xml`, ...); agents not
    named get a phone that rings and never answers."""

    asterisk: LocalAsterisk
    log_dir: Path
    scenarios: dict[str, str]
    ring_ms: dict[str, int] = field(default_factory=dict)
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    # Which phones listen: the four agents, or with agent2's softphone too (sandbox PHONES).
    names: tuple[str, ...] = AGENTS
    phones: dict[str, SippPhone] = field(default_factory=dict)

    def __enter__(self) -> AgentPhones:
        for agent in self.names:
            scenario = self.scenarios.get(agent, "uas_noanswer.xml")
            phone = SippPhone.agent(
                scenario,
                self.asterisk.agent_port(agent),
                self.log_dir,
                ring_ms=self.ring_ms.get(agent, 300),
                calls=20,  # more than any test places: the phone never closes its port early
                timeout_s=120,
                name=agent,
            )
            phone.arguments += self.extra_args.get(agent, [])
            self.phones[agent] = phone.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        # Calls still up (a test's other call, a queue call) are hung up while the phones still
        # answer the BYEs: a BYE to a phone already gone keeps the channel, and the agent's
        # device state BUSY, for seconds into the next test.
        self.asterisk.cli("channel request hangup all")
        for _ in range(40):
            if self.asterisk.cli("core show channels count").lstrip().startswith("0 active"):
                break
            time.sleep(0.05)
        for phone in self.phones.values():
            phone.stop()

    def requests(self, agent: str, method: str = "INVITE") -> list[Received]:
        log = self.log_dir / f"{agent}.messages.log"
        return [r for r in requests_received(log) if r.method == method]

    def rung(self) -> dict[str, int]:
        """INVITEs per agent: who rang, and how often."""
        return {agent: len(self.requests(agent)) for agent in self.names}


async def call(
    asterisk: LocalAsterisk,
    log_dir: Path,
    *,
    caller_id: str,
    hold_ms: int = 2000,
    scenario: str = "uac.xml",
    dialled: str = "74950000000",
    calls: int = 1,
    name: str = "caller",
) -> SippResult:
    """Place the call(s) and wait for SIPp to finish, without blocking the router's event loop."""
    phone = SippPhone.caller(
        scenario,
        asterisk,
        log_dir,
        dialled=dialled,
        caller_id=caller_id,
        hold_ms=hold_ms,
        calls=calls,
        timeout_s=60,
        name=name,
    )
    return await asyncio.to_thread(phone.run)


async def dial_feature_code(asterisk: LocalAsterisk, log_dir: Path, agent: str, code: str) -> None:
    """The agent dials a feature code (*45 log in, *46 log out, *47 pause, *48 back) from their
    desk phone, as on a real shift; the sandbox's dialplan answers it and the phone hangs up."""
    phone = SippPhone.caller(
        "uac.xml", asterisk, log_dir, dialled=code, caller_id=agent, hold_ms=500,
        name=f"{agent}-{code.lstrip('*')}",
    )  # fmt: skip
    phone.local_port = asterisk.agent_port(agent)  # identified as the agent's own endpoint
    assert_calls_succeeded(await asyncio.to_thread(phone.run))
