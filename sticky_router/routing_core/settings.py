"""Routing settings admins tune live, and the rule that the narrowest scope setting a key wins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sticky_router.routing_core.dialplan_safe import QUEUE as QUEUE_NAME_PATTERN
from sticky_router.routing_core.dialplan_safe import SOUND as SOUND_PATTERN


class Scope(StrEnum):
    """Scopes from wide to narrow; the order of this enum is the order of precedence."""

    DEFAULT = "default"
    GLOBAL = "global"
    QUEUE = "queue"
    DID = "did"
    CUSTOMER_CLASS = "customer_class"


SCOPE_RANK = {scope: rank for rank, scope in enumerate(Scope)}


class TargetPrecedence(StrEnum):
    LAST_AGENT = "last_agent"  # the ticket owner is never a candidate
    OWNER_FIRST = "owner_first"  # "owner wins"
    OWNER_AFTER_LAST_AGENT = "owner_after_last_agent"


class RoutingSettings(BaseModel):
    """Every knob of routing.md with its default. Validation here is the only validation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    window_minutes: int = Field(120, ge=0, le=60 * 24 * 30)
    # The window after the call's ticket was resolved or closed: 0, no stickiness once the
    # problem is solved; the default (the largest window) leaves window_minutes in force.
    resolved_ticket_window_minutes: int = Field(60 * 24 * 30, ge=0, le=60 * 24 * 30)
    # The window while an outage is declared for the call (incidents): 0, stickiness paused
    # (a thousand callers about one outage only lengthen the queue waiting for their agents).
    outage_window_minutes: int = Field(0, ge=0, le=60 * 24 * 30)
    # Outage mode by itself (routing_core.backlog), per queue: it starts when at least this many
    # callers wait (0: off) and the longest has waited auto_outage_longest_wait_seconds, and
    # ends once the backlog stayed under half of either for auto_outage_clear_seconds.
    auto_outage_waiting_callers: int = Field(0, ge=0, le=10_000)
    auto_outage_longest_wait_seconds: int = Field(300, ge=5, le=7200)
    auto_outage_clear_seconds: int = Field(600, ge=5, le=86_400)
    ring_timeout_seconds: int = Field(15, ge=1, le=120)
    busy_wait_seconds: int = Field(0, ge=0, le=300)
    # After-call work: an agent whose last answered call ended less than this ago is not rung
    # (set it to the queue's wrapuptime; 0: not checked).
    wrap_up_seconds: int = Field(0, ge=0, le=3600)
    # The most a caller waits in all for busy candidates, however many there are.
    detour_budget_seconds: int = Field(20, ge=0, le=300)
    # The wait offer (routing_core.wait_offer): when the caller's own agent is on another call,
    # the caller may press 1 to wait for them, on hold, this long at most; 0: not offered.
    wait_offer_seconds: int = Field(0, ge=0, le=900)
    # How long after the offer's prompts a key is waited for before the next free agent.
    wait_offer_answer_seconds: int = Field(5, ge=1, le=30)
    # With the wait offer: 2 asks that agent to call back, a task they own this long (then it
    # expires to the admin pages' list); 0: not offered. Dialled by the router (ARI + AMI).
    callback_expiry_minutes: int = Field(0, ge=0, le=24 * 60)
    min_talk_seconds: int = Field(10, ge=0, le=3600)
    sticky_cap_per_hour: int = Field(6, ge=0, le=1000)
    target_precedence: TargetPrecedence = TargetPrecedence.LAST_AGENT
    announce: bool = True
    # A sound file name handed to Playback(): letters, digits, _ - / only, so no `&` (a second
    # file), `,` (options) or dialplan expression ever reaches the dialplan.
    announce_sound: str = Field(
        "sticky-router/connecting-to-your-agent",
        min_length=1,
        max_length=200,
        pattern=SOUND_PATTERN,
    )
    fallback_priority_boost: int = Field(0, ge=0, le=100)
    # A caller whose open ticket has a promised follow-up now overdue enters the queue this many
    # steps ahead (whatever the route): we owe them a call.
    overdue_promise_priority_boost: int = Field(0, ge=0, le=100)
    # Where escalations fall back to (set it per queue): a callback whose specialist cannot
    # take it goes to this queue (second line), never back to first line. Empty: the same queue.
    escalation_queue: str = Field("", max_length=80, pattern=f"{QUEUE_NAME_PATTERN}|^$")
    ambiguous_number_sticky: bool = False
    use_personal_manager: bool = False
    # Phones without a screen show `[T-1001] Ivan Petrov` as the caller's name (agents only).
    callerid_name_prefix: bool = False


