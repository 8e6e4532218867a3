"""An agent not logged in on this node, looked for on the line's other nodes (issue 17,
docs/multi-node.md): one definition for both modes, the ARI application's probe and the FastAGI
lookup's. Each node's router (or FastAGI server with AMI) publishes its queue members; an agent
found there is judged by the same rules as here and rung through the trunk to that node."""

from __future__ import annotations

from sticky_router.routing_core.attempt import Availability, availability_of
from sticky_router.routing_core.decision import Candidate
from sticky_router.routing_core.dialplan_safe import through_node
from sticky_router.routing_core.service import RoutingService

RECHECK_SECONDS = 0.5  # how often a busy agent on another node is looked at again while waited for


class OtherNodes:
    """For one caller's candidate walk: where each candidate was last found, when not here."""

    def __init__(self, routing: RoutingService) -> None:
        self._routing = routing
        self._found: dict[int, str] = {}  # agent id -> the other node they are logged in on

    def node_of(self, candidate: Candidate) -> str | None:
        """The other node `candidate` was last found logged in on; None: this node."""
        return self._found.get(candidate.agent.id)

    async def judge(
        self, candidate: Candidate, queue: str, here: Availability, in_wrap_up: bool
    ) -> Availability:
        """`here`: the candidate as this node's Asterisk sees them. Not a member here (OFFLINE),
        they are judged as the live node they are a member of publishes them, when the trunk
        can ring their device; otherwise `here` stands."""
        self._found.pop(candidate.agent.id, None)
        if here is not Availability.OFFLINE:
            return here
        elsewhere = await self._routing.member_elsewhere(candidate, queue)
        if elsewhere is None or through_node(candidate.agent.endpoint, elsewhere.node) is None:
            return here
        self._found[candidate.agent.id] = elsewhere.node
        return availability_of(elsewhere.facts, in_wrap_up)
