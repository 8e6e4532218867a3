"""The rig of the call benches: the demo caller and the SIPp scenarios of the caller and the
agents' phones (with what their message logs say), the throwaway database, and Asterisk's
channel count (the router's process is bench/router_process.py). `bench/post_dial_delay.py`
drives it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import AGENTS
from sticky_router.process import database
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone

LOOPBACK = "127.0.0.1"
PHONE_PORTS_FROM = 43000  # e2e tests use 41000, the other suites 40000
DID = "74950000000"  # sticky-inbound: the router
DIRECT = "direct"  # sticky-direct: Dial(PJSIP/agent2,15), the baseline
IVAN = "79123456701"  # demo caller: spoke with agent2 42 minutes ago, so the router rings agent2
BENCH_SETTINGS: tuple[tuple[str, object], ...] = (
    ("announce", False),  # the prompt would answer the caller and play before agent2 rings
    ("sticky_cap_per_hour", 1000),  # the default 6 per hour would end stickiness after 6 calls
    # The bench's own 100 ms calls must count as conversations with agent2: the router reads only
    # the caller's last 5 finished calls (HISTORY_DEPTH), so after 5 calls shorter than the
    # default 10 s Ivan's real conversation drops out and he would go to the queue (no_history).
    ("min_talk_seconds", 0),
)

# Demo callers (devkit/demo.py): sticky to agent2, agent3 (transfer), agent4 (VIP, personal
# manager), agent1; outside the window; ambiguous; abusive; blocked (supervisors' queue); misdial.
DEMO_CALLERS = (
    "79123456701", "79123456702", "79123456706", "79123456707", "79123456711",
    "79123456703", "74951234500", "79123456708", "79123456709", "79123456710",
)  # fmt: skip
BACKGROUND_CALLERS = tuple(f"7916{5550000 + index:07d}" for index in range(40))  # old history

# SIPp message log: "----- 2026-11-22 22:03:27.547398" then "UDP message sent|received ...".
_LOG_HEADER = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")

# The caller: Request-URI user [field0] and caller number [field1] from the -inf CSV file, so one
# SIPp process places every call of a phase. Any final answer but 200, and a BYE from Asterisk,
# fail the call. After its 200 OK to BYE the call lingers {gap} ms (the next one waits, -l 1).
CALLER_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="post-dial delay bench caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field1]" <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field1]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Subject: sticky-router post-dial delay bench
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000

    ]]>
  </send>
  <label id="progress"/>
  <recv response="100" optional="true" next="progress"/>
  <recv response="180" optional="true" next="progress"/>
  <recv response="183" optional="true" next="progress"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field1]" <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[field1]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field1]" <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:[field1]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <pause milliseconds="{gap}"/>
  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000, 2000"/>
  <CallLengthRepartition value="500, 1000, 2000, 5000, 10000"/>
</scenario>
"""

# An agent's phone for any number of calls, overlapping or not: 200 OK at once, without a 180
# (SIPp sends each message in a step of its own, and a CANCEL arriving between a 180 and the 200
# would fail the call on the phone's side; Queue's ringall cancels the agents who lost the race).
# A CANCEL that crosses the 200 is answered, then the ACK and the BYE come as usual.
AGENT_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="post-dial delay bench agent">
  <recv request="INVITE" crlf="true"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000

    ]]>
  </send>
  <label id="answered"/>
  <recv request="CANCEL" optional="true" next="cancelled"/>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send next="done">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <label id="cancelled"/>
  <send next="answered">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <label id="done"/>
  <timewait milliseconds="500"/>
</scenario>
"""


class BenchError(RuntimeError):
    """The bench itself cannot go on (as opposed to a figure that misses its target)."""


# --- SIPp -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SipMessage:
    """One SIP message from a SIPp -trace_msg log."""

    at: datetime
    sent: bool
    first_line: str
    headers: dict[str, str]

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/")

    @property
    def method(self) -> str:
        return self.first_line.split()[0] if self.is_request else ""

    @property
    def status(self) -> int:
        words = self.first_line.split()
        if self.is_request or len(words) < 2 or not words[1].isdigit():
            return 0
        return int(words[1])

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id", "")

    @property
    def cseq_method(self) -> str:
        return (self.headers.get("cseq", "").split() or [""])[-1]

    @property
    def request_user(self) -> str:
        """`direct` or the DID, from `INVITE sip:direct@127.0.0.1:5060 SIP/2.0`."""
        words = self.first_line.split()
        uri = words[1] if self.is_request and len(words) > 1 else ""
        return uri.removeprefix("sip:").split("@", 1)[0]


def read_messages(log: Path) -> list[SipMessage]:
    if not log.is_file():
        return []
    messages: list[SipMessage] = []
    lines = log.read_text(errors="replace").splitlines()
    index = 0
    while index < len(lines):
        header = _LOG_HEADER.match(lines[index])
        if header is None or index + 3 >= len(lines):
            index += 1
            continue
        sent = " sent" in lines[index + 1]
        first_line = lines[index + 3].strip()
        headers: dict[str, str] = {}
        index += 4
        while index < len(lines) and lines[index].strip():
            name, _, value = lines[index].partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
            index += 1
        if first_line:
            moment = datetime.fromisoformat(header[1])
            messages.append(SipMessage(moment, sent, first_line, headers))
    return messages


def first_invites(messages: Sequence[SipMessage], sent: bool) -> list[SipMessage]:
    """Each dialog's first INVITE (retransmissions left out), in time order."""
    seen: set[str] = set()
    invites = []
    for message in messages:
        if message.sent == sent and message.method == "INVITE" and message.call_id not in seen:
            seen.add(message.call_id)
            invites.append(message)
    return sorted(invites, key=lambda message: message.at)


