"""The HTTP ticket source's contract: what a CRM may answer, and everything it may not."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from sticky_router.routing_core.tickets import CallReport, TicketStatus
from sticky_router.tickets_http.contract import (
    MAX_LOOKUP_TICKETS,
    LookupAnswer,
    TicketsAnswer,
    call_report_body,
)


def ticket(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "CRM-5001",
        "status": "open",
        "subject": "No internet since morning",
        "updated_at": "2026-12-02T09:00:00+00:00",
        "owner": "agent3",
        "last_faults": "PPPoE auth failures",
        "promised_by": "2026-12-03T12:00:00+03:00",
        "link": "https://crm.example.com/tickets/CRM-5001",
        "extra_field_we_do_not_read": {"anything": [1, 2]},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def customer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "crm-17",
        "name": "Ivan Petrov",
        "class": "vip",
        "account": "100201",
        "phones": ["+79123456701"],
    }
    body.update(changes)
    return body


def lookup(**changes: Any) -> bytes:
    body = {"customer": customer(), "tickets": [ticket()]}
    body.update(changes)
    return json.dumps(body).encode()


def test_a_whole_answer_becomes_the_cores_records() -> None:
    found = LookupAnswer.model_validate_json(lookup()).to_core()
    assert found.customer is not None
    assert found.customer.ref == "crm-17"
    assert found.customer.class_name == "vip"
    assert found.customer.phone_numbers == ("+79123456701",)
    (only,) = found.tickets
    assert only.status is TicketStatus.OPEN
    assert only.owner_login == "agent3"
    assert only.promised_by == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert only.link == "https://crm.example.com/tickets/CRM-5001"


def test_nobody_known_is_a_null_customer_and_no_tickets() -> None:
    found = LookupAnswer.model_validate_json(b'{"customer": null, "tickets": []}').to_core()
    assert found.customer is None
    assert found.tickets == ()


def test_closed_tickets_in_a_lookup_are_not_open_tickets() -> None:
    body = lookup(tickets=[ticket(), ticket(id="CRM-1", status="closed")])
    assert [t.external_id for t in LookupAnswer.model_validate_json(body).to_core().tickets] == [
        "CRM-5001"
    ]


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("not JSON", b"<html>502 Bad Gateway</html>"),
        ("a list, not an object", b"[]"),
        ("no tickets field", json.dumps({"customer": None}).encode()),
        ("ticket id a number", lookup(tickets=[ticket(id=5001)])),
        ("status outside the set", lookup(tickets=[ticket(status="in progress")])),
        ("time without offset", lookup(tickets=[ticket(updated_at="2026-12-02T09:00:00")])),
        ("time not a time", lookup(tickets=[ticket(updated_at="yesterday")])),
        ("owner not a login", lookup(tickets=[ticket(owner="agent3; DROP TABLE")])),
        ("owner a number", lookup(tickets=[ticket(owner=3)])),
        ("id with a comma (dialplan)", lookup(tickets=[ticket(id="T-1,Hangup")])),
        ("id too long", lookup(tickets=[ticket(id="T" * 33)])),
        ("subject empty", lookup(tickets=[ticket(subject="")])),
        ("subject too long", lookup(tickets=[ticket(subject="x" * 501)])),
        ("link not http", lookup(tickets=[ticket(link="javascript:alert(1)")])),
        ("phone not E.164", lookup(customer=customer(phones=["8 912 345-67-01"]))),
        ("too many phones", lookup(customer=customer(phones=["+79123456701"] * 21))),
        ("class a number", lookup(customer=customer(**{"class": 1}))),
        ("customer id with spaces", lookup(customer=customer(id="crm 17"))),
        ("too many tickets", lookup(tickets=[ticket()] * (MAX_LOOKUP_TICKETS + 1))),
    ],
)
def test_an_answer_off_the_contract_is_refused_whole(why: str, body: bytes) -> None:
    with pytest.raises(ValidationError):
        LookupAnswer.model_validate_json(body)


def test_a_sync_page_needs_each_tickets_customer() -> None:
    good = {"tickets": [{**ticket(), "customer": customer()}]}
    changes = TicketsAnswer.model_validate_json(json.dumps(good)).to_core()
    assert changes[0].customer.account_number == "100201"
    with pytest.raises(ValidationError):
        TicketsAnswer.model_validate_json(json.dumps({"tickets": [ticket()]}))


def test_the_call_report_body_is_plain_json_with_offsets() -> None:
    started = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    body = call_report_body(
        CallReport("c-1", started, started, "sticky", "ticket_owner", ticket="CRM-5001")
    )
    assert json.loads(json.dumps(body)) == body
    assert body["started_at"] == "2026-12-02T10:00:00Z"  # ISO 8601 with its offset
    assert body["ticket"] == "CRM-5001"
    assert body["answered_at"] is None


def test_the_contracts_openapi_document_has_every_path_and_resolves_every_reference() -> None:
    from sticky_router.tickets_http.openapi import contract_openapi

    document = contract_openapi()
    assert set(document["paths"]) == {"/lookup", "/tickets", "/calls"}
    text = json.dumps(document)
    references = set(re.findall(r'"#/components/schemas/([A-Za-z]+)"', text))
    assert references >= {"LookupAnswer", "TicketsAnswer", "CallEnded", "TicketModel"}
    assert references <= set(document["components"]["schemas"])
    assert '"class"' in text  # the JSON name, not the Python one


def test_a_report_drops_what_the_contract_cannot_carry_rather_than_failing() -> None:
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    body = call_report_body(
        CallReport(
            "c-2", at, at, "abandoned", "x" * 100, caller_number="anonymous",
            ticket="T 1001", agent_login="agent 3", note="n" * 5000,
        )
    )  # fmt: skip
    assert (body["caller_number"], body["ticket"], body["agent"], body["route"]) == (None,) * 4
    assert len(str(body["reason"])) == 64
    assert len(str(body["note"])) == 2000
