"""The FastAGI path under a real Asterisk: lookups per second and the latency AGI() sees.

A throwaway PostgreSQL with the demo data, a throwaway Asterisk 22 (the sandbox configuration)
and the FastAGI server in this process, on loopback. Asterisk itself is the client: a bench
context (written next to the sandbox dialplan for this run only) starts `--concurrency` loops,
each creating one new channel per iteration that runs `AGI(agi://.../lookup,support)` with a
caller number of its own (nine in ten unknown: the lookup finds no history and says `queue`;
one in ten the demo caller Ivan: `sticky`, which writes a claim). The time of each AGI() call,
with the sticky-unpack that follows it in dialplan/sticky-router-agi.conf, is taken in the
dialplan (STRFTIME with microseconds, before and after) and logged by Asterisk; throughput is
lookups over the span between the first start and the last end.

A `noop` script (the same server, answers nothing) measures what any FastAGI call costs here:
Asterisk's connect, the header, the close. The difference is what the routing decision adds.

    .venv/bin/python bench/agi_lookup.py                 # 300 sequential, then 4x500 and 16x250
    .venv/bin/python bench/agi_lookup.py --quick         # smoke run
    .venv/bin/python bench/agi_lookup.py --sequential 1000 --concurrency 8 --per-loop 1000

Needs root (Asterisk runs in a chroot), like the e2e tests. Prints figures, asserts nothing:
exit code 0 whenever the bench ran, 1 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import percentile
from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk
from devkit.sandbox.asterisk_config import DIALPLAN_IN_ETC
from devkit.sandbox.postgres import throwaway_postgres
from sticky_router.agi.peers import LOOPBACK, PeerPolicy
from sticky_router.agi.protocol import AgiSession
from sticky_router.agi.scripts import AgiScripts
from sticky_router.agi.server import AgiServer
from sticky_router.process import database
from sticky_router.process.event_loop import run_service
from sticky_router.process.journaling import Journaling
from sticky_router.process.logs import configure_logging
from sticky_router.routing_core import CallRecorder, RoutingService

TARGET_LOOKUP_OVER_NOOP = 2.0  # issue 18: a lookup at most twice what any FastAGI call costs
PHONE_PORTS_FROM = 45000  # no phone rings here, but the block must not collide with the tests
BENCH_CONTEXT = """
; bench/agi_lookup.py: one new channel per lookup, timed around AGI() by Asterisk itself.
[sticky-bench-agi]
exten => loop,1,Set(I=0)
 same => n(next),Originate(Local/${BENCH_SCRIPT}@sticky-bench-agi/n,app,Wait,1)
 same => n,Set(I=$[${I} + 1])
 same => n,GotoIf($[${I} < ${BENCH_ITERATIONS}]?next)
 same => n,Hangup()
exten => lookup,1,Set(UNKNOWN=+7999${RAND(1000000,9999999)})
 same => n,Set(CALLERID(num)=${IF($[${RAND(1,10)} = 1]?+79123456701:${UNKNOWN})})
 same => n,Set(T0=${STRFTIME(,,%s.%6q)})
 ; As dialplan/sticky-router-agi.conf: the variables in one pack, set by sticky-unpack (timed too).
 same => n,AGI(${STICKY_AGI_URL}/lookup?secret=${STICKY_AGI_SECRET}&pack=1,support)
 same => n,Gosub(sticky-unpack,s,1)
 same => n,Log(NOTICE,agi-bench lookup ${STICKY_ROUTE}/${STICKY_REASON} ${T0} ${STRFTIME(,,%s.%6q)})
 ; Free agent2's claim (untimed), as a missed attempt would: the next Ivan is sticky again.
 same => n,GotoIf($["${STICKY_ROUTE}" != "sticky"]?done)
 same => n,AGI(${STICKY_AGI_URL}/result?secret=${STICKY_AGI_SECRET},busy)
 same => n(done),NoOp()
 same => n,Hangup()
exten => noop,1,Set(T0=${STRFTIME(,,%s.%6q)})
 same => n,AGI(${STICKY_AGI_URL}/noop?secret=${STICKY_AGI_SECRET})
 same => n,Log(NOTICE,agi-bench noop - ${T0} ${STRFTIME(,,%s.%6q)})
 same => n,Hangup()
