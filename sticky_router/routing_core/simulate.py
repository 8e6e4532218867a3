"""What-if replay: recorded calls, in time order, through the live policy under other settings.

Every call is decided by `routing_core.policy.decide`, the function the live router calls, fed
with facts built from memory as the replay goes (the caller's last calls, the agents, the bans),
so a preview can never disagree with the router about what the rules are. What the replay has to
assume, because history cannot tell, is written down in `Replay` and in replay_assumptions.py
(when agents were free, what callers choose); the figures are replay_tally.py's.

Pure: no I/O, no clock. `routing_core.store.replay` streams the rows from Postgres into it; the
synthetic history generator drives it with its own agents.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter

from sticky_router.routing_core.candidates import run_at_once, walk_candidates
from sticky_router.routing_core.decision import (
    BlockedDecision,
    Decision,
    QueueDecision,
    QueueReason,
    StickyDecision,
)
from sticky_router.routing_core.model import (
    CallerBlock,
    CallerFacts,
    CallerKey,
    Customer,
    Identity,
    IncomingCall,
    KeyKind,
    PairingBan,
    PastInteraction,
)
from sticky_router.routing_core.policy import decide
from sticky_router.routing_core.replay_assumptions import (
    Availability,
    CallerChoices,
    ReplayProbe,
    hour_index,
)
from sticky_router.routing_core.replay_input import DEFAULT_CLASS, Flag, ReplayCall, World
from sticky_router.routing_core.replay_tally import Outcome, Tally
from sticky_router.routing_core.settings import EffectiveSettings, ScopedValue, resolve_settings
from sticky_router.routing_core.store.lookup import HISTORY_DEPTH, STICKY_CAP_PERIOD
from sticky_router.routing_core.wait_offer import WaitChoice

_ENDED_AT = attrgetter("ended_at")
MAX_WINDOW = timedelta(days=30)  # the upper bound of RoutingSettings.window_minutes


class _RecentSticky(Mapping[int, int]):
    """Sticky calls per agent in the hour before the call, as the policy's cap reads them."""

    def __init__(self, times: dict[int, deque[datetime]], at: datetime) -> None:
        self._times = times
        self._since = at - STICKY_CAP_PERIOD

    def __getitem__(self, agent_id: int) -> int:
        recent = self._times.get(agent_id)
        if not recent:
            raise KeyError(agent_id)
        while recent and recent[0] <= self._since:
            recent.popleft()
        return len(recent)

    def __iter__(self) -> Iterator[int]:
        return iter(self._times)

    def __len__(self) -> int:
        return len(self._times)


class _Variant:
    """One set of settings and what it did so far (its own sticky load feeds its own cap)."""

    def __init__(self, rows: Sequence[ScopedValue]) -> None:
        self.rows = tuple(rows)
        self.tally = Tally()
        self.sticky_times: dict[int, deque[datetime]] = {}
        self._hour_load: dict[int, tuple[int, int]] = {}  # agent -> (hour, calls in it)
        self._resolved: dict[tuple[str, str | None, str | None], EffectiveSettings] = {}

    def settings(self, queue: str, did: str | None, class_name: str | None) -> EffectiveSettings:
        # Once per (queue, DID, class). resolve_settings keeps its answers too, but finds them
        # by hashing the rows it is given on every call; a replay's rows never change.
        scope = (queue, did, class_name)
        found = self._resolved.get(scope)
        if found is None:
            found = resolve_settings(self.rows, queue=queue, did=did, customer_class=class_name)
            self._resolved[scope] = found
        return found

    def connected(self, agent_id: int, at: datetime) -> None:
        self.sticky_times.setdefault(agent_id, deque()).append(at)
        hour = hour_index(at)
        held_hour, count = self._hour_load.get(agent_id, (hour, 0))
        count = count + 1 if held_hour == hour else 1
        self._hour_load[agent_id] = (hour, count)
        if count > self.tally.peak_hour_load[agent_id]:
            self.tally.peak_hour_load[agent_id] = count


