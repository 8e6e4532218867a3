"""Decisions explained in a support engineer's words."""

from __future__ import annotations

import pytest

from sticky_router.routing_core.explain import duration, explain
from sticky_router.routing_core.model import CallerKey, Identity, KeyKind
from sticky_router.routing_core.policy import decide
from tests.factories import CUSTOMER, call, facts, interaction, settings, talk, transfer_unanswered


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(4, "4 s"), (65, "1 min"), (365, "6 min"), (3600, "1 h"), (11100, "3 h 5 min"),
     (3 * 86400, "3 days")],
)  # fmt: skip
def test_duration(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_sticky_explanation_says_who_how_long_and_when() -> None:
    lines = explain(decide(call(), facts(interaction(42, talk(2, 365, 42))), settings()))
    assert (
        "Candidate 1: last spoke with agent2 for 6 min, ended 42 min ago, window 120 min." in lines
    )
    assert lines[-1].startswith("Decision: ring agent2 first (for up to 15 s)")


def test_window_expired_explanation_names_the_last_agent() -> None:
    lines = explain(decide(call(), facts(interaction(185, talk(2, 420, 185))), settings()))
    assert lines[-1] == (
        "Decision: queue support: the window has expired: last spoke with agent2 for 7 min, "
        "ended 3 h 5 min ago, window 120 min."
    )


def test_escalation_explanation_names_the_specialist() -> None:
    history = interaction(25, talk(1, 180, 26), transfer_unanswered(3, 25))
    lines = explain(decide(call(), facts(history), settings()))
    assert "handed to specialist agent3" in lines[-2]


def test_key_source_is_named() -> None:
    identity = Identity(CallerKey(KeyKind.ACCOUNT, "100201"), (CUSTOMER,))
    lines = explain(decide(call(), facts(identity=identity), settings()))
    assert lines[0] == "Caller key: account 100201 (account number keyed in the IVR)."
    assert lines[-1] == (
        "Decision: queue support: no earlier conversation of at least 10 s with this caller."
    )
