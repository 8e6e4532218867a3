"""Settings: defaults, validation that names the field, and the narrowest scope winning."""

from __future__ import annotations

import pytest

from sticky_router.routing_core.settings import (
    InvalidSetting,
    RoutingSettings,
    Scope,
    ScopedValue,
    resolve_settings,
    validate_setting,
)


def test_defaults_are_those_of_routing_md() -> None:
    knobs = RoutingSettings()
    assert knobs.window_minutes == 120
    assert knobs.ring_timeout_seconds == 15
    assert knobs.busy_wait_seconds == 0
    assert knobs.min_talk_seconds == 10
    assert knobs.sticky_cap_per_hour == 6
    assert knobs.enabled is True


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("window_minutes", -5, "window_minutes"),
        ("ring_timeout_seconds", 121, "ring_timeout_seconds"),
        ("ring_timeout_seconds", "soon", "ring_timeout_seconds"),
        ("target_precedence", "whoever", "target_precedence"),
        ("windw_minutes", 10, "unknown setting 'windw_minutes'"),
    ],
)
def test_invalid_values_name_the_key(key: str, value: object, words: str) -> None:
    with pytest.raises(InvalidSetting, match=words):
        validate_setting(key, value)


def test_valid_values_come_back_canonical() -> None:
    assert validate_setting("window_minutes", "90") == 90
    assert validate_setting("target_precedence", "owner_first") == "owner_first"


ROWS = [
    ScopedValue(Scope.GLOBAL, None, "window_minutes", 90),
    ScopedValue(Scope.GLOBAL, None, "ring_timeout_seconds", 20),
    ScopedValue(Scope.QUEUE, "support", "window_minutes", 100),
    ScopedValue(Scope.QUEUE, "billing", "window_minutes", 5),
    ScopedValue(Scope.DID, "+74950000000", "window_minutes", 110),
    ScopedValue(Scope.CUSTOMER_CLASS, "vip", "window_minutes", 240),
    ScopedValue(Scope.CUSTOMER_CLASS, "vip", "ring_timeout_seconds", 999),  # stale, invalid now
]


@pytest.mark.parametrize(
    ("queue", "did", "customer_class", "window", "source"),
    [
        ("other", None, None, 90, Scope.GLOBAL),
        ("support", None, None, 100, Scope.QUEUE),
        ("support", "+74950000000", None, 110, Scope.DID),
        ("support", "+74950000000", "vip", 240, Scope.CUSTOMER_CLASS),
        ("billing", None, "standard", 5, Scope.QUEUE),
    ],
)
def test_narrowest_scope_wins_per_key(
    queue: str, did: str | None, customer_class: str | None, window: int, source: Scope
) -> None:
    effective = resolve_settings(ROWS, queue=queue, did=did, customer_class=customer_class)
    assert effective.values.window_minutes == window
    assert effective.sources["window_minutes"] is source
    # Another key keeps its own, wider source.
    assert effective.values.ring_timeout_seconds == 20
    assert effective.sources["ring_timeout_seconds"] is Scope.GLOBAL
    assert effective.sources["busy_wait_seconds"] is Scope.DEFAULT


def test_row_order_does_not_matter() -> None:
    forward = resolve_settings(ROWS, queue="support", did="+74950000000", customer_class="vip")
    backward = resolve_settings(
        list(reversed(ROWS)), queue="support", did="+74950000000", customer_class="vip"
    )
    assert forward == backward


def test_the_same_rows_resolve_once_and_a_change_holds_at_once() -> None:
    rows = [ScopedValue(Scope.GLOBAL, None, "window_minutes", 90)]
    first = resolve_settings(rows, queue="support", did=None, customer_class=None)
    again = resolve_settings(list(rows), queue="support", did=None, customer_class=None)
    assert again is first  # kept, not validated again
    changed = [ScopedValue(Scope.GLOBAL, None, "window_minutes", 45)]
    assert resolve_settings(changed, queue="support", did=None, customer_class=None).values == (
        RoutingSettings(window_minutes=45)
    )
    other_scope = resolve_settings(rows, queue="billing", did=None, customer_class=None)
    assert other_scope is not first


def test_a_value_that_cannot_be_kept_is_still_resolved() -> None:
    # A list is no setting's value: the row is skipped, as before, and nothing breaks on hashing.
    rows = [
        ScopedValue(Scope.GLOBAL, None, "window_minutes", [1, 2]),
        ScopedValue(Scope.GLOBAL, None, "ring_timeout_seconds", 25),
    ]
    effective = resolve_settings(rows, queue="support", did=None, customer_class=None)
    assert effective.values.ring_timeout_seconds == 25
    assert effective.sources["window_minutes"] is Scope.DEFAULT


def test_resolved_sources_cannot_be_changed_by_whoever_got_them() -> None:
    rows = [ScopedValue(Scope.GLOBAL, None, "window_minutes", 90)]
    effective = resolve_settings(rows, queue="support", did=None, customer_class=None)
    with pytest.raises(TypeError):
        effective.sources["window_minutes"] = Scope.QUEUE  # type: ignore[index]
