"""The allow-lists of what may reach a dialplan application, and the argument check."""

from __future__ import annotations

import importlib

import pytest

from sticky_router.routing_core import dialplan_safe
from sticky_router.routing_core.attempt import state_function
from sticky_router.routing_core.dialplan_safe import (
    CallArguments,
    is_endpoint,
    is_queue,
    is_sound,
    is_state_interface,
)
from sticky_router.routing_core.dialplan_variables import MAX_PACK_CHARS, handed_over, pack

HOSTILE = ["a&b", "a,b", "a(b", "a)b", "${X}", "$[1]", "a|b", "a^b", "a b", "a;b", "a\nb", 'a"b']


@pytest.mark.parametrize("good", ["PJSIP/agent2", "SIP/1001", "IAX2/peer", "Local/101@from-queue/n",
                                  "PJSIP/agent2/sip:agent2@10.0.0.5:5062"])  # fmt: skip
def test_one_device_is_an_endpoint(good: str) -> None:
    assert is_endpoint(good)


@pytest.mark.parametrize("bad", [f"PJSIP/{h}" for h in HOSTILE] + ["agent2", "/agent2", ""])
def test_anything_else_is_not(bad: str) -> None:
    assert not is_endpoint(bad)


def test_a_state_interface_is_a_device_or_an_extensions_hint() -> None:
    assert is_state_interface("PJSIP/agent2")
    assert is_state_interface("hint:102@ext-local")
    assert state_function("hint:102@ext-local") == "EXTENSION_STATE(102@ext-local)"
    assert state_function("PJSIP/agent2") == "DEVICE_STATE(PJSIP/agent2)"


@pytest.mark.parametrize(
    "bad", [f"hint:{h}@ext-local" for h in HOSTILE] + [f"hint:102@{h}" for h in HOSTILE]
    + ["hint:102", "hint:@ext-local", "Hint:102@ext-local", "hint:102@ext-local@x", ""],
)  # fmt: skip
def test_a_hint_with_anything_else_never_reaches_a_dialplan_function(bad: str) -> None:
    assert not is_state_interface(bad)
    assert state_function(bad) is None


@pytest.mark.parametrize("bad", [f"custom/{h}" for h in HOSTILE] + ["../etc/passwd", "a.gsm", ""])
def test_a_sound_name_has_no_separators_dots_or_expressions(bad: str) -> None:
    assert not is_sound(bad)
    assert is_sound("custom/abuse-policy")


@pytest.mark.parametrize("bad", [*HOSTILE, "", "x" * 81])
def test_a_queue_name_is_letters_digits_dash_underscore(bad: str) -> None:
    assert not is_queue(bad)
    assert is_queue("second-line")


def test_the_migration_constrains_with_the_same_patterns() -> None:
    """The database constraints (migration 0008) are copies: they must not drift."""
    migration = importlib.import_module(
        "sticky_router.migrations.versions.0008_dialplan_safe_values"
    )
    assert migration.ENDPOINT == dialplan_safe.ENDPOINT
    assert migration.SOUND == dialplan_safe.SOUND
    assert migration.QUEUE == dialplan_safe.QUEUE
    identity = importlib.import_module("sticky_router.migrations.versions.0011_agent_identity")
    assert identity.ENDPOINT == dialplan_safe.ENDPOINT
    assert identity.HINT == dialplan_safe.HINT


def test_well_formed_arguments_are_kept() -> None:
    checked = CallArguments.check("support", "74950000000", "100201", "T-1001", "internet")
    assert (checked.queue, checked.did, checked.ivr_account, checked.ivr_ticket) == (
        "support", "74950000000", "100201", "T-1001",
    )  # fmt: skip
    assert checked.refused == ()


def test_a_split_argument_list_believes_nothing_after_the_did() -> None:
    """`74950000000,100201` dialled: each piece is well-formed, only the count tells."""
    checked = CallArguments.check("support", "74950000000", "100201", None, None, split=True)
    assert (checked.did, checked.ivr_account) == ("74950000000", None)
    assert checked.refused == ("ivr_account",)


