"""The highest call rate this machine sustains through the router, found by stepping the rate,
and which process ran out of CPU first.

The rig of `bench/post_dial_delay.py`, with phones from UDP port 43300 (so both benches can
share a machine, one at a time): a throwaway PostgreSQL with the demo data, a throwaway Asterisk
22, the router as a process of its own (`sticky-router run`, JSON logs at info) and SIPp as the
caller and the four agents' phones, all on loopback and sharing this machine's cores. Needs root,
like the e2e tests.

    .venv/bin/python bench/max_rate.py                       # 10, 20, 40 ... calls/s, 20 s each
    .venv/bin/python bench/max_rate.py --rates 10,40 --seconds 10    # smoke run

Each step places `--seconds` of calls at one rate (the sustained mix of post_dial_delay.py: most
callers new, some with history, some sticky; each talking `--talk-ms`), waits until Asterisk
holds no channel, and prints the calls failed, how long callers waited for the answer, and each
process's share of one core while the calls came in: the router's event loop (its main thread:
one core is all it can ever have), the router with its threads, Asterisk, PostgreSQL (every
process of the cluster) and the machine as a whole. A step holds when no call failed and the
callers' p99 wait for the answer stayed under `--answer-p99-ms`; the steps stop at the first
that does not.

Target (issue 18): the highest rate with 0 failed calls, printed with which process saturated
first, and the router must not be it. Prints figures and asserts nothing: the exit code is 0
whenever the bench ran, 1 when it could not (no root, no Asterisk, a SIPp or router that would
not start).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.call_rig import BenchError, asterisk_pid
from bench.cpu_watch import (
    ASTERISK,
    MACHINE,
    POSTGRES,
    PROGRAMS,
    ROUTER,
    ROUTER_LOOP,
    SIPP,
    CpuWatch,
    Usage,
)
from bench.figures import percentile
from bench.pdd_report import SustainedResult
from bench.post_dial_delay import run_sustained
from bench.stack import router_rig, run_in_work_dir

PHONE_PORTS_FROM = 43300  # post_dial_delay.py 43000, two_nodes.py 43600
DEFAULT_RATES = (10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 150.0, 200.0)
THREAD_SATURATED = 90.0  # % of one core: a thread (or a one-threaded process) has no time left
# % of all cores, averaged over a step. Calls come in bursts and the phones (SIPp) and the kernel
# share the cores: measured, the callers' answer p99 went from 130 ms at 100 calls/s (machine 84 %
# busy) to 3.7 s at 120 calls/s (82 %: fewer calls finished each second).
MACHINE_SATURATED = 80.0
NONE = Usage(0.0, 0.0, "")  # a program the watch did not find
STEP_IDLE_SECONDS = 2.0  # the quiet sample before each step (post_dial_delay.py takes 10 s)


def holds(result: SustainedResult, answer_p99_ms: float) -> bool:
    return result.failed() == 0 and percentile(result.answer_ms, 0.99) <= answer_p99_ms


def _share(usage: dict[str, Usage], name: str, busiest: bool = False) -> str:
    found = usage.get(name)
    if found is None:
        return f"{'?':>9}"
    return f"{found.busiest if busiest else found.total:9.0f}"


def step_row(result: SustainedResult, answer_p99_ms: float) -> str:
    usage = result.cpu
    return (
        f"  {result.rate:6g} {result.attempted:6d} {result.failed():6d} "
        f"{percentile(result.answer_ms, 0.5):8.0f} {percentile(result.answer_ms, 0.99):8.0f}  "
        + _share(usage, ROUTER_LOOP)
        + _share(usage, ROUTER)
        + _share(usage, ASTERISK)
        + _share(usage, ASTERISK, busiest=True)
        + _share(usage, POSTGRES)
        + _share(usage, SIPP)
        + _share(usage, MACHINE)
        + f"  {'holds' if holds(result, answer_p99_ms) else 'DOES NOT HOLD'}"
    )


def header(cores: int) -> list[str]:
    return [
        "",
        "== Stepping the rate: calls/s, calls, failed, INVITE -> 200 OK p50/p99 (ms), and CPU "
        f"while the calls came in, in % of one core (machine: of its {cores} cores) ==",
        f"  {'rate':>6} {'calls':>6} {'failed':>6} {'ans p50':>8} {'ans p99':>8}  "
        f"{'rtr loop':>9}{'router':>9}{'Asterisk':>9}{'its top':>9}{'Postgres':>9}"
        f"{'SIPp':>9}{'machine':>9}",
        "  (rtr loop: the router's event loop, its main thread; its top: Asterisk's busiest "
        "thread)",
    ]


def saturated(usage: dict[str, Usage]) -> list[str]:
    """The programs whose busiest thread or process had no time left."""
    found = [ROUTER_LOOP] if usage.get(ROUTER_LOOP, NONE).total >= THREAD_SATURATED else []
    for program in PROGRAMS:
        if program != ROUTER and usage.get(program, NONE).busiest >= THREAD_SATURATED:
            found.append(program)
    return found


def verdict(steps: Sequence[SustainedResult], answer_p99_ms: float) -> list[str]:
    """The highest step that held, and what ran out first at the step above it (or, when every
    step held, at the last one)."""
    held = [step for step in steps if holds(step, answer_p99_ms)]
    top = max((step.rate for step in held), default=None)
    broke = next((step for step in steps if not holds(step, answer_p99_ms)), None)
    looked_at = broke or steps[-1]
    usage = looked_at.cpu
    lines = ["", "== Summary (figure, target, met?) =="]
    if top is None:
        lines.append(f"  no step held, not even {steps[0].rate:g} calls/s")
    elif broke is None:
        lines.append(
            f"  every step held, up to {top:g} calls/s: the highest sustained rate is at least "
            "that (try higher --rates)"
        )
    else:
        lines.append(
            f"  highest sustained rate with 0 failed calls: {top:g} calls/s "
            f"({broke.rate:g} calls/s did not hold: {broke.failed()} failed, answer p99 "
            f"{percentile(broke.answer_ms, 0.99):.0f} ms)"
        )
    machine = usage.get(MACHINE, NONE).total
    loop = usage.get(ROUTER_LOOP, NONE).total
    largest = max(PROGRAMS, key=lambda name: usage.get(name, NONE).total)
    out_of_cpu = saturated(usage)
    where = f"at {looked_at.rate:g} calls/s"
    context = (
        f"machine {machine:.0f}% busy; the router's event loop {loop:.0f}% of its core; the "
        f"largest user {largest} ({usage.get(largest, NONE).total:.0f}% of a core)"
    )
    if out_of_cpu:
        router_first = ROUTER_LOOP in out_of_cpu
        lines.append(
            f"  saturated {where}: {', '.join(out_of_cpu)} (a thread at "
            f">= {THREAD_SATURATED:g}% of a core); {context}; target, not the router: "
            + ("MISSED" if router_first else "MET")
        )
    elif machine >= MACHINE_SATURATED:
        lines.append(
            f"  saturated {where}: the machine's cores; {context}; target, not the router: "
            + ("MISSED" if largest == ROUTER else "MET")
        )
    else:
        lines.append(f"  nothing saturated {where}: {context}")
    return lines


def failures(result: SustainedResult) -> list[str]:
    lines = [f"    SIPp error: {line}" for line in result.sipp_errors[:5]]
    if result.router_problems:
        lines.append(f"    router warnings/errors: {dict(result.router_problems)}")
    if result.channels_left:
        lines.append(f"    channels left in Asterisk 20 s after the calls: {result.channels_left}")
    return lines


def run(args: argparse.Namespace, work: Path) -> list[str]:
    print(f"Logs: {work}", flush=True)
    steps: list[SustainedResult] = []
    with router_rig("rate", PHONE_PORTS_FROM, work) as rig:
        cpu = CpuWatch(rig.router.pid, asterisk_pid(rig.asterisk), rig.postgres.cluster)
        lines = header(cpu.cores)
        print("\n".join(lines), flush=True)
        first_caller = 0
        for rate in args.rates:
            step_dir = work / f"rate-{rate:g}"
            step_dir.mkdir()
            result = run_sustained(
                rig.asterisk, rig.router, rig.postgres, step_dir, rate, args.seconds,
                args.talk_ms, cpu=cpu, first_caller=first_caller, idle_seconds=STEP_IDLE_SECONDS,
            )  # fmt: skip
            first_caller += result.attempted
            steps.append(result)
            row = [step_row(result, args.answer_p99_ms)]
            if not holds(result, args.answer_p99_ms):
                row += failures(result)
            print("\n".join(row), flush=True)
            lines += row
            if not holds(result, args.answer_p99_ms):
                break
    if not steps:
        raise BenchError("no step ran")
    return [
        *verdict(steps, args.answer_p99_ms),
        f"  router exit code after SIGTERM: {rig.router_exit}",
    ]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rates",
        default=",".join(f"{rate:g}" for rate in DEFAULT_RATES),
        help="calls/s of each step, rising (%(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step (20)")
    parser.add_argument("--talk-ms", type=int, default=1000, help="each caller's talk (1000)")
    parser.add_argument(
        "--answer-p99-ms",
        type=float,
        default=3000.0,
        help="a step holds only while the callers' p99 wait for the answer stays under this (3000)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep SIPp and router logs")
    args = parser.parse_args(argv)
    try:
        args.rates = [float(rate) for rate in args.rates.split(",")]
    except ValueError:
        parser.error(f"--rates takes numbers separated by commas, not {args.rates!r}")
    if not args.rates or any(rate <= 0 for rate in args.rates) or args.rates != sorted(args.rates):
        parser.error("--rates must be rising rates above 0")
    if args.seconds <= 0 or args.talk_ms < 0:
        parser.error("--seconds must be above 0 and --talk-ms at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    return run_in_work_dir("sticky-rate-bench-", lambda work: run(args, work), args.keep_logs)


if __name__ == "__main__":
    sys.exit(main())