def answers(messages: Sequence[SipMessage]) -> dict[str, datetime]:
    """Call-ID -> when the caller received 200 OK to its INVITE."""
    answered: dict[str, datetime] = {}
    for message in messages:
        if not message.sent and message.status == 200 and message.cseq_method == "INVITE":
            answered.setdefault(message.call_id, message.at)
    return answered


def sipp_counts(stat_file: Path) -> dict[str, int]:
    """The cumulative counters, `(C)` columns, of the last line of SIPp's -trace_stat file."""
    if not stat_file.is_file():
        return {}
    rows = [row for row in stat_file.read_text(errors="replace").splitlines() if row.strip()]
    if len(rows) < 2:
        return {}
    header, last = rows[0].split(";"), rows[-1].split(";")
    counts = {}
    for name, value in zip(header, last, strict=False):
        if name.endswith("(C)") and value.strip().isdigit():
            counts[name.removesuffix("(C)")] = int(value)
    return counts


def write_scenarios(directory: Path, gap_ms: int) -> tuple[Path, Path]:
    caller = directory / f"caller-gap{gap_ms}.xml"
    caller.write_text(CALLER_SCENARIO.replace("{gap}", str(gap_ms)))
    agent = directory / "agent.xml"
    agent.write_text(AGENT_SCENARIO)
    return caller, agent


def write_calls(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """SIPp injection file: one call per line, `dialled;caller number;`, in this order."""
    path.write_text("SEQUENTIAL\n" + "".join(f"{dialled};{number};\n" for dialled, number in rows))
    return path


@contextlib.contextmanager
def agent_phones(
    asterisk: LocalAsterisk, scenario: Path, log_dir: Path, phase: str, timeout_s: float
) -> Iterator[dict[str, SippPhone]]:
    """A SIPp phone per agent, answering every call at once, for the whole phase."""
    phones: dict[str, SippPhone] = {}
    try:
        for agent in AGENTS:
            phone = SippPhone(
                name=f"{phase}-{agent}",
                arguments=["-sf", str(scenario), "-m", "1000000"],
                local_port=asterisk.agent_port(agent),
                log_dir=log_dir,
                timeout_s=timeout_s,
                statistics=True,
            )
            phones[agent] = phone.start()
        yield phones
    finally:
        for phone in phones.values():
            phone.quit()


# --- the router process -----------------------------------------------------------------------


# --- the database -----------------------------------------------------------------------------


async def seed_bench_data(dsn: str) -> None:
    pool = await database.create_pool(dsn, 2)
    try:
        await seed_demo(pool, datetime.now(UTC), reset=True)
        for key, value in BENCH_SETTINGS:
            await set_setting(
                pool, scope=Scope.GLOBAL, scope_value=None, key=key, value=value, actor="bench"
            )
    finally:
        await pool.close()


async def _recorded(dsn: str, since: datetime) -> list[tuple[str, str, str, int]]:
    """What the router recorded for the calls since `since`: route, outcome, reason, calls."""
    pool = await database.create_pool(dsn, 1)
    try:
        rows = await pool.fetch(
            "SELECT route, coalesce(outcome, '-') AS outcome,"
            " coalesce(outcome_reason, route_reason, '-') AS reason, count(*) AS calls"
            " FROM interactions WHERE call_id NOT LIKE 'demo-%' AND started_at >= $1"
            " GROUP BY 1, 2, 3 ORDER BY 4 DESC",
            since,
        )
    finally:
        await pool.close()
    return [(str(r["route"]), str(r["outcome"]), str(r["reason"]), int(r["calls"])) for r in rows]


def recorded(dsn: str, since: datetime) -> list[tuple[str, str, str, int]]:
    try:
        return asyncio.run(_recorded(dsn, since))
    except Exception as error:  # a figure we could not read must not end the bench
        print(f"  (could not read the recorded calls: {type(error).__name__}: {error})")
        return []


# --- asterisk ---------------------------------------------------------------------------------


def active_channels(asterisk: LocalAsterisk) -> int:
    text = asterisk.cli("core show channels count")
    found = re.search(r"(\d+) active channels?", text)
    return int(found[1]) if found else -1


def wait_for_silence(asterisk: LocalAsterisk, seconds: float) -> int:
    """Wait until Asterisk holds no channel; the channels left when time ran out."""
    deadline = time.monotonic() + seconds
    while True:
        left = active_channels(asterisk)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def asterisk_pid(asterisk: LocalAsterisk) -> int | None:
    """The Asterisk process of this instance (the `chroot` we started exec'd into it)."""
    marker = f"/var/lib/sticky-router/{asterisk.name}/etc/asterisk.conf".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                words = (entry / "cmdline").read_bytes().split(b"\0")
                if words and words[0].endswith(b"asterisk") and marker in words and b"-f" in words:
                    return int(entry.name)
    return None
