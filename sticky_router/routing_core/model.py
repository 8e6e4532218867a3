"""The nouns of sticky routing: who called, what we know about them, and who we know.

Everything here is plain frozen data. The policy reads it, the store fills it, the adapters (ARI,
FastAGI, web) only ever see it through the decisions built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sticky_router.routing_core.slot_init import slot_init


class KeyKind(StrEnum):
    """How the caller was identified, strongest first (routing.md, "caller key")."""

    TICKET = "ticket"
    ACCOUNT = "account"
    NUMBER = "number"


@slot_init
@dataclass(frozen=True, slots=True)
class CallerKey:
    kind: KeyKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.value}"


class AgentRole(StrEnum):
    FIRST_LINE = "first_line"
    SPECIALIST = "specialist"


class HangupSide(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"


@slot_init
@dataclass(frozen=True, slots=True)
class IncomingCall:
    """What an adapter knows about a call when it asks for a decision."""

    call_id: str
    caller_id: str | None
    at: datetime
    queue: str
    did: str | None = None
    ivr_ticket: str | None = None
    ivr_account: str | None = None
    ivr_menu: str | None = None  # the IVR menu choice, shown on the agent's screen


@slot_init
@dataclass(frozen=True, slots=True)
class Agent:
    """A person who takes calls, and how the PBX knows them (docs/pbx-flavours.md): `endpoint`
    is what Dial() rings for a sticky attempt (PJSIP/agent2, or Local/102@from-queue/n to ring
    every phone of an extension); `queue_interface` their interface as a queue member, and
    `state_interface` where their busy or free is read (a device, or hint:102@ext-local), each
    the endpoint when not set; `devices` the phones that ring for them beyond the endpoint (AMI
    names the phone that rang or answered, the agent is found by it)."""

    id: int
    name: str
    display_name: str
    endpoint: str
    role: AgentRole
    active: bool
    last_talk_ended_at: datetime | None = None  # the end of their last answered call (wrap-up)
    queue_interface: str | None = None
    state_interface: str | None = None
    devices: tuple[str, ...] = ()

    @property
    def member_interface(self) -> str:
        return self.queue_interface or self.endpoint

    @property
    def state_source(self) -> str:
        return self.state_interface or self.endpoint

    @property
    def phones(self) -> tuple[str, ...]:
        """Every device that rings for them: the endpoint when it is one, and `devices`."""
        own = () if self.endpoint.startswith("Local/") else (self.endpoint,)
        return tuple(dict.fromkeys((*own, *self.devices)))


@slot_init
@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    class_name: str
    account_number: str | None
    language: str | None
    personal_agent_id: int | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket of the product's own tables, or one mirrored from an external source
    (`mirrored_from` names it): such a ticket has no row in `tickets`, so its `id` and
    `customer_id` are 0 and only `external_id` names it."""

    id: int
    external_id: str
    customer_id: int
    subject: str
    status: str
    owner_agent_id: int | None
    last_faults: str | None
    promised_by: datetime | None
    updated_at: datetime
    mirrored_from: str | None = None

    @property
    def local_id(self) -> int | None:
        """The `tickets` row, for what refers to it (history by ticket, a call's ticket_id)."""
        return self.id if self.mirrored_from is None else None


@slot_init
@dataclass(frozen=True, slots=True)
class Leg:
    """One agent's part in a past call."""

    leg_id: str
    agent_id: int
    role: AgentRole
    rang_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    transferred: bool

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())


@slot_init
@dataclass(frozen=True, slots=True)
class PastInteraction:
    id: int
    call_id: str
    started_at: datetime
    ended_at: datetime
    legs: tuple[Leg, ...]
    hangup_side: HangupSide | None = None
    escalated_queue: str | None = None  # the second-line queue an agent handed the caller to
    # The ticket this call was about is resolved or closed now (built-in tickets; an external
    # source's mirror keeps open tickets only, so there it stays False).
    ticket_resolved: bool = False


class PairingKind(StrEnum):
    """Why an agent must never be the target for a caller (both need a supervisor's approval)."""

    ABUSE = "abuse"
    AGENT_REQUEST = "agent_request"


@slot_init
@dataclass(frozen=True, slots=True)
class PairingBan:
    agent_id: int
    kind: PairingKind
    expires_at: datetime | None


class BlockDestinationKind(StrEnum):
    QUEUE = "queue"
    MESSAGE = "message"


@slot_init
@dataclass(frozen=True, slots=True)
class CallerBlock:
    """An approved temporary block: the caller goes where the admin said, never to an agent."""

    destination_kind: BlockDestinationKind
    destination: str
    expires_at: datetime | None


@slot_init
@dataclass(frozen=True, slots=True)
class Identity:
    """Who the caller is, as far as the key tells. Several customers means the number is shared."""

    key: CallerKey | None
    customers: tuple[Customer, ...] = ()
    ticket: Ticket | None = None
    open_tickets: tuple[Ticket, ...] = ()

    @property
    def customer(self) -> Customer | None:
        return self.customers[0] if len(self.customers) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.customers) > 1


@slot_init
@dataclass(frozen=True, slots=True)
class Incident:
    """An outage a supervisor declared: stickiness steps aside while it lasts (the setting
    outage_window_minutes), and the caller may hear `announce_sound` before routing."""

    id: int
    announce_sound: str | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class CallerFacts:
    """Everything the policy needs, read from the database in a few round trips."""

    identity: Identity
    history: tuple[PastInteraction, ...] = ()  # newest first
    agents: Mapping[int, Agent] = field(default_factory=dict)
    pairing_bans: tuple[PairingBan, ...] = ()
    sticky_calls_last_hour: Mapping[int, int] = field(default_factory=dict)
    caller_block: CallerBlock | None = None
    incident: Incident | None = None  # an outage declared for this call's queue, number or all