class Replay:
    """Offer each recorded call to every set of settings, then learn from what really happened.

    Assumptions (history cannot tell otherwise):
    - The caller's history is the recorded one under every set of settings: a callback that a
      candidate setting would have connected to the preferred agent does not change who the next
      callback finds, nor how busy that agent was for later calls.
    - A preferred agent who is free (see `Availability`) answers; no-answer and rejection are not
      in the recorded data and are not predicted. Ringing time is not counted as added wait.
    - Wait added is the busy wait: the time waited for a busy preferred agent to come free, or the
      whole busy wait when they did not come free in time.
    - History is found by customer when the call names exactly one customer, else by number (as
      the live lookup does for shared numbers); keyed tickets are not followed separately.
    - Tickets, agents and flags are as they are now (flags from their approval time on).
    - Offered to wait for their busy agent (`wait_offer_seconds`), a fixed share of callers
      press 1 (`CallerChoices`, the same callers every run) and, where callbacks are offered,
      another share press 2; the others go to the queue. The offer is always made (the live
      one is not when its estimate exceeds the bound), and the wait is the time until the
      agent's recorded call ended, at most the bound. A callback reaches the caller when the
      agent's recorded call ended within the callback's time and the caller answers (a share).
    """

    def __init__(
        self,
        world: World,
        variants: Mapping[str, Sequence[ScopedValue]],
        availability: Availability,
        *,
        choices: CallerChoices | None = None,
    ) -> None:
        self.world = world
        self._availability = availability
        self._choices = choices or CallerChoices()
        self._variants = {name: _Variant(rows) for name, rows in variants.items()}
        self._history: dict[tuple[str, object], deque[PastInteraction]] = {}
        # History older than the longest window a setting allows can never be used again;
        # forgetting it keeps memory flat. The same for every set of settings, so that "window
        # expired" means the same thing in every column (and in every worker process).
        self._keep = MAX_WINDOW + timedelta(hours=1)
        self._next_prune: datetime | None = None

    @property
    def tallies(self) -> dict[str, Tally]:
        return {name: variant.tally for name, variant in self._variants.items()}

    def offer(self, call: ReplayCall) -> dict[str, Outcome]:
        """What each set of settings would have done with this call."""
        identity, history_key = self._identity(call)
        customer = identity.customer
        history = self._history_at(history_key, call.started_at)
        incoming = IncomingCall(
            call_id=call.call_id,
            caller_id=call.caller_number,
            at=call.started_at,
            queue=call.queue,
            did=call.did,
        )
        bans, block = self._flags(call, identity)
        outcomes = {}
        for name, variant in self._variants.items():
            settings = variant.settings(
                call.queue, call.did, customer.class_name if customer else None
            )
            facts = CallerFacts(
                identity=identity,
                history=history,
                agents=self.world.agents,
                pairing_bans=bans,
                sticky_calls_last_hour=_RecentSticky(variant.sticky_times, call.started_at),
                caller_block=block,
            )
            decision = decide(incoming, facts, settings, call.caller_number)
            outcome = self._attempt(decision, settings)
            if outcome.route == "sticky" and outcome.agent_id is not None:
                variant.connected(outcome.agent_id, call.started_at)
            variant.tally.add(outcome)
            outcomes[name] = outcome
        return outcomes

    def record(self, call: ReplayCall) -> None:
        """The call happened as recorded: it is history for the caller's next call."""
        if self._next_prune is None or call.started_at >= self._next_prune:
            self._prune(call.started_at)
        if call.ended_at is None or not call.spoke:
            return
        history_key = self._history_key(call)
        if history_key is None:
            return
        past = PastInteraction(
            id=call.id,
            call_id=call.call_id,
            started_at=call.started_at,
            ended_at=call.ended_at,
            legs=call.legs,
            escalated_queue=call.escalated_queue,
        )
        # Re-inserted on every call, so the dict is ordered by each caller's latest call: the
        # sweep in `_prune` only looks at the front.
        held = self._history.pop(history_key, None)
        if held is None:
            held = deque(maxlen=HISTORY_DEPTH)
        held.append(past)
        self._history[history_key] = held

    def replay(self, calls: Sequence[ReplayCall]) -> dict[str, Tally]:
        """Replay calls already in memory (tests, small periods), in the order given."""
        for call in calls:
            self.offer(call)
            observe = getattr(self._availability, "observe", None)
            if observe is not None:
                observe(call)
            self.record(call)
        return self.tallies

    def _identity(self, call: ReplayCall) -> tuple[Identity, tuple[str, object] | None]:
        number = call.caller_number
        kind = call.key_kind or (KeyKind.NUMBER if number else None)
        value = call.key_value or number
        key = CallerKey(kind, value) if kind and value else None
        shared = number is not None and number in self.world.shared_numbers
        if key is None:
            return Identity(key=None), None
        if shared and kind is KeyKind.NUMBER and number is not None:
            # A shared number names several customers: the policy decides what that means.
            return Identity(key=key, customers=self._sharers(call)), ("number", number)
        if call.customer_id is not None:
            customer = self.world.customer(call.customer_id)
            ticket = self.world.tickets.get(call.ticket_id) if call.ticket_id else None
            return Identity(key=key, customers=(customer,), ticket=ticket), (
                "customer",
                call.customer_id,
            )
        return Identity(key=key), ("number", number) if number else None

    def _history_key(self, call: ReplayCall) -> tuple[str, object] | None:
        """Where `_identity` files the caller's history, without building the identity."""
        number = call.caller_number
        if not (call.key_value or number) or not (call.key_kind or number):
            return None
        kind = call.key_kind or KeyKind.NUMBER
        if kind is KeyKind.NUMBER and number is not None and number in self.world.shared_numbers:
            return ("number", number)
        if call.customer_id is not None:
            return ("customer", call.customer_id)
        return ("number", number) if number else None

    def _sharers(self, call: ReplayCall) -> tuple[Customer, ...]:
        # Two placeholders are enough to make the identity ambiguous; who they are does not matter
        # to the policy, which never picks one of them.
        first = call.customer_id or 0
        return (self.world.customer(first), Customer(-1, "", DEFAULT_CLASS, None, None))

    def _history_at(
        self, history_key: tuple[str, object] | None, at: datetime
    ) -> tuple[PastInteraction, ...]:
        if history_key is None:
            return ()
        held = self._history.get(history_key)
        if not held:
            return ()
        ended = [past for past in held if past.ended_at <= at]
        if len(ended) > 1:
            ended.sort(key=_ENDED_AT, reverse=True)
        return tuple(ended)

    def _flags(
        self, call: ReplayCall, identity: Identity
    ) -> tuple[tuple[PairingBan, ...], CallerBlock | None]:
        flags: list[Flag] = []
        for customer in identity.customers:
            flags += self.world.flags_by_customer.get(customer.id, ())
        if call.caller_number:
            flags += self.world.flags_by_number.get(call.caller_number, ())
        if not flags:
            return (), None
        at = call.started_at
        bans = tuple(f.ban for f in flags if f.ban is not None and f.holds_at(at))
        blocks = [f.block for f in flags if f.block is not None and f.holds_at(at)]
        return bans, blocks[0] if blocks else None

    def _attempt(self, decision: Decision, settings: EffectiveSettings) -> Outcome:
        """Walk the candidates as the router does (the same function), with the availability
        the history suggests."""
        if isinstance(decision, BlockedDecision):
            return Outcome("blocked", "blocked", eligible=False, decision=decision)
        if isinstance(decision, QueueDecision):
            return Outcome(
                "queue", decision.reason.value, eligible=bool(decision.excluded), decision=decision
            )
        assert isinstance(decision, StickyDecision)
        knobs = settings.values
        walk = run_at_once(
            walk_candidates(
                decision.candidates,
                ReplayProbe(
                    self._availability,
                    decision.context.call.at,
                    self._choices.choice(
                        decision.context.call.call_id, knobs.callback_expiry_minutes > 0
                    ),
                ),
                busy_wait_seconds=knobs.busy_wait_seconds,
                detour_budget_seconds=knobs.detour_budget_seconds,
                wait_offer_seconds=knobs.wait_offer_seconds,
            )
        )
        if walk.offer is WaitChoice.CALLBACK:
            return self._callback(decision, knobs.callback_expiry_minutes)
        if walk.chosen is None:
            reason = walk.first_miss or QueueReason.BUSY.value
            return Outcome(
                "queue", reason, eligible=True, wait_seconds=walk.waited_seconds, decision=decision
            )
        return Outcome(
            "sticky",
            walk.chosen.reason.value,
            eligible=True,
            agent_id=walk.chosen.agent.id,
            wait_seconds=walk.waited_seconds,
            decision=decision,
        )

    def _callback(self, decision: StickyDecision, expiry_minutes: int) -> Outcome:
        """A callback reaches the agent who owns it when they come free within its time (the
        end of their recorded call) and the caller answers (an assumption); the caller adds no
        wait on the call, and the time until the callback is counted apart."""
        call = decision.context.call
        agent = decision.candidates[0].agent
        free = self._availability.free_at(agent.id, call.at)
        within = free is not None and free - call.at <= timedelta(minutes=expiry_minutes)
        if free is None or not within or not self._choices.answers_callback(call.call_id):
            return Outcome("queue", "callback_lapsed", eligible=True, decision=decision)
        return Outcome("sticky", "callback", eligible=True, agent_id=agent.id, decision=decision,
                       callback_after=max(0.0, (free - call.at).total_seconds()))  # fmt: skip

    def _prune(self, now: datetime) -> None:
        horizon = now - self._keep
        stale = []
        for key, held in self._history.items():  # oldest latest call first
            if held and held[-1].ended_at >= horizon:
                break
            stale.append(key)
        for key in stale:
            del self._history[key]
        for variant in self._variants.values():
            for times in variant.sticky_times.values():
                while times and times[0] <= now - STICKY_CAP_PERIOD:
                    times.popleft()
        self._next_prune = now + timedelta(hours=1)
