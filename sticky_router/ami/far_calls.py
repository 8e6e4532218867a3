"""Calls from another node of the line (docs/multi-node.md), as this node's AMI reports them.

Such a call reaches this node through the trunk: here its channels carry this node's ids, and
the other node's router records the call and the agent's leg under its own. Its INVITE names
both (headers set by that node's dialplan), and sticky-from-nodes tells AMI (the UserEvent
StickyFarCall). From then on every id field of the call's events that names the trunk's channel
names the other node's call instead, and the agent's channel here names that node's leg, so the
learner tells the call's story (a transfer, who hung up) as the other node's call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import structlog

from sticky_router.routing_core.channels import endpoint_of

log = structlog.get_logger("sticky_router.ami")

Event = Mapping[str, str]
FAR_CALL_EVENT = "StickyFarCall"  # the UserEvent of dialplan sticky-from-nodes
# A channel's Uniqueid as any Asterisk writes it (`1795383013.0`, `node-a-1795383013.0`): what
# another node's headers may name, and nothing else.
_CHANNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class FarCallNames:
    """This node's channel ids that stand for another node's: the trunk's channel for that
    node's call, the agent's channel for that node's leg. Each is dropped with its channel's
    Hangup, and at most `limit` are kept (a Hangup missed)."""

    def __init__(self, limit: int) -> None:
        self._names: dict[str, str] = {}  # this node's channel id -> the other node's id
        self._legs: dict[str, str] = {}  # a trunk's channel -> the leg its first dial is
        self._limit = limit

    def __bool__(self) -> bool:
        return bool(self._names or self._legs)

    def told(self, event: Event) -> None:
        """StickyFarCall: the trunk's channel (Uniqueid) is the other node's `Call`, and what it
        dials first is that node's `Leg`. Ids no channel could have are not believed."""
        trunk, call, leg = event.get("Uniqueid", ""), event.get("Call", ""), event.get("Leg", "")
        if not all(_CHANNEL_ID.fullmatch(value) for value in (trunk, call, leg)):
            log.warning("ami_far_call_unreadable", channel=event.get("Channel", ""))
            return
        self._names[trunk] = call
        self._legs[trunk] = leg
        for names in (self._names, self._legs):
            while len(names) > self._limit:
                del names[next(iter(names))]

    def renamed(self, event: Event) -> Event:
        """`event` with this node's ids of a call from another node replaced by that node's."""
        dialler = event.get("Uniqueid", "")
        if event.get("Event") == "DialBegin" and dialler in self._legs:
            # The trunk's channel rings the agent the other node asked for: that node's leg.
            agent_channel = event.get("DestUniqueid", "")
            if agent_channel and endpoint_of(event.get("DestChannel", "")) is not None:
                self._names[agent_channel] = self._legs.pop(dialler)
        names = self._names
        renamed = {
            key: names.get(value, value) if key.endswith(("Uniqueid", "Linkedid")) else value
            for key, value in event.items()
        }
        if event.get("Event") == "Hangup":  # the channel is gone: so is its other name
            names.pop(dialler, None)
            self._legs.pop(dialler, None)
        return renamed
