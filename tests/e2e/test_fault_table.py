"""The fault table: each fault of a real support line, during real calls (SIPp through Asterisk 22,
the router, PostgreSQL), and for each row what matters: calls failed (must be 0), learned events
lost (must be 0), decisions over budget, and how long until everything learned during the fault
was in PostgreSQL. After every fault the caller's callback must ring the agent who took the call
during it, and nobody else.

The router under test reaches PostgreSQL and AMI through TCP proxies this module controls
(devkit/sandbox/tcp_proxy.py): a stall holds every byte, a cut closes every connection.
Each row's figures are written to artifacts/fault-table.md; `bench/fault_table.py` runs this
module with the longer rows too (STICKY_FAULT_TABLE=full) and prints the table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.postgres import LocalPostgres, free_port
from devkit.sandbox.stack import Sandbox
from devkit.sandbox.tcp_proxy import TcpProxy
from sticky_router.process.router import Router
from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.web.settings import WebSettings
from testkit.sipp import SippPhone, SippResult
from tests.e2e.conftest import quiet
from tests.e2e.phones import AGENTS, AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")

FULL = os.environ.get("STICKY_FAULT_TABLE") == "full"
TABLE = Path(__file__).parents[2] / "artifacts" / "fault-table.md"
TALK_MS = 4000  # the talk time counted as a conversation is lowered to 1 s for these calls
BUDGET_MARGIN = 0.4  # seconds: a decision slower than this broke the 300 ms budget
RECOVERY_LIMIT = 60.0


@dataclass
class Row:
    fault: str
    calls: int = 0
    failed: int = 0
    lost: int = 0
    over_budget: int | None = 0  # None: not measured (a router in another process)
    recovered_s: float | None = None
    sticky_after: bool = False

    def line(self) -> str:
        recovered = "-" if self.recovered_s is None else f"{self.recovered_s:.1f} s"
        sticky = "yes" if self.sticky_after else "NO"
        budget = "-" if self.over_budget is None else str(self.over_budget)
        return (
            f"| {self.fault} | {self.calls} | {self.failed} | {self.lost} | {budget} "
            f"| {recovered} | {sticky} |"
        )


HEADER = (
    "| Fault | Calls | Failed | Events lost | Decisions over budget | Recovered in "
    "| Callback sticky |\n|---|---|---|---|---|---|---|"
)


@dataclass
class Faults:
    router: Router
    database: TcpProxy
    ami: TcpProxy
    postgres: LocalPostgres
    asterisk: LocalAsterisk
    pool: asyncpg.Pool
    logs: Path

    def over_budget(self) -> int:
        registry = self.router.metrics.registry
        total = registry.get_sample_value("sticky_router_decision_seconds_count") or 0.0
        fast = registry.get_sample_value(
            "sticky_router_decision_seconds_bucket", {"le": str(BUDGET_MARGIN)}
        )
        return int(total - (fast or 0.0))

    async def callback_rings_only(self, number: str, agent: str) -> bool:
        return await _callback_rings_only(self.asterisk, self.pool, self.logs, number, agent)


@pytest.fixture
async def faults(
    sandbox: Sandbox, router: Router, pool: asyncpg.Pool, phone_logs: Path
) -> AsyncIterator[Faults]:
    """A router of its own, reaching PostgreSQL and AMI through the proxies (the session's
    router is stopped meanwhile, and started again after)."""
    await router.stop()
    database = TcpProxy("127.0.0.1", sandbox.postgres.port)
    ami = TcpProxy("127.0.0.1", sandbox.asterisk.ami_port)
    await database.start()
    await ami.start()
    settings = dataclasses.replace(
        sandbox.router_settings(),
        database_url=sandbox.postgres.dsn.replace(
            f":{sandbox.postgres.port}/", f":{database.port}/"
        ),
        ami_port=ami.port,
        web=WebSettings(port=free_port()),
    )
    behind = Router(settings)
    await behind.start()
    try:
        await behind.wait_connected(10)
        await set_setting(
            pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1,
            actor="fault-table",
        )  # fmt: skip
        yield Faults(behind, database, ami, sandbox.postgres, sandbox.asterisk, pool, phone_logs)
    finally:
        await behind.stop()
        await database.stop()
        await ami.stop()
        await router.start()
        await router.wait_connected(10)


@pytest.fixture(scope="module", autouse=True)
def _fresh_table() -> None:
    TABLE.unlink(missing_ok=True)


def _record(row: Row) -> None:
    TABLE.parent.mkdir(exist_ok=True)
    if not TABLE.exists():
        TABLE.write_text(HEADER + "\n")
    with TABLE.open("a") as table:
        table.write(row.line() + "\n")


def _rewrite_last(row: Row) -> None:
    lines = TABLE.read_text().splitlines()
    TABLE.write_text("\n".join([*lines[:-1], row.line()]) + "\n")


async def _learned(pool: asyncpg.Pool, number: str, agent: str) -> bool:
    """The call is in the history as the next callback reads it: ended, and `agent`'s leg
    answered and ended."""
    return bool(
        await pool.fetchval(
            """
            SELECT true FROM interactions i
            JOIN interaction_legs l ON l.interaction_id = i.id
            JOIN agents a ON a.id = l.agent_id
            WHERE i.caller_number = $1 AND i.ended_at IS NOT NULL AND a.name = $2
              AND l.answered_at IS NOT NULL AND l.ended_at IS NOT NULL
            """,
            "+" + number,
            agent,
        )
    )


async def _recovery(faults: Faults, number: str, agent: str, since: float) -> float | None:
    """Seconds from the fault's end until the call is learned and nothing the journal could
    apply is left (events waiting for a call that is not ours, an agent's own outbound call,
    say, may stay: they are not due)."""
    journaling = faults.router.journaling
    assert journaling is not None
    deadline = since + RECOVERY_LIMIT
    while time.monotonic() < deadline:
        caught_up = not journaling.journal.queued and not await journaling.journal.due(1)
        if caught_up and await _learned(faults.pool, number, agent):
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    return None


async def _callback_rings_only(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, log_dir: Path, number: str, agent: str
) -> bool:
    """The callback is decided sticky to `agent`, who answers, and no other phone rang for it
    (as AMI heard Asterisk dial: counting INVITEs on the phones would also count an earlier
    call's retransmissions to a port the fault's phones had left)."""
    await quiet(asterisk)
    logs = log_dir / "callback"
    with AgentPhones(asterisk, logs, {agent: "uas_answer.xml"}):
        result = await call(asterisk, logs, caller_id=number, hold_ms=1000, name="again")
    for _ in range(50):
        row = await pool.fetchrow(
            """
            SELECT i.route, i.ended_at IS NOT NULL AS ended,
                   array(SELECT a.name FROM interaction_legs l JOIN agents a ON a.id = l.agent_id
                         WHERE l.interaction_id = i.id ORDER BY l.rang_at) AS rang
            FROM interactions i WHERE i.caller_number = $1 ORDER BY i.started_at DESC LIMIT 1
            """,
            "+" + number,
        )
        if row is not None and row["ended"]:
            return result.ok and row["route"] == "sticky" and list(row["rang"]) == [agent]
        await asyncio.sleep(0.1)
    return False


async def _fault_during_a_call(
    faults: Faults,
    fault: str,
    number: str,
    agent: str,
    apply: Callable[[], Awaitable[None]],
    lead_seconds: float = 2.0,
) -> Row:
    """`agent` answers a queued call from `number` (no history); `lead_seconds` into the
    conversation `apply` runs the fault (and ends it), during which the caller hangs up."""
    row = Row(fault)
    budget_before = faults.over_budget()
    with AgentPhones(faults.asterisk, faults.logs, {agent: "uas_answer.xml"}):
        placed = asyncio.ensure_future(
            call(faults.asterisk, faults.logs, caller_id=number, hold_ms=TALK_MS)
        )
        await _answered_call(faults.pool, number)
        await asyncio.sleep(lead_seconds)
        await apply()
        ended = time.monotonic()
        results: list[SippResult] = [await placed]
    row.calls = len(results)
    row.failed = sum(not r.ok for r in results)
    row.recovered_s = await _recovery(faults, number, agent, ended)
    row.lost = 0 if await _learned(faults.pool, number, agent) else 1
    row.sticky_after = await faults.callback_rings_only(number, agent)
    row.over_budget = faults.over_budget() - budget_before
    _record(row)
    return row


def _assert_held(row: Row) -> None:
    assert row.failed == 0, f"{row.fault}: {row.failed} calls failed"
    assert row.lost == 0, f"{row.fault}: learned events were lost"
    assert row.sticky_after, f"{row.fault}: the callback was not sticky"
    assert not row.over_budget, f"{row.fault}: {row.over_budget} decisions broke the budget"


STALLS = [1, 5, 30] if FULL else [1, 5]


@pytest.mark.parametrize("seconds", STALLS)
async def test_postgresql_stalled_during_a_call(faults: Faults, seconds: int) -> None:
    """The stall begins as the call ends. A stall long enough sees a second caller arrive: the
    decision gives up within its budget and queues them, agent1 answers, and that call too is
    learned once PostgreSQL answers."""
    arrived = f"7999100{seconds:04d}"
    during: list[SippResult] = []

    async def stall() -> None:
        faults.database.stall()
        if seconds >= 5:
            await asyncio.sleep(1)
            during.append(
                await call(faults.asterisk, faults.logs, caller_id=arrived, hold_ms=2500,
                           name="during")
            )  # fmt: skip
        await asyncio.sleep(max(seconds - (time.monotonic() - stalled), 0))
        faults.database.resume()

    stalled = 0.0

    async def start_stall() -> None:
        nonlocal stalled
        stalled = time.monotonic()
        await stall()

    number = f"7999000{seconds:04d}"
    row = await _fault_during_a_call(
        faults, f"PostgreSQL stalled {seconds} s", number, "agent1", start_stall,
        TALK_MS / 1000 - 0.5,
    )  # fmt: skip
    if during:
        row.calls += 1
        row.failed += sum(not r.ok for r in during)
        learned = await _recovery(faults, arrived, "agent1", time.monotonic())
        row.lost += 0 if learned is not None else 1
        row.sticky_after = row.sticky_after and await faults.callback_rings_only(arrived, "agent1")
        _rewrite_last(row)
    _assert_held(row)


async def test_postgresql_restarted_during_a_call(faults: Faults) -> None:
    async def restart() -> None:
        await asyncio.to_thread(faults.postgres.stop)
        await asyncio.sleep(1)
        await asyncio.to_thread(faults.postgres.start)

    row = await _fault_during_a_call(
        faults, "PostgreSQL restarted mid-call", "79990001101", "agent2", restart, 2.5
    )
    _assert_held(row)


async def test_ami_cut_during_a_call(faults: Faults) -> None:
    """Nobody hears the end live (the queue call's end is AMI's to report): the queue_log
    has it."""

    async def cut() -> None:
        faults.ami.cut()
        await asyncio.sleep(3)
        faults.ami.resume()

    row = await _fault_during_a_call(
        faults, "AMI connection cut 3 s mid-call", "79990001102", "agent3", cut, 2.5
    )
    _assert_held(row)


# --- the router as its own process, killed ------------------------------------------------------


@dataclass
class RouterProcess:
    """`sticky-router run` as an operator starts it, against the sandbox, without pages."""

    sandbox: Sandbox
    journal_dir: Path
    log: Path
    process: asyncio.subprocess.Process | None = None

    def environment(self) -> dict[str, str]:
        asterisk = self.sandbox.asterisk
        ari, ami = asterisk.ari_credentials, asterisk.ami_credentials
        clean = {k: v for k, v in os.environ.items() if not k.startswith("STICKY_")}
        return clean | {
            "STICKY_DATABASE_URL": self.sandbox.postgres.dsn,
            "STICKY_ARI_URL": f"http://127.0.0.1:{asterisk.http_port}",
            "STICKY_ARI_USER": ari.user,
            "STICKY_ARI_PASSWORD": ari.password,
            "STICKY_AMI_PORT": str(asterisk.ami_port),
            "STICKY_AMI_USER": ami.user,
            "STICKY_AMI_PASSWORD": ami.password,
            "STICKY_JOURNAL_DIR": str(self.journal_dir),
            "STICKY_QUEUE_LOG_PATH": str(asterisk.instance_dir / "log" / "queue_log"),
            "STICKY_WEB_ENABLED": "false",
            "STICKY_LOG_FORMAT": "json",
        }

    async def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sticky_router.process.cli", "run",
                env=self.environment(), stdout=output, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        for _ in range(300):  # connected to ARI and AMI: ready for calls
            said = self.log.read_bytes()[offset:]
            if b'"ari_connected"' in said and b'"ami_connected"' in said:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the router process never connected: {self.log}")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 40)


@pytest.fixture
async def router_process(
    sandbox: Sandbox, router: Router, tmp_path: Path, pool: asyncpg.Pool
) -> AsyncIterator[RouterProcess]:
    await router.stop()
    process = RouterProcess(sandbox, tmp_path / "journal", tmp_path / "router.log")
    try:
        await set_setting(
            pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1,
            actor="fault-table",
        )  # fmt: skip
        await process.start()
        yield process
    finally:
        await process.stop()
        await router.start()
        await router.wait_connected(10)


async def test_router_killed_mid_call_and_restarted(
    router_process: RouterProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """SIGKILL while agent4 talks with a queued caller: what was journalled survives on disk,
    and the end (which nobody heard) is read from the queue_log after the restart."""
    row = await _killed_during_a_call(
        router_process, asterisk, pool, phone_logs,
        "Router killed (SIGKILL) mid-call, restarted", "79990001103", "agent4",
    )  # fmt: skip
    _assert_held(row)


async def test_router_killed_during_a_sticky_call_and_restarted(
    router_process: RouterProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """Ivan's callback is connected to agent2 by the sticky-ring dialplan (no queue) when the
    router dies: the end of that call is read from the lines the dialplan logged itself."""
    row = await _killed_during_a_call(
        router_process, asterisk, pool, phone_logs,
        "Router killed (SIGKILL) during a sticky call, restarted", "79123456701", "agent2",
    )  # fmt: skip
    _assert_held(row)


async def _killed_during_a_call(
    router_process: RouterProcess,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    fault: str,
    number: str,
    agent: str,
) -> Row:
    """`agent` answers `number`; the router process is killed; the call ends while it is dead;
    a second later it starts again."""
    row = Row(fault, over_budget=None)  # the decisions were made in the killed process
    with AgentPhones(asterisk, phone_logs, {agent: "uas_answer.xml"}):
        placed = asyncio.ensure_future(
            call(asterisk, phone_logs, caller_id=number, hold_ms=TALK_MS)
        )
        call_id = await _answered_call(pool, number)
        await router_process.kill()
        result = await placed
    await asyncio.sleep(1)
    await router_process.start()
    restarted = time.monotonic()
    row.calls, row.failed = 1, int(not result.ok)
    for _ in range(round(RECOVERY_LIMIT / 0.1)):
        if await _call_learned(pool, call_id, agent):
            row.recovered_s = time.monotonic() - restarted
            break
        await asyncio.sleep(0.1)
    row.lost = 0 if row.recovered_s is not None else 1
    row.sticky_after = await _callback_rings_only(asterisk, pool, phone_logs, number, agent)
    _record(row)
    return row


async def _answered_call(pool: asyncpg.Pool, number: str, seconds: float = 15) -> str:
    """The id of the call from `number` (made during this test) once it is answered."""
    for _ in range(round(seconds / 0.05)):
        found = await pool.fetchval(
            "SELECT i.call_id FROM interactions i JOIN interaction_legs l"
            " ON l.interaction_id = i.id WHERE i.caller_number = $1 AND l.answered_at IS NOT NULL"
            " AND i.call_id NOT LIKE 'demo-%' ORDER BY i.started_at DESC LIMIT 1",
            "+" + number,
        )
        if found is not None:
            return str(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the call from {number} was never recorded as answered")


async def _call_learned(pool: asyncpg.Pool, call_id: str, agent: str) -> bool:
    return bool(
        await pool.fetchval(
            """
            SELECT true FROM interactions i
            JOIN interaction_legs l ON l.interaction_id = i.id
            JOIN agents a ON a.id = l.agent_id
            WHERE i.call_id = $1 AND i.ended_at IS NOT NULL AND a.name = $2
              AND l.answered_at IS NOT NULL AND l.ended_at IS NOT NULL
            """,
            call_id,
            agent,
        )
    )


# --- Asterisk restarting, the pages flooded, a burst of calls ------------------------------------


async def test_asterisk_restarted_after_a_call(faults: Faults) -> None:
    """The call ends and Asterisk restarts at once (the end is still on its way to us): the
    router reconnects to ARI and AMI, and the callback is sticky."""
    number, agent = "79990001104", "agent2"
    row = Row("Asterisk restarted as a call ended")
    budget_before = faults.over_budget()
    asterisk = faults.asterisk
    with AgentPhones(asterisk, faults.logs, {agent: "uas_answer.xml"}):
        result = await call(asterisk, faults.logs, caller_id=number, hold_ms=TALK_MS)
    asterisk.ari, asterisk.ami = asterisk.ari_credentials, asterisk.ami_credentials
    await asyncio.to_thread(asterisk.stop)
    await asyncio.to_thread(asterisk.start)
    back = time.monotonic()
    await asyncio.to_thread(asterisk.log_in_agents)
    await faults.router.wait_connected(20)
    row.calls, row.failed = 1, int(not result.ok)
    row.recovered_s = await _recovery(faults, number, agent, back)
    row.lost = 0 if await _learned(faults.pool, number, agent) else 1
    row.sticky_after = await faults.callback_rings_only(number, agent)
    row.calls, row.failed = 2, row.failed + int(not row.sticky_after)
    row.over_budget = faults.over_budget() - budget_before
    _record(row)
    _assert_held(row)


async def test_pages_flooded_with_sign_ins_and_bogus_cookies_during_calls(faults: Faults) -> None:
    """While calls are decided, the pages take a flood: sign-ins with wrong passwords and
    requests with session cookies nobody issued. The decisions keep their budget."""
    web = faults.router.settings.web
    assert web is not None
    number, agent = "79990001105", "agent1"
    row = Row("Pages flooded (sign-ins, bogus cookies) during calls")
    budget_before = faults.over_budget()
    faults.router.metrics.worst_loop_lag = 0.0
    # From a process of its own, like the browsers it stands for: the router's loop carries
    # only the router's work.
    flood = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOD, web.base_url, str(TALK_MS / 1000 + 3),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(1)
    with AgentPhones(faults.asterisk, faults.logs, {agent: "uas_answer.xml"}):
        results = [await call(faults.asterisk, faults.logs, caller_id=number, hold_ms=TALK_MS)]
    said, _ = await flood.communicate()
    sent = int(said.decode().strip() or 0)
    row.calls, row.failed = len(results), sum(not r.ok for r in results)
    row.recovered_s = await _recovery(faults, number, agent, time.monotonic())
    row.lost = 0 if await _learned(faults.pool, number, agent) else 1
    row.sticky_after = await faults.callback_rings_only(number, agent)
    row.over_budget = faults.over_budget() - budget_before
    row.fault += f" ({sent} requests, worst loop lag "
    row.fault += f"{faults.router.metrics.worst_loop_lag * 1000:.0f} ms)"
    _record(row)
    assert sent > 100, "the flood never got going"
    _assert_held(row)


BURST = 30

FLOOD = """
import asyncio, secrets, sys, time
import aiohttp

