"""What the dialplan reports about a call, read into the recorder's terms (no I/O here).

The dialplan passes Asterisk's own words: DIALSTATUS, DIALEDTIME/ANSWEREDTIME in seconds,
CHANNEL(hangupsource), or the availability check's `busy`/`paused`/`offline` when the agent was
never rung. Anything else (an empty field, a status this code does not know) is read in the way
that keeps the records plausible and never blocks a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sticky_router.routing_core.channels import device_of
from sticky_router.routing_core.model import HangupSide


def seconds(value: str) -> float:
    """DIALEDTIME and friends: whole seconds, empty when Dial() did not run."""
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class LegTimes:
    rang: datetime
    answered: datetime | None
    ended: datetime


def leg_times(ended: datetime, dialed_time: str, answered_time: str, *, answered: bool) -> LegTimes:
    """Dial() reports after the fact: DIALEDTIME counts from the dial, ANSWEREDTIME from the
    answer, both up to `ended`."""
    rang = ended - timedelta(seconds=seconds(dialed_time))
    if not answered:
        return LegTimes(rang, None, ended)
    return LegTimes(rang, max(rang, ended - timedelta(seconds=seconds(answered_time))), ended)


def hangup_side(hangup_source: str, own_channel: str, own: HangupSide) -> HangupSide:
    """Who hung up, seen from one channel of a two-party call. CHANNEL(hangupsource) names the
    channel that hung up first; empty when Asterisk itself ended the call."""
    source = hangup_source.strip()
    if not source:
        return HangupSide.SYSTEM
    if source == own_channel:
        return own
    return HangupSide.AGENT if own is HangupSide.CALLER else HangupSide.CALLER


def agent_endpoint(channel: str) -> str:
    """`PJSIP/agent2-0000000a` -> `PJSIP/agent2`, `Local/102@from-queue-00000003;1` ->
    `Local/102@from-queue` (the recorder finds the agent by either); other names kept whole."""
    return device_of(channel) or channel


def sticky_leg_id(call_id: str, agent: str, reported: str) -> str:
    """The agent channel's own id when the dial hook reported it (the AMI learner, if it runs,
    knows the leg by that id too); else the ARI application's `<call>-<agent>`."""
    return reported.strip() or f"{call_id}-{agent.rsplit('/', 1)[-1]}"
