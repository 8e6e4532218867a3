"""Calls per second across two Asterisk nodes of one line, with a router each, on one PostgreSQL.

The multi-node sandbox of tests/multinode (devkit/sandbox/stack.py throwaway_nodes: two
Asterisk 22 nodes with trunks between them, phones from UDP port 43600), a `sticky-router run`
process per node (STICKY_NODE set, JSON logs), the demo data, and SIPp: the four agents' phones
on each node, answering at once, and one caller per node placing `--rate` calls per second for
`--seconds`, both at the same time. agent2 is logged in on node A only, so node B's callers whose
last agent is agent2 (the demo's Ivan, among others) are rung through the trunk to node A.

    .venv/bin/python bench/two_nodes.py                  # 10 calls/s on each node for 60 s
    .venv/bin/python bench/two_nodes.py --rate 5 --seconds 20

Prints, per node and together: calls attempted, succeeded and failed (SIPp), calls per second
completed, each router's decisions and the sticky rings that crossed to the other node, and the
CPU each router and each Asterisk used. Asserts nothing: exit 0 whenever the bench ran, 1 when
it could not run (no root, no Asterisk, a SIPp or router that would not start).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.call_rig import (
    LOOPBACK,
    BenchError,
    agent_phones,
    asterisk_pid,
    seed_bench_data,
    sipp_counts,
    wait_for_silence,
    write_calls,
    write_scenarios,
)
from bench.post_dial_delay import sustained_callers
from bench.router_process import (
    RouterProcess,
    decisions,
    routes,
    sample_process,
)
from devkit.sandbox.stack import Sandbox, throwaway_nodes
from testkit.chromium import free_tcp_port
from testkit.sipp import SippPhone

PHONE_PORTS_FROM = 43600  # post_dial_delay uses 43000, the test suites their own blocks


@dataclass
class NodeFigures:
    node: str
    attempted: int
    succeeded: int
    failed: int
    decisions: int
    routes: Counter[str]
    crossed: int  # sticky rings sent through the trunk to the other node
    router_cpu: float
    asterisk_cpu: float | None
    channels_left: int


def start_routers(nodes: Sequence[Sandbox], work: Path) -> dict[str, RouterProcess]:
    routers = {}
    for node in nodes:
        name = node.asterisk.system_name
        journal = work / f"journal-{name}"
        journal.mkdir()
        router = RouterProcess(
            node.postgres, node.asterisk, work / f"router-{name}.log",
            extra_env={"STICKY_NODE": name, "STICKY_JOURNAL_DIR": str(journal),
                       "STICKY_WEB_PORT": str(free_tcp_port())},
        )  # fmt: skip
        router.start()
        routers[name] = router
    return routers


def place_calls(
    nodes: Sequence[Sandbox], routers: dict[str, RouterProcess], work: Path, rate: float,
    seconds: float,
) -> list[NodeFigures]:  # fmt: skip
    total = max(1, round(rate * seconds))
    caller_xml, agent_xml = write_scenarios(work, 0)
    timeout = seconds + 120
    offsets = {name: router.log_offset() for name, router in routers.items()}
    cpu_before = {name: router.sample().cpu_seconds for name, router in routers.items()}
    pids = {node.asterisk.system_name: asterisk_pid(node.asterisk) for node in nodes}
    pbx_before = {name: sample_process(pid).cpu_seconds if pid else None
                  for name, pid in pids.items()}  # fmt: skip
    callers: dict[str, SippPhone] = {}
    with (
        agent_phones(nodes[0].asterisk, agent_xml, work, "a", timeout + 60),
        agent_phones(nodes[1].asterisk, agent_xml, work, "b", timeout + 60),
    ):
        for index, node in enumerate(nodes):
            name = node.asterisk.system_name
            csv = write_calls(work / f"calls-{name}.csv", sustained_callers(total, seed=index))
            callers[name] = SippPhone(
                name=f"caller-{name}",
                arguments=[
                    f"{LOOPBACK}:{node.asterisk.sip_port}", "-sf", str(caller_xml), "-inf",
                    str(csv), "-d", "2000", "-m", str(total), "-r", f"{rate:g}", "-rp", "1000",
                    "-l", str(max(50, round(rate * 30))),
                ],
                local_port=node.asterisk.caller_port, log_dir=work, timeout_s=timeout,
                statistics=True,
            ).start()  # fmt: skip
        started = time.monotonic()
        while any(caller.running() for caller in callers.values()):
            time.sleep(0.5)
        wall = time.monotonic() - started
        for caller in callers.values():
            caller.wait()
        left = {node.asterisk.system_name: wait_for_silence(node.asterisk, 20) for node in nodes}
    figures = []
    for name, router in routers.items():
        counts = sipp_counts(callers[name].file("stat.csv"))
        events = router.events(offsets[name])
        pid = pids[name]
        before = pbx_before[name]
        figures.append(
            NodeFigures(
                node=name,
                attempted=total,
                succeeded=counts.get("SuccessfulCall", 0),
                failed=counts.get("FailedCall", total - counts.get("SuccessfulCall", 0)),
                decisions=len(decisions(events)),
                routes=routes(decisions(events)),
                crossed=sum(1 for e in events
                            if e.get("event") == "ringing_in_dialplan" and e.get("on_node")),
                router_cpu=router.sample().cpu_seconds - cpu_before[name],
                asterisk_cpu=(sample_process(pid).cpu_seconds - before
                              if pid and before is not None else None),
                channels_left=left[name],
            )
        )  # fmt: skip
    print(f"Both callers finished in {wall:.1f} s (calls last 2 s each)")
    return figures


def report(figures: Sequence[NodeFigures], rate: float, seconds: float) -> list[str]:
    lines = [f"Two nodes, {rate:g} calls/s on each for {seconds:g} s (calls of 2 s):", ""]
    lines.append("node     attempted  succeeded  failed  decisions  crossed  router CPU  "
                 "Asterisk CPU  routes")  # fmt: skip
    for f in figures:
        pbx = f"{f.asterisk_cpu:.1f} s" if f.asterisk_cpu is not None else "?"
        lines.append(
            f"{f.node:<8} {f.attempted:>9}  {f.succeeded:>9}  {f.failed:>6}  {f.decisions:>9}  "
            f"{f.crossed:>7}  {f.router_cpu:>8.1f} s  {pbx:>12}  {dict(f.routes)}"
        )
    succeeded = sum(f.succeeded for f in figures)
    failed = sum(f.failed for f in figures)
    lines += [
        "",
        f"Together: {succeeded} calls completed, {failed} failed; "
        f"{succeeded / seconds:.1f} calls/s started and completed across the two nodes "
        f"(offered {2 * rate:g} calls/s).",
    ]
    if any(f.channels_left for f in figures):
        lines.append(f"Channels left up after the run: {[f.channels_left for f in figures]}")
    return lines


def run(args: argparse.Namespace, work: Path) -> list[str]:
    with throwaway_nodes("bench-nodes", phone_ports_from=PHONE_PORTS_FROM) as nodes:
        asyncio.run(seed_bench_data(nodes[0].postgres.dsn))
        nodes[1].asterisk.log_out_agent("agent2")  # agent2 works on node A only
        routers = start_routers(nodes, work)
        try:
            time.sleep(3)  # node A's router has published its members
            return report(place_calls(nodes, routers, work, args.rate, args.seconds),
                          args.rate, args.seconds)  # fmt: skip
        finally:
            for router in routers.values():
                router.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second per node")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-nodes-"))
    try:
        lines = run(args, work)
    except BenchError as error:
        print(f"bench could not run: {error}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
