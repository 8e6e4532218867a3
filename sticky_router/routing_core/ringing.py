"""Who wants to know that an agent's phone started ringing for a call (the agent screen's pops).

Told when a ring is in the history: the journal's applier reports each LegRang it applied (the
ARI application's sticky leg, and every leg the AMI learner heard Asterisk dial: queue members,
transfers, the FastAGI path's rings), so the pop can read the call, the decision and who
transferred it from PostgreSQL. The same ring may be reported twice (heard from both ARI and
AMI): listeners deduplicate. A listener must return at once and never raise.
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
