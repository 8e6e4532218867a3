"""The ARI application's small pure parts: Stasis arguments and the variables it hands over."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sticky_router.ari_app.app import incoming_call
from sticky_router.routing_core.decision import StickyDecision
from sticky_router.routing_core.dialplan_safe import is_endpoint
from sticky_router.routing_core.dialplan_variables import attempt_variables, fallback_variables
from sticky_router.routing_core.policy import decide
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


@pytest.mark.parametrize(
    "endpoint",
    ["PJSIP/agent2", "SIP/101", "Local/101@from-queue/n", "PJSIP/agent-2.desk", "IAX2/peer:1"],
)
def test_one_device_is_a_dial_target(endpoint: str) -> None:
    assert is_endpoint(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    ["PJSIP/agent2&PJSIP/mobile", "PJSIP/agent2,60,D(1)", "PJSIP/agent2)", "PJSIP/${EVIL}",
     "PJSIP/a b", "agent2", "PJSIP/", "/agent2", "PJSIP/agent2|x", "PJSIP/" + "a" * 100, ""],
)  # fmt: skip
def test_anything_else_never_reaches_dial(endpoint: str) -> None:
    assert not is_endpoint(endpoint)


def test_a_target_with_an_unusable_endpoint_is_handed_to_the_queue_not_dialled() -> None:
    decision = decide(call(), facts(interaction(42, talk(2, 360, 42))), settings())
    assert isinstance(decision, StickyDecision)
    agent = decision.target.agent
    hostile = replace(
        decision,
        candidates=(replace(decision.target, agent=replace(agent, endpoint="PJSIP/a&PJSIP/b")),),
    )
    variables = attempt_variables(hostile)
    assert (variables["STICKY_ROUTE"], variables["STICKY_REASON"]) == ("queue", "unreachable")
    assert variables["STICKY_TARGET_ENDPOINT"] == ""
    assert attempt_variables(decision)["STICKY_TARGET_ENDPOINT"] == "PJSIP/agent2"


def test_an_agent_logged_in_on_another_node_is_dialled_through_its_trunk() -> None:
    decision = decide(call(), facts(interaction(42, talk(2, 360, 42))), settings())
    assert isinstance(decision, StickyDecision)
    variables = attempt_variables(decision, decision.target, on_node="node-a")
    assert variables["STICKY_TARGET_ENDPOINT"] == "PJSIP/agent2@node-a"
    assert variables["STICKY_TARGET"] == "agent2"
    hostile = attempt_variables(decision, decision.target, on_node="node-a,PJSIP/x")
    assert (hostile["STICKY_ROUTE"], hostile["STICKY_REASON"]) == ("queue", "unreachable")
    assert hostile["STICKY_TARGET_ENDPOINT"] == ""
