"""Whatever breaks inside the core, the caller still gets a decision: the queue, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sticky_router.routing_core import IncomingCall, QueueDecision, QueueReason, RoutingService


class BrokenPool:
    """Stands in for asyncpg's pool; acquiring a connection hits a bug."""

    def acquire(self) -> Any:
        raise RuntimeError("a bug in the lookup")


async def test_a_bug_in_the_core_sends_the_call_to_the_queue() -> None:
    routing = RoutingService(BrokenPool(), default_region="RU", db_budget_seconds=1)  # type: ignore[arg-type]
    call = IncomingCall("c-1", "+79123456701", datetime.now(UTC), "support", ivr_account="100201")
    decision = await routing.decide(call)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.ROUTER_ERROR
    # The queue still gets what the caller keyed in, for whoever answers.
    assert decision.context.key is not None
    assert decision.context.key.value == "100201"
