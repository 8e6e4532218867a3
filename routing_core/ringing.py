"""Who wants to know that an agent's phone started ringing for a call (the agent screen's pops).

The ARI application reports the sticky leg Dial() rings for it; the AMI learner reports every leg
Asterisk dials (queue members, transfers, and calls the FastAGI path rings). The same ring may
be reported by both: listeners deduplicate. A listener must return at once and never raise:
nothing on a call's path waits for it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class RingSource(StrEnum):
    STICKY = "sticky"  # the ARI application rings the sticky target
    QUEUE = "queue"  # Asterisk rings an agent (Queue(), or the dialplan's own Dial())
    TRANSFER = "transfer"  # a colleague rings for a transferred caller


class RingingListener(Protocol):
    def agent_ringing(self, call_id: str, agent: str, source: RingSource) -> None:
        """`agent` is the dial endpoint (`PJSIP/agent2`) or the agent's name."""
