"""The what-if result as people read it: the settings in force next to the candidate, per figure.

Pure formatting of the core's replay report, shared by `sticky-router simulate`, the bench and
the admin what-if page (web), which is why it lives in the core and not in the process package.
"""

from __future__ import annotations

from dataclasses import dataclass

from sticky_router.routing_core.replay_assumptions import (
    CALLBACK_ANSWERED_SHARE,
    CALLBACK_SHARE,
    WAIT_ACCEPT_SHARE,
)
from sticky_router.routing_core.replay_tally import Tally
from sticky_router.routing_core.store.replay import CANDIDATE, IN_FORCE, ReplayReport

MISS_ORDER = ("busy", "offline", "window_expired", "cap_reached", "do_not_pair", "agent_inactive")


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    in_force: str
    candidate: str
    # What the row counts ("share", "missed"...), for a reader in another language.
    figure: str = ""
    reason: str = ""


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f} min"


def rows(report: ReplayReport) -> list[Row]:
    """The figures of both sets of settings, in the order a reader wants them."""
    now, then = report.tallies[IN_FORCE], report.tallies[CANDIDATE]

    def row(label: str, figure: str) -> Row:
        return Row(label, _figure(now, figure), _figure(then, figure), figure=figure)

    table = [
        row("calls replayed", "calls"),
        row("callbacks eligible", "eligible"),
        row("connected to the preferred agent", "connected"),
        row("  share of eligible", "share"),
        row("wait added (busy wait)", "wait"),
        row("  per connected callback", "wait_per_call"),
    ]
    reasons = sorted(
        set(now.misses) | set(then.misses),
        key=lambda r: (MISS_ORDER.index(r) if r in MISS_ORDER else len(MISS_ORDER), r),
    )
    table += [Row(f"missed: {reason}", f"{now.misses[reason]:,}", f"{then.misses[reason]:,}",
                  figure="missed", reason=reason)
              for reason in reasons]  # fmt: skip
    table += [
        row("sticky load: busiest agent", "load_max"),
        row("sticky load: mean per agent", "load_mean"),
        row("sticky load: most in one hour", "peak_hour"),
    ]
    return table


def _figure(tally: Tally, figure: str) -> str:
    loads = list(tally.sticky_load.values())
    match figure:
        case "calls":
            return f"{tally.calls:,}"
        case "eligible":
            return f"{tally.eligible:,}"
        case "connected":
            return f"{tally.connected:,}"
        case "share":
            return _share(tally.connected, tally.eligible)
        case "wait":
            return _minutes(tally.wait_added_seconds)
        case "wait_per_call":
            return f"{tally.wait_added_seconds / tally.connected:.1f} s" if tally.connected else "-"
        case "load_max":
            return f"{max(loads):,}" if loads else "0"
        case "load_mean":
            return f"{sum(loads) / len(loads):,.1f}" if loads else "0"
        case "peak_hour":
            return f"{max(tally.peak_hour_load.values(), default=0)}"
    raise ValueError(f"unknown figure {figure!r}")


def per_agent(report: ReplayReport) -> list[tuple[str, int, int]]:
    """Connected sticky callbacks per agent (name, in force, candidate), busiest first."""
    now, then = report.tallies[IN_FORCE], report.tallies[CANDIDATE]
    ids = set(now.sticky_load) | set(then.sticky_load)
    named = [
        (report.agents[i].name if i in report.agents else str(i), now.sticky_load[i],
         then.sticky_load[i])
        for i in ids
    ]  # fmt: skip
    return sorted(named, key=lambda r: (-r[2], -r[1], r[0]))


def side_by_side(report: ReplayReport, agents_shown: int = 5) -> str:
    period = (
        f"{report.first_call:%Y-%m-%d %H:%M} .. {report.last_call:%Y-%m-%d %H:%M} UTC"
        if report.first_call and report.last_call
        else "no calls in the period"
    )
    table = rows(report)
    width = max(len(r.label) for r in table)
    lines = [f"What-if replay of {report.calls:,} recorded calls, {period}", ""]
    lines.append(f"{'':{width}}  {'in force':>14}  {'candidate':>14}")
    lines += [f"{r.label:{width}}  {r.in_force:>14}  {r.candidate:>14}" for r in table]
    busiest = per_agent(report)[:agents_shown]
    if busiest:
        lines += ["", "busiest agents (connected sticky callbacks, in force -> candidate):"]
        lines += [f"  {name}: {now:,} -> {then:,}" for name, now, then in busiest]
    lines += [
        "",
        "Assumptions: a preferred agent counts as there if they had a call ringing in that clock "
        "hour, as busy while a recorded call of theirs was ringing or talking; a free preferred "
        "agent answers; the caller's history is the recorded one under both settings; offered "
        f"to wait for their busy agent, {WAIT_ACCEPT_SHARE:.0%} of callers press 1 and, where a "
        f"callback is offered, {CALLBACK_SHARE:.0%} press 2, of whom "
        f"{CALLBACK_ANSWERED_SHARE:.0%} answer when called back.",
    ]
    return "\n".join(lines)
