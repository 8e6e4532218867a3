"""What the what-if replay reads: the recorded calls, and the world they happened in.

`routing_core.store.replay` reads them from PostgreSQL, the synthetic history generator makes
them up; `routing_core.simulate.Replay` takes them through the live policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sticky_router.routing_core.model import (
    Agent,
    CallerBlock,
    Customer,
    KeyKind,
    Leg,
    PairingBan,
    Ticket,
)

DEFAULT_CLASS = "standard"


@dataclass(slots=True)  # not frozen: a million are built per replay, and a frozen init is slow
class ReplayCall:
    """One recorded call, as the replay needs it: who called, where, when, and who took it."""

    id: int
    call_id: str
    caller_number: str | None
    key_kind: KeyKind | None
    key_value: str | None
    customer_id: int | None
    ticket_id: int | None
    queue: str
    did: str | None
    started_at: datetime
    ended_at: datetime | None
    legs: tuple[Leg, ...]
    escalated_queue: str | None = None

    @property
    def spoke(self) -> bool:
        """Counts as history, as in the live lookup: someone answered, or a transfer began."""
        return any(leg.answered_at is not None or leg.transferred for leg in self.legs)


@dataclass(frozen=True, slots=True)
class Flag:
    """A do-not-pair flag or a block with the time from which it holds (its approval)."""

    since: datetime | None
    ban: PairingBan | None = None
    block: CallerBlock | None = None

    def holds_at(self, at: datetime) -> bool:
        expires = self.ban.expires_at if self.ban else self.block.expires_at if self.block else None
        return (self.since is None or self.since <= at) and (expires is None or at < expires)


@dataclass(slots=True)
class World:
    """What does not change during a replay: agents, customers, tickets, flags.

    Only customers that differ from the default (another class, a personal manager) need to be in
    `customers`; everyone else is a standard customer.
    """

    agents: dict[int, Agent]
    customers: dict[int, Customer] = field(default_factory=dict)
    shared_numbers: frozenset[str] = frozenset()
    tickets: dict[int, Ticket] = field(default_factory=dict)
    flags_by_customer: dict[int, list[Flag]] = field(default_factory=dict)
    flags_by_number: dict[str, list[Flag]] = field(default_factory=dict)
    # Standard customers, built once each: a call's customer is asked for on every call.
    _standard: dict[int, Customer] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def customer(self, customer_id: int) -> Customer:
        known = self.customers.get(customer_id) or self._standard.get(customer_id)
        if known is None:
            known = Customer(customer_id, "", DEFAULT_CLASS, None, None)
            self._standard[customer_id] = known
        return known
