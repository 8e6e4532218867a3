"""What bench/post_dial_delay.py measured, and its report: each figure, and each of issue 18's
targets beside the figure of the same run."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.call_rig import DID, DIRECT
from bench.cpu_watch import Usage
from bench.figures import megabytes, percentile, spread
from bench.profiler import top_frames
from testkit.sipp import EXIT_CODES

# Issue 18's targets, printed beside the figures of the same run.
TARGET_OVERHEAD_P50_MS = 4.0  # router path p50 - plain Dial() p50
TARGET_OVERHEAD_P99_MS = 10.0  # router path p99 - plain Dial() p99
TARGET_CPU_SHARE = 0.25  # router CPU per routed call / Asterisk CPU per call
IDLE_SECONDS = 10.0  # the sample of both processes' CPU without calls


@dataclass
class PddResult:
    calls: int
    warmup: int
    pdd: dict[str, list[float]]  # path -> ms, caller INVITE sent to agent2 INVITE received
    answer: dict[str, list[float]]  # path -> ms, caller INVITE sent to 200 OK received
    paired: list[float]  # each router call minus the direct call just before it
    not_rung: Counter[str]  # path -> calls where agent2 never got an INVITE
    others_rung: Counter[str]  # path -> calls where another agent rang (the queue)
    not_sticky: int  # router calls the router sent to the queue (left out of the figures)
    matched: bool  # the router's decisions could be matched to the calls, one to one
    sipp_exit: int
    sipp: dict[str, int]
    sipp_errors: list[str]
    decision_ms: list[float]
    routes: Counter[str]
    bridged: int
    router_problems: Counter[str]
    wall_seconds: float

    def failed(self) -> int:
        return self.sipp.get("FailedCall", 0 if self.sipp_exit == 0 else self.calls)


def report_pdd(result: PddResult) -> list[str]:
    lines = [
        "",
        f"== Post-dial delay: caller INVITE sent -> agent2 INVITE received (ms), "
        f"{result.calls - result.warmup} calls after {result.warmup} warm-up, one at a time, "
        f"{result.wall_seconds:.0f} s ==",
    ]
    for path, label in ((DIRECT, "direct Dial()"), (DID, "via router   ")):
        values = result.pdd.get(path, [])
        lines.append(f"  {label}  n={len(values):4d}  {spread(values)}")
    overhead = statistics.median(result.pdd[DID]) - statistics.median(result.pdd[DIRECT])
    lines.append(f"  median overhead (router p50 - direct p50): {overhead:.1f} ms")
    if result.paired:
        lines.append(
            "  paired overhead (each router call - the direct call before it): "
            + spread(result.paired)
        )
    lines.append("  caller INVITE sent -> 200 OK received (agent answers at once):")
    for path, label in ((DIRECT, "direct Dial()"), (DID, "via router   ")):
        lines.append(f"    {label}  {spread(result.answer.get(path, []))}")
    lines.append(f"  router decision (routing_decision latency_ms): {spread(result.decision_ms)}")
    lines.append(
        "  router: "
        + ", ".join(f"{name} x{count}" for name, count in result.routes.most_common())
        + f"; bridged {result.bridged}"
    )
    if result.not_sticky:
        lines.append(
            f"  left out: {result.not_sticky} router call(s) the router sent to the queue "
            "instead of agent2"
        )
    if not result.matched:
        lines.append("  (the router's decisions could not be matched to the calls one to one)")
    for path in (DIRECT, DID):
        if result.not_rung[path] or result.others_rung[path]:
            lines.append(
                f"  {path}: agent2 never rang in {result.not_rung[path]} call(s); another agent "
                f"(the queue) rang in {result.others_rung[path]} call(s)"
            )
    lines.append(
        f"  SIPp caller: exit {result.sipp_exit}, successful "
        f"{result.sipp.get('SuccessfulCall', '?')}, failed {result.sipp.get('FailedCall', '?')}"
    )
    lines += [f"  SIPp error: {line}" for line in result.sipp_errors[:10]]
    if result.router_problems:
        lines.append(f"  router warnings/errors: {dict(result.router_problems)}")
    return lines


@dataclass
class SustainedResult:
    rate: float
    seconds: float
    talk_ms: int
    attempted: int
    sipp_exit: int
    sipp: dict[str, int]
    sipp_errors: list[str]
    answer_ms: list[float]
    unanswered: int
    wall_seconds: float
    cpu_seconds: float
    system_seconds: float  # of cpu_seconds, in the kernel (the journal's fsyncs, sockets)
    peak_cpu_percent: float
    rss_start_kb: int | None
    rss_end_kb: int | None
    rss_max_kb: int | None
    rss_quarters_kb: list[int]  # sampled at 0, 25, 50, 75 and 100 % of the run
    hwm_kb: int | None
    asterisk_cpu_seconds: float | None
    decision_ms: list[float]
    decision_count: int
    routes: Counter[str]
    fallbacks: Counter[str]
    bridged: int
    router_problems: Counter[str]
    agents_rung: dict[str, int]
    agent_failures: dict[str, int]
    recorded: list[tuple[str, str, str, int]]
    channels_left: int
    ami_events: Counter[str]  # what AMI sent the router's user, by event name
    idle_cpu: float  # CPU seconds per second without calls, just before the load
    asterisk_idle_cpu: float | None
    # While SIPp placed the calls: each program's share of one core (bench/cpu_watch.py), when
    # the bench asked for it.
    cpu: dict[str, Usage] = field(default_factory=dict)

    def failed(self) -> int:
        failed = self.sipp.get("FailedCall")
        if failed is None:
            return 0 if self.sipp_exit == 0 else self.attempted
        return failed + max(0, self.attempted - failed - self.sipp.get("SuccessfulCall", 0))


def report_sustained(result: SustainedResult) -> list[str]:
    failed_kinds = {
        name: count
        for name, count in result.sipp.items()
        if name.startswith("Failed") and name != "FailedCall" and count
    }
    lines = [
        "",
        f"== Sustained: {result.rate:g} calls/s for {result.seconds:g} s through the router, "
        f"each caller talking {result.talk_ms} ms ==",
        f"  calls attempted {result.attempted}, succeeded "
        f"{result.sipp.get('SuccessfulCall', '?')}, failed {result.failed()} "
        f"(SIPp exit {result.sipp_exit}: {EXIT_CODES.get(result.sipp_exit, '?')})",
    ]
    if failed_kinds:
        lines.append(f"  failures by kind: {failed_kinds}")
    others = {
        name: result.sipp[name]
        for name in ("Retransmissions", "OutOfCallMsgs", "DeadCallMsgs", "Warnings", "FatalErrors")
        if result.sipp.get(name)
    }
    if others:
        lines.append(f"  other SIPp counters of the caller: {others}")
    lines += [f"  SIPp error: {line}" for line in result.sipp_errors[:10]]
    lines.append(
        f"  caller INVITE -> 200 OK (ms): {spread(result.answer_ms)}"
        + (f"; never answered: {result.unanswered}" if result.unanswered else "")
    )
    lines.append(
        f"  router decisions: {result.decision_count}; latency_ms {spread(result.decision_ms)}"
    )
    lines.append("  decided: " + ", ".join(f"{k} x{v}" for k, v in result.routes.most_common()))
    lines.append(
        f"  sticky calls bridged {result.bridged}; sent to the queue: "
        + ", ".join(f"{k} x{v}" for k, v in result.fallbacks.most_common())
    )
    if result.recorded:
        lines.append(
            "  recorded (route/outcome/reason): "
            + ", ".join(f"{r}/{o}/{why} x{n}" for r, o, why, n in result.recorded)
        )
    lines.append(
        "  router warnings/errors: "
        + (str(dict(result.router_problems)) if result.router_problems else "none")
    )
    share = result.cpu_seconds / result.wall_seconds * 100 if result.wall_seconds else 0.0
    lines.append(
        f"  router CPU: {result.cpu_seconds:.1f} s over {result.wall_seconds:.1f} s = "
        f"{share:.1f}% of one core (busiest second {result.peak_cpu_percent:.0f}%); "
        f"{result.system_seconds:.1f} s of it in the kernel"
    )
    lines.append(
        f"  router memory: RSS at start {megabytes(result.rss_start_kb)}, at end "
        f"{megabytes(result.rss_end_kb)}, highest sampled {megabytes(result.rss_max_kb)}, "
        f"peak since start (VmHWM) {megabytes(result.hwm_kb)}"
    )
    if result.rss_quarters_kb:
        growth = (result.rss_quarters_kb[-1] - result.rss_quarters_kb[0]) / result.attempted
        lines.append(
            "  router RSS at 0/25/50/75/100 % of the run: "
            + ", ".join(f"{kb / 1024:.1f}" for kb in result.rss_quarters_kb)
            + f" MB ({growth * 1000 / 1024:+.1f} MB per 1000 calls)"
        )
    if result.asterisk_cpu_seconds is not None:
        lines.append(
            f"  (Asterisk CPU meanwhile: {result.asterisk_cpu_seconds:.1f} s = "
            f"{result.asterisk_cpu_seconds / result.wall_seconds * 100:.1f}% of one core)"
        )
    lines.append(
        "  agent phones, INVITEs received: "
        + ", ".join(f"{agent} {count}" for agent, count in result.agents_rung.items())
        + (f"; failed on the agent side: {result.agent_failures}" if result.agent_failures else "")
    )
    lines.append(
        "  (4 agents, one call each: most queue callers hang up before Queue() rings anyone, and"
        " Answer() waits up to 500 ms for caller media that SIPp does not send; not failures)"
    )
    lines.append(f"  channels left in Asterisk 20 s after the last call: {result.channels_left}")
    sent = sum(result.ami_events.values())
    lines.append(
        f"  AMI events sent to the router's user: {sent} ({sent / result.attempted:.1f} per call): "
        + ", ".join(f"{name} {count}" for name, count in result.ami_events.most_common())
    )
    return lines


def report_profile(collapsed: Path, svg: Path) -> list[str]:
    lines = ["", f"== Where the router's CPU went (py-spy; flame graph {svg}) =="]
    lines.append(f"  {'self %':>7} {'total %':>8}  function")
    for frame, own, total in top_frames(collapsed, limit=25):
        lines.append(f"  {own:7.1f} {total:8.1f}  {frame}")
    return lines


def summary(pdd: PddResult, load: SustainedResult, router_exit: int | None) -> list[str]:
    """Each of issue 18's targets beside the figure this run measured."""
    direct, routed = pdd.pdd[DIRECT], pdd.pdd[DID]
    p50 = statistics.median(routed) - statistics.median(direct)
    p99 = percentile(routed, 0.99) - percentile(direct, 0.99)
    failed = pdd.failed() + load.failed()
    lines = [
        "",
        "== Summary (figure, target, met?) ==",
        f"  post-dial delay p50: direct {statistics.median(direct):.1f} ms, "
        f"via router {statistics.median(routed):.1f} ms",
        _against("post-dial overhead p50", p50, TARGET_OVERHEAD_P50_MS, "ms"),
        _against("post-dial overhead p99", p99, TARGET_OVERHEAD_P99_MS, "ms"),
        f"  failed calls {failed} (post-dial delay {pdd.failed()}, sustained {load.failed()}; "
        "target 0): " + ("MET" if failed == 0 else "MISSED"),
    ]
    calls = load.attempted
    if load.asterisk_cpu_seconds and calls:
        router_ms = load.cpu_seconds / calls * 1000
        asterisk_ms = load.asterisk_cpu_seconds / calls * 1000
        lines.append(
            f"  CPU per sustained call: router {router_ms:.1f} ms, Asterisk {asterisk_ms:.1f} ms"
        )
        lines.append(
            f"  CPU without calls (before the load, {IDLE_SECONDS:g} s): router "
            f"{load.idle_cpu * 100:.1f}% of a core"
            + (
                f", Asterisk {load.asterisk_idle_cpu * 100:.1f}%"
                if load.asterisk_idle_cpu is not None
                else ""
            )
            + f"; of the router's {router_ms:.1f} ms per call, "
            f"{load.idle_cpu * load.wall_seconds / calls * 1000:.1f} ms is that clock work"
        )
        share = router_ms / asterisk_ms * 100
        lines.append(_against("router CPU / Asterisk CPU", share, TARGET_CPU_SHARE * 100, "%"))
    lines += [
        f"  sustained {load.rate:g} calls/s: router CPU "
        f"{load.cpu_seconds / load.wall_seconds * 100 if load.wall_seconds else 0:.1f}% of one "
        f"core, RSS {megabytes(load.rss_start_kb)} -> {megabytes(load.rss_end_kb)} (peak "
        f"{megabytes(load.hwm_kb)}), decision p50 {percentile(load.decision_ms, 0.5):.1f} ms "
        f"p99 {percentile(load.decision_ms, 0.99):.1f} ms",
        f"  router exit code after SIGTERM: {router_exit}",
    ]
    return lines


def _against(name: str, figure: float, target: float, unit: str) -> str:
    met = "MET" if figure <= target else "MISSED"
    return f"  {name}: {figure:.1f} {unit} (target <= {target:g} {unit}): {met}"