async def main(base, seconds):
    deadline, sent = time.monotonic() + seconds, 0
    async def worker(n):
        nonlocal sent
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if n % 2:
                    form = {"name": f"agent{n % 4 + 1}", "password": secrets.token_hex(8)}
                    reply = await session.post(base + "/agent/sign-in", data=form,
                                               headers={"Origin": base}, allow_redirects=False)
                else:
                    cookies = {"sticky_agent_session": secrets.token_urlsafe(32)}
                    reply = await session.get(base + "/agent/", cookies=cookies,
                                              allow_redirects=False)
                reply.release()
                sent += 1
    await asyncio.gather(*(worker(n) for n in range(16)))
    print(sent)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def test_a_burst_of_thirty_calls_in_one_second(faults: Faults) -> None:
    """30 calls arrive within a second (SIPp at 30 calls/s) for four agents: none fails, every
    one is recorded with its end, every answer Asterisk's queue_log shows is learned (most
    callers give up waiting, as they would), and the next callback rings the agent history
    names."""
    number = "79990001106"
    row = Row(f"Burst of {BURST} calls in 1 s")
    budget_before = faults.over_budget()
    scenarios = {agent: "uas_answer.xml" for agent in AGENTS}
    with AgentPhones(faults.asterisk, faults.logs, scenarios):
        burst = SippPhone.caller(
            "uac.xml", faults.asterisk, faults.logs, dialled="74950000000", caller_id=number,
            hold_ms=2500, calls=BURST, timeout_s=120, name="burst",
        )  # fmt: skip
        burst.arguments += ["-r", str(BURST)]
        result = await asyncio.to_thread(burst.run)
    ended = time.monotonic()
    row.calls, row.failed = BURST, 0 if result.ok else len(burst.error_lines()) or BURST
    missing = BURST
    for _ in range(round(RECOVERY_LIMIT / 0.2)):
        missing = await _burst_missing(faults, number)
        if not missing:
            row.recovered_s = time.monotonic() - ended
            break
        await asyncio.sleep(0.2)
    row.lost = missing
    service = RoutingService(faults.pool, default_region="RU", db_budget_seconds=5)
    preview = await service.decide(
        IncomingCall("preview", number, datetime.now(UTC), "support"), claim=False
    )
    assert isinstance(preview, StickyDecision), preview
    row.sticky_after = await faults.callback_rings_only(number, preview.target.agent.name)
    row.over_budget = faults.over_budget() - budget_before
    _record(row)
    _assert_held(row)