@pytest.mark.parametrize("bad", HOSTILE)
def test_malformed_values_are_dropped_and_named(bad: str) -> None:
    checked = CallArguments.check(bad, bad, bad, bad, bad)
    assert checked.queue == bad  # kept: nobody is rung for it (dialplan_variables checks)
    assert (checked.did, checked.ivr_account, checked.ivr_ticket, checked.ivr_menu) == (None,) * 4
    assert set(checked.refused) == {"queue", "did", "ivr_account", "ivr_ticket", "ivr_menu"}


def test_values_are_bounded_and_lose_control_characters() -> None:
    assert dialplan_safe.bounded("a\nb" + "x" * 1000) == "ab" + "x" * 510


def test_the_variables_are_handed_over_in_one_packed_variable() -> None:
    """What sticky-unpack reads: `plain|coded`. Plain values (ids, codes, endpoints) as
    __NAME=value for one MSet(); the others NAME=value joined by `&`, each value URI-encoded, so
    a value can hold nothing that splits the pack or an application's arguments."""
    packed = pack(
        {"STICKY_ROUTE": "sticky", "STICKY_CUSTOMERS": "1,2&3", "TICKET_ID": "",
         "STICKY_TARGET_ENDPOINT": "PJSIP/agent2"}
    )  # fmt: skip
    assert packed == (
        "__STICKY_ROUTE=sticky,__STICKY_TARGET_ENDPOINT=PJSIP/agent2|STICKY_CUSTOMERS=1%2C2%263"
    )
    hostile = pack({"STICKY_CALLERID_NAME": "[T-1] ${EXTEN} $[1+1] (a),b;c|d=e"})
    plain, coded = hostile.split("|")
    assert plain == ""
    assert not set(coded.split("=", 1)[1]) & set("&,$()[];|= ")
    assert pack({"TICKET_ID": ""}) == ""  # nothing to hand over
    with pytest.raises(ValueError, match="not a variable name"):
        pack({"__STICKY_ROUTE": "sticky"})  # the dialplan adds the __ itself
    with pytest.raises(ValueError, match="not a variable name"):
        pack({"X=Y&Z": "1"})


def test_a_pack_too_long_for_one_request_goes_variable_by_variable() -> None:
    short = handed_over({"STICKY_ROUTE": "sticky", "TICKET_ID": ""})
    assert short == {"STICKY_PACK": "__STICKY_ROUTE=sticky|"}
    long = handed_over({"STICKY_CALLERID_NAME": "x" * MAX_PACK_CHARS, "STICKY_ROUTE": "queue"})
    assert long == {
        "STICKY_PACK": "",  # cleared: an earlier hand-over's pack is not unpacked over these
        "__STICKY_CALLERID_NAME": "x" * MAX_PACK_CHARS,
        "__STICKY_ROUTE": "queue",
    }


def test_an_agents_device_is_rung_on_another_node_through_the_trunk_named_after_it() -> None:
    assert dialplan_safe.through_node("PJSIP/agent2", "node-a") == "PJSIP/agent2@node-a"
    assert is_endpoint("PJSIP/agent2@node-a")


@pytest.mark.parametrize(
    ("endpoint", "node"),
    [
        ("Local/102@from-queue/n", "node-a"),  # a Local channel rings this node's dialplan
        ("PJSIP/agent2@trunk", "node-a"),  # a user@ of its own
        ("PJSIP/agent2/sip:agent2@10.0.0.5", "node-a"),
        ("SIP/1001", "node-a"),  # the other node's sticky-from-nodes dials PJSIP devices only
        *[("PJSIP/agent2", f"node{h}") for h in HOSTILE],
        ("PJSIP/agent2", "Node-A"),
        ("PJSIP/agent2", ""),
        ("PJSIP/agent2", "n" * 33),
    ],
)
def test_nothing_else_is_rung_through_a_trunk(endpoint: str, node: str) -> None:
    assert dialplan_safe.through_node(endpoint, node) is None
