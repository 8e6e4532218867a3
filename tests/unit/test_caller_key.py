"""Caller IDs as carriers send them: the same subscriber gives the same key; junk gives none."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sticky_router.routing_core.caller_key import (
    ivr_account,
    ivr_ticket,
    keys_in_priority,
    normalise_number,
)
from sticky_router.routing_core.model import KeyKind


@pytest.mark.parametrize(
    "raw",
    [
        "+79123456701",
        "+7 (912) 345-67-01",
        "89123456701",
        "0079123456701",
        "sip:+79123456701@gw.example.net",
        "tel:+7-912-345-67-01",
        "sip:89123456701@10.0.0.1;user=phone",
        " 8 912 345 67 01 ",
    ],
)
def test_the_same_subscriber_however_written(raw: str) -> None:
    assert normalise_number(raw, "RU") == "+79123456701"


def test_default_region_applies_to_national_numbers() -> None:
    assert normalise_number("020 7946 0018", "GB") == "+442079460018"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "anonymous",
        "Anonymous",
        "unknown",
        "Restricted",
        "sip:anonymous@anonymous.invalid",
        "12",
        "abc",
        "+" + "9" * 80,
        "'; DROP TABLE interactions; --",
        "+7912\x00345",
        "\u202e10765432197+",
        "<script>alert(1)</script>",
        "%s%s%s%n",
    ],
)
def test_withheld_or_junk_gives_no_key(raw: str | None) -> None:
    assert normalise_number(raw, "RU") is None


@given(st.text(max_size=300))
def test_no_caller_id_ever_raises(raw: str) -> None:
    result = normalise_number(raw, "RU")
    assert result is None or (result.startswith("+") and result[1:].isdigit())


@given(st.binary(max_size=200))
def test_no_bytes_decoded_as_caller_id_ever_raise(raw: bytes) -> None:
    normalise_number(raw.decode("utf-8", errors="replace"), "US")


@pytest.mark.parametrize(
    ("raw", "expected"), [("100201", "100201"), (" 42 ", "42"), ("12a", None), ("", None),
                          ("1" * 33, None), ("١٢٣", None), (None, None)]
)  # fmt: skip
def test_ivr_account_is_digits_only(raw: str | None, expected: str | None) -> None:
    assert ivr_account(raw) == expected


def test_ivr_ticket_accepts_dialplan_ids_and_refuses_junk() -> None:
    assert ivr_ticket("t-1001") == "T-1001"
    assert ivr_ticket("T 1001; rm") is None


def test_keys_come_strongest_first() -> None:
    keys, number = keys_in_priority("+79123456701", "T-1001", "100201", "RU")
    assert [key.kind for key in keys] == [KeyKind.TICKET, KeyKind.ACCOUNT, KeyKind.NUMBER]
    assert number == "+79123456701"


def test_anonymous_caller_who_keyed_an_account_still_has_a_key() -> None:
    keys, number = keys_in_priority("anonymous", None, "100201", "RU")
    assert [(key.kind, key.value) for key in keys] == [(KeyKind.ACCOUNT, "100201")]
    assert number is None
