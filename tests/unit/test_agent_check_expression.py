"""The agent check's one read (ari_app.availability): what it asks Asterisk to evaluate, that
nothing unchecked reaches EVAL(), and how the answer is split. What Asterisk answers to it is
measured in tests/e2e/test_agent_check_in_one_read.py."""

from __future__ import annotations

import pytest

from sticky_router.ari_app.availability import facts_expression
from sticky_router.routing_core.attempt import split_agent_facts
from sticky_router.routing_core.dialplan_safe import UnsafeForDialplan
from sticky_router.routing_core.model import Agent, AgentRole


def agent(endpoint: str, *, queue_interface: str | None = None, state: str | None = None) -> Agent:
    return Agent(2, "agent2", "Agent 2", endpoint, AgentRole.FIRST_LINE, True,
                 queue_interface=queue_interface, state_interface=state)  # fmt: skip


def test_a_device_is_read_with_device_state_and_a_hint_with_extension_state() -> None:
    assert facts_expression("support", agent("PJSIP/agent2")) == (
        "EVAL(${QUEUE_MEMBER_LIST(support)}|${QUEUE_MEMBER(support,paused,PJSIP/agent2)}"
        "|${DEVICE_STATE(PJSIP/agent2)})"
    )
    freepbx = agent(
        "Local/102@from-queue-exten-only/n",
        queue_interface="Local/102@from-queue/n",
        state="hint:102@ext-local",
    )
    assert facts_expression("400", freepbx) == (
        "EVAL(${QUEUE_MEMBER_LIST(400)}|${QUEUE_MEMBER(400,paused,Local/102@from-queue/n)}"
        "|${EXTENSION_STATE(102@ext-local)})"
    )


@pytest.mark.parametrize(
    ("queue", "endpoint"),
    [
        ("support}|${SHELL(id)", "PJSIP/agent2"),
        ("support", "PJSIP/agent2)}${SHELL(id)"),
        ("support,x", "PJSIP/agent2"),
        ("", "PJSIP/agent2"),
    ],
)
def test_a_queue_or_interface_that_could_break_out_of_eval_is_refused(
    queue: str, endpoint: str
) -> None:
    with pytest.raises(UnsafeForDialplan):
        facts_expression(queue, agent(endpoint))


def test_a_state_interface_of_no_known_kind_is_never_evaluated() -> None:
    expression = facts_expression("support", agent("PJSIP/agent2", state="${SHELL(id)}"))
    assert expression.endswith("|INVALID)")
    assert "SHELL" not in expression


def test_the_answer_splits_from_the_right_so_members_keep_their_commas() -> None:
    assert split_agent_facts("PJSIP/agent1,PJSIP/agent2|0|NOT_INUSE") == (
        "PJSIP/agent1,PJSIP/agent2",
        "0",
        "NOT_INUSE",
    )
    assert split_agent_facts("||INVALID") == ("", "", "INVALID")


@pytest.mark.parametrize("value", ["", "NOT_INUSE", "PJSIP/agent2|0"])
def test_an_answer_without_three_parts_knows_nothing(value: str) -> None:
    assert split_agent_facts(value) == ("", "", "")
