"""Every routing setting has a control whose bounds are the core's, and every setting, miss
reason and live state has words in both languages."""

from __future__ import annotations

import pytest

import sticky_router.web.i18n.live  # noqa: F401 - registers the words
from sticky_router.routing_core.decision import CandidateReason, QueueReason
from sticky_router.routing_core.settings import SETTING_KEYS, InvalidSetting, validate_setting
from sticky_router.web.admin.live_view import AGENT_STATES, CALL_STATES
from sticky_router.web.admin.setting_controls import CONTROLS, Control, read_typed
from sticky_router.web.i18n.words import CATALOGUE, LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_setting_has_a_label_an_explanation_and_words_for_its_unit_and_choices(
    language: str,
) -> None:
    words = CATALOGUE[language]
    missing = []
    for key in SETTING_KEYS:
        control = CONTROLS[key]
        needed = [f"setting.{key}.label", f"setting.{key}.help"]
        needed += [f"unit.{control.unit}"] if control.unit else []
        needed += [f"choice.{key}.{choice}" for choice in control.choices]
        missing += [name for name in needed if not words.get(name)]
    assert missing == []


def test_a_number_controls_bounds_are_exactly_what_the_core_accepts() -> None:
    numbers = [c for c in CONTROLS.values() if c.control is Control.NUMBER]
    assert {c.key for c in numbers} >= {"window_minutes", "ring_timeout_seconds"}
    for control in numbers:
        assert control.minimum is not None
        assert control.maximum is not None
        assert validate_setting(control.key, control.minimum) == control.minimum
        assert validate_setting(control.key, control.maximum) == control.maximum
        for outside in (control.minimum - 1, control.maximum + 1):
            with pytest.raises(InvalidSetting):
                validate_setting(control.key, outside)


def test_the_kinds_of_control() -> None:
    kinds = {key: control.control for key, control in CONTROLS.items()}
    assert kinds["enabled"] is Control.SWITCH
    assert kinds["target_precedence"] is Control.CHOICE
    assert CONTROLS["target_precedence"].choices == (
        "last_agent", "owner_first", "owner_after_last_agent",
    )  # fmt: skip
    assert kinds["announce_sound"] is Control.SOUND
    assert kinds["escalation_queue"] is Control.QUEUE
    assert kinds["window_minutes"] is Control.NUMBER


def test_what_is_typed_is_read_as_its_kind_or_refused_in_words() -> None:
    assert read_typed("window_minutes", " 240 ") == 240
    assert read_typed("enabled", "off") is False
    assert read_typed("enabled", "on") is True
    assert read_typed("announce_sound", "beep") == "beep"
    for key, text in (("window_minutes", "2h"), ("window_minutes", ""), ("enabled", "true")):
        with pytest.raises(InvalidSetting, match=key):
            read_typed(key, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_a_call_misses_its_agent_has_words(language: str) -> None:
    missing = [r.value for r in QueueReason if not CATALOGUE[language].get(f"reason.{r.value}")]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_state_the_live_view_shows_has_words(language: str) -> None:
    words = CATALOGUE[language]
    needed = [f"live.agent.{state}" for state in AGENT_STATES]
    needed += [f"live.call.{state}" for state in CALL_STATES]
    needed += [f"live.decision.{reason.value}" for reason in CandidateReason]
    assert [key for key in needed if not words.get(key)] == []
