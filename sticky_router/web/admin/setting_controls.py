"""How each routing setting is shown and typed on the settings page: its control (a number with
bounds, on/off, a choice list, a sound picker, a queue picker) and its unit.

Bounds and choices are read from the core's `RoutingSettings`, so the page can never offer a
value the core refuses, nor refuse one it takes. The words (label, explanation, unit, choices)
are in `i18n_settings`, one entry per key; a unit test holds the three together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from annotated_types import Ge, Le

from sticky_router.routing_core.settings import SETTING_KEYS, InvalidSetting, RoutingSettings


class Control(StrEnum):
    NUMBER = "number"
    SWITCH = "switch"
    CHOICE = "choice"
    SOUND = "sound"
    QUEUE = "queue"


# The settings whose value is not just a number, a switch or a choice.
_PICKERS = {"announce_sound": Control.SOUND, "escalation_queue": Control.QUEUE}

# The unit of each number setting (an i18n key under "unit.").
UNITS = {
    "window_minutes": "minutes",
    "resolved_ticket_window_minutes": "minutes",
    "outage_window_minutes": "minutes",
    "auto_outage_waiting_callers": "callers",
    "auto_outage_longest_wait_seconds": "seconds",
    "auto_outage_clear_seconds": "seconds",
    "ring_timeout_seconds": "seconds",
    "busy_wait_seconds": "seconds",
    "wrap_up_seconds": "seconds",
    "detour_budget_seconds": "seconds",
    "wait_offer_seconds": "seconds",
    "wait_offer_answer_seconds": "seconds",
    "callback_expiry_minutes": "minutes",
    "min_talk_seconds": "seconds",
    "sticky_cap_per_hour": "calls_per_hour",
    "fallback_priority_boost": "priority_steps",
    "overdue_promise_priority_boost": "priority_steps",
}


@dataclass(frozen=True, slots=True)
class SettingControl:
    key: str
    control: Control
    unit: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


def _control_of(key: str) -> SettingControl:
    field = RoutingSettings.model_fields[key]
    if key in _PICKERS:
        return SettingControl(key, _PICKERS[key])
    kind = field.annotation
    if kind is bool:
        return SettingControl(key, Control.SWITCH)
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return SettingControl(key, Control.CHOICE, choices=tuple(member.value for member in kind))
    if kind is int:
        minimum = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
        maximum = next((m.le for m in field.metadata if isinstance(m, Le)), None)
        return SettingControl(
            key,
            Control.NUMBER,
            unit=UNITS[key],
            minimum=int(minimum) if minimum is not None else None,  # type: ignore[call-overload]
            maximum=int(maximum) if maximum is not None else None,  # type: ignore[call-overload]
        )
    raise TypeError(f"setting {key!r} has no control for {kind!r}")


CONTROLS: dict[str, SettingControl] = {key: _control_of(key) for key in SETTING_KEYS}


def read_typed(key: str, text: str) -> Any:
    """The value an admin typed or picked, as the core expects it (then checked by the core).

    Raises InvalidSetting, in words, for what is not even of the right kind."""
    control = CONTROLS[key].control
    text = text.strip()
    if control is Control.NUMBER:
        try:
            return int(text)
        except ValueError:
            problem = f"setting {key!r}: a whole number is needed (got {text!r})"
            raise InvalidSetting(problem) from None
    if control is Control.SWITCH:
        if text not in ("on", "off"):
            raise InvalidSetting(f"setting {key!r}: on or off (got {text!r})")
        return text == "on"
    return text
