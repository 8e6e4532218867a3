"""The ARI application's small pure parts: Stasis arguments, hang-up causes, ids, variables."""

from __future__ import annotations

import pytest

from ari_app.app import _looks_like_agent_leg, dial_status_of_cause, incoming_call
from ari_app.bridged import BridgedCall, BridgedCalls
from ari_app.channel_vars import fallback_variables
from routing_core.decision import StickyDecision
from routing_core.policy import decide
from tests.factories import call, facts, interaction, settings, talk


@pytest.mark.parametrize(
    ("args", "queue", "did", "account", "ticket"),
    [
        ([], "support", None, None, None),
        (["billing", "74950000000", "", ""], "billing", "74950000000", None, None),
        (["", "", "100201", "T-1001"], "support", None, "100201", "T-1001"),
        (["support", " "], "support", None, None, None),
    ],
)
def test_stasis_arguments_become_the_incoming_call(
    args: list[str], queue: str, did: str | None, account: str | None, ticket: str | None
) -> None:
    channel = {"id": "1795382571.0", "caller": {"number": "79123456701"}}
    incoming = incoming_call(channel, args)
    assert (incoming.queue, incoming.did, incoming.ivr_account, incoming.ivr_ticket) == (
        queue,
        did,
        account,
        ticket,
    )
    assert incoming.call_id == "1795382571.0"
    assert incoming.caller_id == "79123456701"


def test_a_channel_without_caller_id_has_none() -> None:
    assert incoming_call({"id": "1.1", "caller": {"number": ""}}, []).caller_id is None


@pytest.mark.parametrize(
    ("cause", "status"),
    [(17, "BUSY"), (21, "CONGESTION"), (19, "NOANSWER"), (18, "NOANSWER"), (16, "NOANSWER"),
     (3, "CHANUNAVAIL"), (None, "CHANUNAVAIL"), ("17", "CHANUNAVAIL")],
)  # fmt: skip
def test_hang_up_causes_of_an_agent_leg(cause: object, status: str) -> None:
    assert dial_status_of_cause(cause) == status


@pytest.mark.parametrize(
    ("channel_id", "is_leg"),
    [("1795382571.0-agent2", True), ("1795382571.0", False), ("1795382571.12", False),
     ("-", False)],
)  # fmt: skip
def test_agent_legs_are_told_by_their_deterministic_id(channel_id: str, is_leg: bool) -> None:
    assert _looks_like_agent_leg(channel_id) is is_leg


def test_either_side_of_a_bridged_call_finds_and_forgets_it() -> None:
    bridged = BridgedCalls()
    bridged.add(BridgedCall("c1", "c1-agent2", "c1-bridge"))
    assert len(bridged) == 1
    assert bridged.pop("c1-agent2") == BridgedCall("c1", "c1-agent2", "c1-bridge")
    assert not bridged.has("c1")
    assert bridged.pop("c1") is None


def test_fallback_variables_carry_ids_and_codes_never_personal_text() -> None:
    decision = decide(call(), facts(interaction(42, talk(2, 360, 42))), settings())
    assert isinstance(decision, StickyDecision)
    variables = fallback_variables(decision, "no_answer")
    assert variables["STICKY_REASON"] == "no_answer"
    assert variables["STICKY_TARGET"] == "agent2"
    assert variables["STICKY_CALL_ID"] == "c-new"
    flat = " ".join(variables.values())
    for private in ("Ivan", "Petrov", "No internet", "+79123456701"):
        assert private not in flat
