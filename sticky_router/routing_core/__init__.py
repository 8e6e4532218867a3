"""The routing core: who should take this call, and why. Knows nothing of ARI, AGI or HTTP.

Adapters build an `IncomingCall`, ask `RoutingService.decide`, act on the `Decision`, and tell
`CallRecorder` what happened. The policy itself (`routing_core.policy.decide`) is a pure function.
"""

from sticky_router.routing_core.decision import (
    BlockedDecision,
    Candidate,
    CandidateReason,
    Decision,
    Exclusion,
    QueueDecision,
    QueueReason,
    Route,
    StickyDecision,
)
from sticky_router.routing_core.explain import explain
from sticky_router.routing_core.model import HangupSide, IncomingCall
from sticky_router.routing_core.service import RoutingService
from sticky_router.routing_core.store.recorder import CallRecorder

__all__ = [
    "BlockedDecision",
    "CallRecorder",
    "Candidate",
    "CandidateReason",
    "Decision",
    "Exclusion",
    "HangupSide",
    "IncomingCall",
    "QueueDecision",
    "QueueReason",
    "Route",
    "RoutingService",
    "StickyDecision",
    "explain",
]