async def _burst_missing(faults: Faults, number: str) -> int:
    """Calls not recorded as ended, plus answers in Asterisk's queue_log not learned."""
    rows = await faults.pool.fetch(
        """
        SELECT i.call_id, i.ended_at IS NOT NULL AS ended,
               (SELECT count(*) FROM interaction_legs l WHERE l.interaction_id = i.id
                AND l.answered_at IS NOT NULL AND l.ended_at IS NOT NULL) AS answered
        FROM interactions i WHERE i.caller_number = $1
        """,
        "+" + number,
    )
    calls = {row["call_id"]: row for row in rows}
    queue_log = faults.asterisk.instance_dir / "log" / "queue_log"
    connected: dict[str, int] = {}
    for line in queue_log.read_text().splitlines():
        fields = line.split("|")
        if len(fields) > 4 and fields[4] == "CONNECT" and fields[1] in calls:
            connected[fields[1]] = connected.get(fields[1], 0) + 1
    unended = BURST - sum(bool(row["ended"]) for row in rows)
    unanswered = sum(max(n - int(calls[c]["answered"]), 0) for c, n in connected.items())
    return unended + unanswered


async def test_router_started_while_postgresql_is_down(
    sandbox: Sandbox, router: Router, pool: asyncpg.Pool, asterisk: LocalAsterisk, phone_logs: Path
) -> None:
    """Whatever the restart order: the router starts while PostgreSQL refuses connections,
    queues the calls meanwhile (nothing to decide with), journals what it learns, and applies
    it once PostgreSQL is back."""
    await router.stop()
    database = TcpProxy("127.0.0.1", sandbox.postgres.port)
    await database.start()
    database.cut()  # refusing, as a PostgreSQL that is still starting
    settings = dataclasses.replace(
        sandbox.router_settings(),
        database_url=sandbox.postgres.dsn.replace(
            f":{sandbox.postgres.port}/", f":{database.port}/"
        ),
        web=None,
    )
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1,
        actor="fault-table",
    )  # fmt: skip
    number, agent = "79990001107", "agent3"
    row = Row("Router started while PostgreSQL was down")
    behind = Router(settings)
    try:
        await behind.start()
        await behind.wait_connected(10)
        with AgentPhones(asterisk, phone_logs, {agent: "uas_answer.xml"}):
            result = await call(asterisk, phone_logs, caller_id=number, hold_ms=TALK_MS)
        database.resume()
        back = time.monotonic()
        row.calls, row.failed = 1, int(not result.ok)
        for _ in range(round(RECOVERY_LIMIT / 0.1)):
            if await _learned(pool, number, agent):
                row.recovered_s = time.monotonic() - back
                break
            await asyncio.sleep(0.1)
        row.lost = 0 if row.recovered_s is not None else 1
        row.sticky_after = await _callback_rings_only(asterisk, pool, phone_logs, number, agent)
    finally:
        await behind.stop()
        await database.stop()
        await router.start()
        await router.wait_connected(10)
    _record(row)
    _assert_held(row)
