"""Asterisk's channel names, and the device behind one: what a report about a channel (AMI, the
AGI request, a Dial event) says about who rang or answered."""

from __future__ import annotations

import re

# Tech/resource, then `-` and the channel's sequence number in hex: PJSIP/agent2-0000000a. A
# Local channel adds which half it is: Local/102@from-queue-00000003;1.
_CHANNEL = re.compile(r"(?P<device>[A-Za-z0-9_]+/[^;]+)-[0-9a-fA-F]+(?P<half>;[12])?")


def device_of(channel: str) -> str | None:
    """`PJSIP/agent2-0000000a` -> `PJSIP/agent2`; `Local/102@from-queue-00000003;1` ->
    `Local/102@from-queue` (the agent's endpoint without its options, such as /n). None for a
    name of any other shape."""
    found = _CHANNEL.fullmatch(channel.strip())
    if found is None or bool(found["half"]) != found["device"].startswith("Local/"):
        return None
    return found["device"]


def is_local(channel: str) -> bool:
    """A Local channel: a hop through the dialplan (FreePBX's from-queue), never a phone."""
    return channel.strip().startswith("Local/")


def endpoint_of(channel: str) -> str | None:
    """The phone behind an agent's channel: `PJSIP/agent2-0000000a` -> `PJSIP/agent2`. None for
    a Local channel (a dialplan hop such as FreePBX's from-queue: the phones it rings are
    reported on their own channels, and those are the legs) and for names of any other shape."""
    return None if is_local(channel) else device_of(channel)