"""
# The NOTICE line Log() writes (the VERBOSE line before it, "Executing ... Log(...)", quotes the
# same text and must not count twice).
_LOGGED = re.compile(r"Ext\. \w+: agi-bench (\w+) (\S*) ([0-9.]+) ([0-9.]+)")


@dataclass(frozen=True)
class Lookup:
    script: str
    route: str
    started: float
    ended: float

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000


@dataclass(frozen=True)
class Run:
    label: str
    lookups: list[Lookup]
    cpu_seconds: float  # this process: the FastAGI server and its database work

    @property
    def per_second(self) -> float:
        if len(self.lookups) < 2:
            return float("nan")
        span = max(x.ended for x in self.lookups) - min(x.started for x in self.lookups)
        return len(self.lookups) / span if span > 0 else float("nan")

    def report(self) -> str:
        times = [x.ms for x in self.lookups]
        routes = Counter(x.route for x in self.lookups)
        figures = "  ".join(
            f"{name} {percentile(times, q):6.2f}"
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        )
        return (
            f"{self.label:<28} {len(times):5d} calls  {self.per_second:7.1f}/s  AGI() ms: "
            f"{figures}  server CPU {self.cpu_seconds:5.2f} s  routes {dict(routes)}"
        )


def logged_lookups(log: Path, offset: int) -> tuple[list[Lookup], int]:
    """The bench lines Asterisk wrote after byte `offset`, and the new offset."""
    with log.open("rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
        end = file.tell()
    found = [Lookup(m[1], m[2], float(m[3]), float(m[4])) for m in _LOGGED.finditer(text)]
    return found, end


async def run_loops(
    asterisk: LocalAsterisk, script: str, loops: int, per_loop: int, label: str
) -> Run:
    cli = asterisk.cli
    await asyncio.to_thread(cli, f"dialplan set global BENCH_SCRIPT {script}")
    await asyncio.to_thread(cli, f"dialplan set global BENCH_ITERATIONS {per_loop}")
    offset = asterisk.log_file.stat().st_size
    cpu_before = _cpu()
    for _ in range(loops):
        await asyncio.to_thread(
            cli, "channel originate Local/loop@sticky-bench-agi/n application Wait 3600"
        )
    wanted = loops * per_loop
    lookups: list[Lookup] = []
    deadline = time.monotonic() + 60 + wanted * 0.05
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        lookups, _ = logged_lookups(asterisk.log_file, offset)
        if len(lookups) >= wanted:
            break
    cpu = _cpu() - cpu_before
    await asyncio.to_thread(cli, "channel request hangup all")
    if len(lookups) < wanted:
        print(f"  ({label}: only {len(lookups)} of {wanted} lookups finished in time)")
    return Run(label, lookups, cpu)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def noop(_session: AgiSession) -> None:
    """The cost of a FastAGI call that asks nothing of the router."""


async def bench(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    with (
        throwaway_postgres() as postgres,
        throwaway_asterisk("bench-agi", phone_ports_from=PHONE_PORTS_FROM) as asterisk,
    ):
        await asyncio.to_thread(database.upgrade, postgres.dsn)
        (asterisk.instance_dir / "etc" / DIALPLAN_IN_ETC / "zz-bench.conf").write_text(
            BENCH_CONTEXT
        )
        await asyncio.to_thread(asterisk.cli, "dialplan reload")
        pool = await database.create_pool(postgres.dsn, 10)
        await seed_demo(pool, datetime.now(UTC), reset=True)
        # Sticky calls raise no cap during the run: the cap is per agent per hour.
        await pool.execute(
            "INSERT INTO routing_settings (scope_kind, scope_value, key, value, updated_by) "
            "VALUES ('global', '', 'sticky_cap_per_hour', '100000', 'bench')"
        )
        journaling = Journaling(asterisk.instance_dir / "agi.journal", CallRecorder(pool))
        scripts = AgiScripts(
            RoutingService(pool, default_region="RU", db_budget_seconds=0.3),
            await journaling.start(),
        )
        server = AgiServer(
            {**scripts.handlers(), "noop": noop},
            "127.0.0.1",
            asterisk.agi_port,
            PeerPolicy.of(LOOPBACK, asterisk.live_agi_secret),
        )
        await server.start()
        try:
            print(f"Asterisk {asterisk.name}, FastAGI on 127.0.0.1:{server.port}", flush=True)
            runs = [
                await run_loops(asterisk, "noop", 1, args.sequential, "noop, one at a time"),
                await run_loops(asterisk, "lookup", 1, args.sequential, "lookup, one at a time"),
            ]
            for loops in args.concurrency:
                label = f"lookup, {loops} at once"
                runs.append(await run_loops(asterisk, "lookup", loops, args.per_loop, label))
                print(runs[-1].report(), flush=True)
            await scripts.drain()
        finally:
            await server.stop()
            await journaling.stop()
            await pool.close()
    lines.append(
        f"FastAGI through a real Asterisk 22 (AGI() timed in the dialplan; the server on "
        f"{args.event_loop}):"
    )
    lines.extend("  " + run.report() for run in runs)
    noop_p50 = percentile([x.ms for x in runs[0].lookups], 0.5)
    lookup_p50 = percentile([x.ms for x in runs[1].lookups], 0.5)
    lines.append(
        f"  the decision adds {lookup_p50 - noop_p50:.2f} ms at the median (lookup - noop)"
    )
    ratio = lookup_p50 / noop_p50
    lines.append(
        f"  lookup p50 / no-op p50, same run: {ratio:.1f}x (target, issue 18: at most "
        f"{TARGET_LOOKUP_OVER_NOOP:g}x): {'MET' if ratio <= TARGET_LOOKUP_OVER_NOOP else 'MISSED'}"
    )
    return lines


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequential", type=int, default=300, help="one-at-a-time lookups")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4, 16], help="loops at once, per run"
    )
    parser.add_argument("--per-loop", type=int, default=None, help="lookups per loop")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts")
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the loop the FastAGI server runs on (uvloop, the default, as deployed)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sequential, args.concurrency, args.per_loop = 30, [4], 25
    if args.per_loop is None:
        args.per_loop = max(1, 2000 // max(args.concurrency))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    configure_logging("warning", "console")  # one line per decision would drown the figures
    try:
        lines = run_service(bench(args), args.event_loop)
    except KeyboardInterrupt:
        return 1
    except (RuntimeError, OSError) as error:
        print(f"\nThe bench could not run: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
