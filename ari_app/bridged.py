"""Calls the router bridged to their agent: who is with whom, so one hang-up ends both sides.

Kept apart from the live calls because a bridged call outlives the task that made it, and even
the process: after a restart `StickyRouterApp.on_connected` adopts the bridges again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BridgedCall:
    call_id: str
    agent_channel: str
    bridge_id: str


class BridgedCalls:
    """Both channels of each bridged call point at it; popping either forgets the call."""

    def __init__(self) -> None:
        self._by_channel: dict[str, BridgedCall] = {}

    def add(self, bridged: BridgedCall) -> None:
        self._by_channel[bridged.call_id] = bridged
        self._by_channel[bridged.agent_channel] = bridged

    def has(self, channel_id: str) -> bool:
        return channel_id in self._by_channel

    def pop(self, channel_id: str) -> BridgedCall | None:
        bridged = self._by_channel.pop(channel_id, None)
        if bridged is not None:
            self._by_channel.pop(bridged.call_id, None)
            self._by_channel.pop(bridged.agent_channel, None)
        return bridged

    def __len__(self) -> int:
        return len({id(call) for call in self._by_channel.values()})