SETTING_KEYS: tuple[str, ...] = tuple(RoutingSettings.model_fields)


class InvalidSetting(ValueError):
    """A settings value an admin cannot be allowed to store; the message names the key."""


def validate_setting(key: str, value: Any) -> Any:
    """Check one value on its own, as an admin would set it; return it in its canonical form."""
    if key not in RoutingSettings.model_fields:
        raise InvalidSetting(f"unknown setting {key!r}; known settings: {', '.join(SETTING_KEYS)}")
    try:
        checked = RoutingSettings.model_validate({key: value})
    except ValidationError as error:
        message = error.errors()[0]["msg"]
        raise InvalidSetting(f"setting {key!r}: {message} (got {value!r})") from None
    canonical = getattr(checked, key)
    return canonical.value if isinstance(canonical, StrEnum) else canonical


@dataclass(frozen=True, slots=True)
class ScopedValue:
    """One row of the settings table."""

    scope: Scope
    scope_value: str | None
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class EffectiveSettings:
    """The settings in force for one call, and for each key the scope it came from."""

    values: RoutingSettings
    sources: Mapping[str, Scope]


def resolve_settings(
    rows: Iterable[ScopedValue],
    *,
    queue: str | None,
    did: str | None,
    customer_class: str | None,
) -> EffectiveSettings:
    """Pick, per key, the value of the narrowest scope that applies to this call.

    Rows that do not apply (another queue, another class) are ignored. A stored value that no
    longer validates (the schema tightened after it was written) is skipped rather than allowed to
    break routing: the wider scope's value stays in force.

    Every decision reads the rows afresh (an admin's change holds from the next call), but the
    same rows for the same scope resolve to the same settings: that answer is kept, as
    validating each row was a sixth of a decision's CPU.
    """
    scope = (tuple(rows), queue, did, customer_class)
    try:
        hash(scope)
    except TypeError:  # a value that is a list or a mapping: resolved afresh each time
        return _resolve(*scope)
    return _resolve_once(*scope)


def _resolve(
    rows: tuple[ScopedValue, ...], queue: str | None, did: str | None, customer_class: str | None
) -> EffectiveSettings:
    this_call: dict[Scope, str | None] = {
        Scope.QUEUE: queue,
        Scope.DID: did,
        Scope.CUSTOMER_CLASS: customer_class,
    }
    chosen: dict[str, tuple[Scope, Any]] = {}
    for row in rows:
        if row.scope is Scope.DEFAULT:
            continue
        if row.scope is not Scope.GLOBAL and (
            this_call[row.scope] is None or row.scope_value != this_call[row.scope]
        ):
            continue
        try:
            value = validate_setting(row.key, row.value)
        except InvalidSetting:
            continue
        held = chosen.get(row.key)
        if held is None or SCOPE_RANK[row.scope] > SCOPE_RANK[held[0]]:
            chosen[row.key] = (row.scope, value)
    values = RoutingSettings.model_validate({key: value for key, (_, value) in chosen.items()})
    sources = {key: chosen[key][0] if key in chosen else Scope.DEFAULT for key in SETTING_KEYS}
    return EffectiveSettings(values=values, sources=MappingProxyType(sources))


# A few scopes (queues, DIDs, classes) times the versions of the rows an admin has saved lately.
_resolve_once = lru_cache(maxsize=512)(_resolve)


DEFAULT_SETTINGS = EffectiveSettings(
    values=RoutingSettings(), sources=dict.fromkeys(SETTING_KEYS, Scope.DEFAULT)
)
