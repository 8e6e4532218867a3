"""Post-dial delay through the router versus a plain `Dial()`, and a sustained call rate.

Everything runs on this machine, on loopback: a throwaway PostgreSQL with the demo data, a
throwaway Asterisk 22 (the sandbox configuration, phones from UDP port 43000 so that test suites
running at the same time keep theirs), the router as a process of its own (`sticky-router run`,
configured by STICKY_* variables like a deployment, JSON logs at info), and SIPp as the caller
and as the four agents' phones. Needs root (Asterisk runs in a chroot), like the e2e tests.

    .venv/bin/python bench/post_dial_delay.py            # 200 calls, then 20 calls/s for 60 s
    .venv/bin/python bench/post_dial_delay.py --quick    # smoke run: 40 calls, 10 calls/s for 10 s
    .venv/bin/python bench/post_dial_delay.py --calls 400 --rate 30 --seconds 120

1. Post-dial delay: `--calls` calls, one at a time, alternating `direct` (the dialplan's plain
   `Dial(PJSIP/agent2,15)`, context sticky-direct) and the DID 74950000000 (sticky-inbound,
   Stasis, the router), all from the demo caller Ivan, whom the router sends to agent2 (the
   announcement is off, the sticky cap raised and the minimum talk time 0 s, so every router
   call is a sticky attempt; a router call that still goes to the queue is left out, and said).
   agent2 answers at once, the caller hangs up after 100 ms. Delay = agent2's INVITE received
   minus the caller's INVITE sent, both from SIPp's message logs (same machine, same clock).
   The first `--warmup` calls are not counted.
2. Sustained: `--rate` calls per second for `--seconds` through the router, callers with varied
   numbers (most without history: the queue; some demo callers: sticky attempts), each talking
   `--talk-ms`. Reports SIPp's succeeded and failed calls, the router's CPU time and memory
   (/proc/<pid>/stat and status), its decision latency (`routing_decision` log lines) and what it
   did with the calls.

Targets (issue 18): post-dial overhead over plain `Dial()` at most 4 ms at p50 and 10 ms at p99,
router CPU per routed call at most a quarter of Asterisk's, no failed call. The summary prints
each beside the figure of this run. This prints figures and asserts nothing: the exit code is 0
whenever the bench ran, 1 only when it could not run (no root, no Asterisk, a SIPp or router that
would not start).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.ami_tally import AmiTally
from bench.call_rig import (
    BACKGROUND_CALLERS,
    DEMO_CALLERS,
    DID,
    DIRECT,
    IVAN,
    LOOPBACK,
    PHONE_PORTS_FROM,
    BenchError,
    agent_phones,
    answers,
    asterisk_pid,
    first_invites,
    read_messages,
    recorded,
    sipp_counts,
    wait_for_silence,
    write_calls,
    write_scenarios,
)
from bench.cpu_watch import CpuWatch
from bench.figures import megabytes
from bench.pdd_report import (
    IDLE_SECONDS,
    PddResult,
    SustainedResult,
    report_pdd,
    report_profile,
    report_sustained,
    summary,
)
from bench.profiler import profiled
from bench.router_process import (
    RouterProcess,
    decisions,
    latencies,
    problems,
    routes,
    sample_process,
)
from bench.stack import router_rig, run_in_work_dir
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import AGENTS
from devkit.sandbox.postgres import LocalPostgres
from testkit.sipp import SippPhone

PDD_HOLD_MS = 100
PDD_GAP_MS = 250  # after each call, so agent2's device state is NOT_INUSE again for the next
IDLE_SETTLE_SECONDS = 3.0  # after the post-dial delay calls, before the idle sample


# --- phase 1: post-dial delay -----------------------------------------------------------------


def run_pdd(
    asterisk: LocalAsterisk,
    router: RouterProcess,
    work: Path,
    calls: int,
    warmup: int,
) -> PddResult:
    total = calls + warmup
    plan = [(DIRECT if index % 2 == 0 else DID, IVAN) for index in range(total)]
    caller_xml, agent_xml = write_scenarios(work, PDD_GAP_MS)
    csv = write_calls(work / "pdd-calls.csv", plan)
    per_call_s = (PDD_HOLD_MS + PDD_GAP_MS) / 1000 + 0.5
    timeout = total * per_call_s + 60
    print(f"Post-dial delay: {total} calls ({warmup} warm-up), one at a time ...", flush=True)
    offset = router.log_offset()
    started = time.monotonic()
    with agent_phones(asterisk, agent_xml, work, "pdd", timeout + 30) as phones:
        caller = SippPhone(
            name="pdd-caller",
            arguments=[
                f"{LOOPBACK}:{asterisk.sip_port}", "-sf", str(caller_xml), "-inf", str(csv),
                "-d", str(PDD_HOLD_MS), "-m", str(total), "-l", "1", "-r", "50",
            ],
            local_port=asterisk.caller_port,
            log_dir=work,
            timeout_s=timeout,
            statistics=True,
        ).start()  # fmt: skip
        exit_code = caller.wait().exit_code
        wall = time.monotonic() - started
        wait_for_silence(asterisk, 10)
    events = router.events(offset)

    caller_messages = read_messages(caller.file("messages.log"))
    invites = first_invites(caller_messages, sent=True)
    answered = answers(caller_messages)
    rung = {
        agent: [m.at for m in first_invites(read_messages(phone.file("messages.log")), False)]
        for agent, phone in phones.items()
    }
    # One call at a time: the router's n-th decision is about the n-th call to the DID.
    made = decisions(events)
    routed = [invite.call_id for invite in invites if invite.request_user == DID]
    decision_of = dict(zip(routed, made, strict=False)) if len(made) == len(routed) else {}
    pdd: dict[str, list[float]] = {DIRECT: [], DID: []}
    answer: dict[str, list[float]] = {DIRECT: [], DID: []}
    not_rung: Counter[str] = Counter()
    others_rung: Counter[str] = Counter()
    not_sticky = 0
    paired: list[float] = []
    last_direct: float | None = None
    for index, invite in enumerate(invites):
        path = invite.request_user
        until = invites[index + 1].at if index + 1 < len(invites) else datetime.max
        in_call = {
            agent: [at for at in times if invite.at <= at < until] for agent, times in rung.items()
        }
        if index < warmup:
            continue
        if any(in_call[agent] for agent in AGENTS if agent != "agent2"):
            others_rung[path] += 1
        decision = decision_of.get(invite.call_id)
        if decision is not None and decision.get("route") != "sticky":
            not_sticky += 1  # the queue rang agent2 (or nobody): not the delay we measure
            continue
        if not in_call["agent2"]:
            not_rung[path] += 1
            continue
        delay = (in_call["agent2"][0] - invite.at).total_seconds() * 1000
        pdd[path].append(delay)
        if invite.call_id in answered:
            answer[path].append((answered[invite.call_id] - invite.at).total_seconds() * 1000)
        if path == DIRECT:
            last_direct = delay
        elif last_direct is not None:
            paired.append(delay - last_direct)
            last_direct = None
    return PddResult(
        calls=total,
        warmup=warmup,
        pdd=pdd,
        answer=answer,
        paired=paired,
        not_rung=not_rung,
        others_rung=others_rung,
        not_sticky=not_sticky,
        matched=bool(decision_of),
        sipp_exit=exit_code,
        sipp=sipp_counts(caller.file("stat.csv")),
        sipp_errors=caller.error_lines(),
        decision_ms=latencies(made[warmup // 2 :]),  # every other call is a router call
        routes=routes(made),
        bridged=sum(1 for event in events if event.get("event") == "sticky_answered"),
        router_problems=problems(events),
        wall_seconds=wall,
    )


# --- phase 2: sustained rate ------------------------------------------------------------------


def sustained_callers(count: int, seed: int = 2026, first: int = 0) -> list[tuple[str, str]]:
    """Most callers new (no history: the queue), some with old history, some demo callers.
    The new ones are numbered from `first`: a later run that starts past an earlier run's
    numbers calls with the same mix (a caller of the earlier run now has an agent to stick
    to)."""
    chance = random.Random(seed)
    rows = []
    for index in range(count):
        draw = chance.random()
        if draw < 0.10:
            number = chance.choice(DEMO_CALLERS)
        elif draw < 0.20:
            number = chance.choice(BACKGROUND_CALLERS)
        elif draw < 0.22:
            number = "anonymous"
        else:
            number = f"7999{first + index:07d}"
        rows.append((DID, number))
    return rows


def run_sustained(
    asterisk: LocalAsterisk,
    router: RouterProcess,
    postgres: LocalPostgres,
    work: Path,
    rate: float,
    seconds: float,
    talk_ms: int,
    profile: bool = False,
    cpu: CpuWatch | None = None,
    first_caller: int = 0,
    idle_seconds: float = IDLE_SECONDS,
) -> SustainedResult:
    total = max(1, round(rate * seconds))
    caller_xml, agent_xml = write_scenarios(work, 0)
    csv = write_calls(work / "sustained-calls.csv", sustained_callers(total, first=first_caller))
    timeout = seconds + talk_ms / 1000 + 120
    print(
        f"Sustained: {total} calls at {rate:g} calls/s through the router, {talk_ms} ms each ...",
        flush=True,
    )
    # The router's and Asterisk's CPU without calls (timers, the pops' and presence's loops),
    # so that what a call costs can be told from what the clock costs.
    a_pid = asterisk_pid(asterisk)
    time.sleep(IDLE_SETTLE_SECONDS)
    idle_start, a_idle_start = router.sample(), sample_process(a_pid) if a_pid else None
    time.sleep(idle_seconds)
    idle_end, a_idle_end = router.sample(), sample_process(a_pid) if a_pid else None
    idle_cpu = (idle_end.cpu_seconds - idle_start.cpu_seconds) / (idle_end.at - idle_start.at)
    asterisk_idle_cpu = (
        (a_idle_end.cpu_seconds - a_idle_start.cpu_seconds) / (a_idle_end.at - a_idle_start.at)
        if a_idle_start and a_idle_end
        else None
    )
    since = datetime.now(UTC)
    offset = router.log_offset()
    a_before = sample_process(a_pid).cpu_seconds if a_pid else None
    ami = asterisk.ami_credentials
    with (
        agent_phones(asterisk, agent_xml, work, "load", timeout + 60) as phones,
        AmiTally(LOOPBACK, asterisk.ami_port, ami.user, ami.password) as ami_sent,
        profiled(router.pid, work, "router") if profile else contextlib.nullcontext(),
    ):
        before = router.sample()
        cpu_before = cpu.sample() if cpu else None
        samples = [before]
        caller = SippPhone(
            name="load-caller",
            arguments=[
                f"{LOOPBACK}:{asterisk.sip_port}", "-sf", str(caller_xml), "-inf", str(csv),
                "-d", str(talk_ms), "-m", str(total), "-r", f"{rate:g}", "-rp", "1000",
                "-l", str(max(50, round(rate * 30))),
            ],
            local_port=asterisk.caller_port,
            log_dir=work,
            timeout_s=timeout,
            statistics=True,
        ).start()  # fmt: skip
        while caller.running():
            time.sleep(1)
            samples.append(router.sample())
        exit_code = caller.wait().exit_code
        after = router.sample()
        cpu_after = cpu.sample() if cpu else None
        samples.append(after)
        channels_left = wait_for_silence(asterisk, 20)
    a_after = sample_process(a_pid).cpu_seconds if a_pid else None
    events = router.events(offset)
    wall = after.at - before.at
    peak = max(
        (
            (later.cpu_seconds - earlier.cpu_seconds) / (later.at - earlier.at) * 100
            for earlier, later in itertools.pairwise(samples)
            if later.at - earlier.at > 0.5
        ),
        default=0.0,
    )
    caller_messages = read_messages(caller.file("messages.log"))
    invites = first_invites(caller_messages, sent=True)
    answered = answers(caller_messages)
    answer_ms = [
        (answered[i.call_id] - i.at).total_seconds() * 1000
        for i in invites
        if i.call_id in answered
    ]
    made = decisions(events)
    agent_failures = {}
    for agent, phone in phones.items():
        failed = sipp_counts(phone.file("stat.csv")).get("FailedCall", 0)
        if failed:
            agent_failures[agent] = failed
    rss = [sample.rss_kb for sample in samples if sample.rss_kb is not None]
    quarters = [rss[round(q * (len(rss) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)] if rss else []
    return SustainedResult(
        rate=rate,
        seconds=seconds,
        talk_ms=talk_ms,
        attempted=total,
        sipp_exit=exit_code,
        sipp=sipp_counts(caller.file("stat.csv")),
        sipp_errors=caller.error_lines(),
        answer_ms=answer_ms,
        unanswered=len(invites) - len(answer_ms),
        wall_seconds=wall,
        cpu_seconds=after.cpu_seconds - before.cpu_seconds,
        system_seconds=after.system_seconds - before.system_seconds,
        peak_cpu_percent=peak,
        rss_start_kb=before.rss_kb,
        rss_end_kb=after.rss_kb,
        rss_max_kb=max(rss) if rss else None,
        rss_quarters_kb=quarters,
        hwm_kb=after.hwm_kb,
        asterisk_cpu_seconds=(
            a_after - a_before if a_after is not None and a_before is not None else None
        ),
        decision_ms=latencies(events),
        decision_count=len(made),
        routes=routes(made),
        fallbacks=Counter(
            str(event.get("reason")) for event in events if event.get("event") == "fallback"
        ),
        bridged=sum(1 for event in events if event.get("event") == "sticky_answered"),
        router_problems=problems(events),
        agents_rung={
            agent: len(first_invites(read_messages(phone.file("messages.log")), False))
            for agent, phone in phones.items()
        },
        agent_failures=agent_failures,
        recorded=recorded(postgres.dsn, since),
        channels_left=channels_left,
        ami_events=ami_sent.events,
        idle_cpu=idle_cpu,
        asterisk_idle_cpu=asterisk_idle_cpu,
        cpu=cpu.usage(cpu_before, cpu_after) if cpu and cpu_before and cpu_after else {},
    )


# --- main -------------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=None, help="post-dial delay calls (200)")
    parser.add_argument("--warmup", type=int, default=None, help="uncounted first calls (10)")
    parser.add_argument("--rate", type=float, default=None, help="sustained calls/s (20)")
    parser.add_argument("--seconds", type=float, default=None, help="sustained run length (60)")
    parser.add_argument("--talk-ms", type=int, default=1000, help="sustained talk time (1000)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 40 calls, then 10 calls/s for 10 s"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep SIPp and router logs")
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the router's STICKY_EVENT_LOOP (uvloop, the default, as deployed)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the router with py-spy during the sustained part (its CPU figures then "
        "include the sampling); the flame graph is kept with the logs",
    )
    args = parser.parse_args(argv)
    quick = {"calls": 40, "warmup": 4, "rate": 10.0, "seconds": 10.0}
    full = {"calls": 200, "warmup": 10, "rate": 20.0, "seconds": 60.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.calls < 2 or args.rate <= 0 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--calls must be at least 2, --rate and --seconds above 0")
    args.warmup += args.warmup % 2  # whole direct/router pairs
    return args


def run(args: argparse.Namespace, work: Path) -> list[str]:
    print(f"Logs: {work}", flush=True)
    router_env = {"STICKY_EVENT_LOOP": args.event_loop}
    with router_rig("bench", PHONE_PORTS_FROM, work, router_env) as rig:
        started = rig.router.sample()
        print(
            f"Asterisk SIP 127.0.0.1:{rig.asterisk.sip_port}, router pid {rig.router.pid} "
            f"(RSS {megabytes(started.rss_kb)}, event loop {args.event_loop})",
            flush=True,
        )
        pdd = run_pdd(rig.asterisk, rig.router, work, args.calls, args.warmup)
        lines = report_pdd(pdd)
        print("\n".join(lines), flush=True)
        if not pdd.pdd[DID] or not pdd.pdd[DIRECT]:
            raise BenchError(
                f"no post-dial delay measured on one path; see {work}\n"
                + "\n".join(pdd.sipp_errors[-10:])
            )
        load = run_sustained(
            rig.asterisk, rig.router, rig.postgres, work, args.rate, args.seconds, args.talk_ms,
            profile=args.profile,
        )  # fmt: skip
        more = report_sustained(load)
        if args.profile:
            more += report_profile(work / "router.collapsed.txt", work / "router.svg")
        print("\n".join(more), flush=True)
    return summary(pdd, load, rig.router_exit)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    return run_in_work_dir(
        "sticky-pdd-bench-", lambda work: run(args, work), args.keep_logs or args.profile
    )


if __name__ == "__main__":
    sys.exit(main())
