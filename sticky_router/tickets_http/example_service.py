"""A tiny ticket service that serves the HTTP contract from a JSON file: a model for whoever
writes one for their CRM, and the real HTTP peer of the tests.

    python -m sticky_router.tickets_http.example_service --data tickets.json --port 8780 \
        [--token SECRET]

The file holds {"customers": [{"id", "name", "class", "account", "phones"}], "tickets": [{"id",
"customer", "status", "owner", "subject", "last_faults", "promised_by", "updated_at", "link"}]}.
Calls reported to POST /calls are kept per call id (a repeat answers 200 and changes nothing).
`TicketBook` is the state, so a test can reassign a ticket or make the service slow or
answer garbage while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from sticky_router.tickets_http.contract import CallEnded

Json = dict[str, Any]

# The example data the tests, the bench and the README use.
EXAMPLE_TICKETS = Path(__file__).with_name("example_tickets.json")


@dataclass
class TicketBook:
    customers: dict[str, Json] = field(default_factory=dict)
    tickets: dict[str, Json] = field(default_factory=dict)
    token: str | None = None
    # What the service did, for a test to look at.
    calls: dict[str, Json] = field(default_factory=dict)
    call_posts: int = 0
    requests: int = 0
    # Misbehaviour a test switches on: every answer late by this much, or not the contract.
    delay_seconds: float = 0.0
    garbage: bool = False

    @classmethod
    def from_file(cls, path: Path, token: str | None = None) -> TicketBook:
        data = json.loads(path.read_text())
        return cls(
            customers={c["id"]: c for c in data.get("customers", [])},
            tickets={t["id"]: t for t in data.get("tickets", [])},
            token=token,
        )

    def put_ticket(self, ticket: Json) -> None:
        """Add or change a ticket, stamped with the time of the change (as a helpdesk does)."""
        stamped = {**self.tickets.get(ticket["id"], {}), **ticket}
        stamped["updated_at"] = datetime.now(UTC).isoformat()
        self.tickets[ticket["id"]] = stamped

    def customer_of(self, ticket: Json) -> Json:
        return self.customers[ticket["customer"]]


def _ticket_view(ticket: Json) -> Json:
    return {k: v for k, v in ticket.items() if k != "customer"}


def _open(ticket: Json) -> bool:
    return ticket.get("status") in ("open", "pending")


BOOK = web.AppKey("book", TicketBook)


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    book = request.app[BOOK]
    book.requests += 1
    if book.token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {book.token}".encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
    if book.delay_seconds:
        await asyncio.sleep(book.delay_seconds)
    if book.garbage:
        return web.json_response({"tickets": [{"id": 42, "status": "maybe"}], "customer": 7})
    response: web.StreamResponse = await handler(request)
    return response


async def lookup(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    kind, value = request.query.get("kind"), request.query.get("value", "")
    customer: Json | None = None
    if kind == "ticket" and value in book.tickets:
        customer = book.customer_of(book.tickets[value])
    elif kind == "account":
        customer = next((c for c in book.customers.values() if c.get("account") == value), None)
    elif kind == "number":
        customer = next((c for c in book.customers.values() if value in c.get("phones", [])), None)
    elif kind not in ("ticket", "account", "number"):
        return web.json_response({"error": "kind is number, account or ticket"}, status=400)
    tickets = [
        _ticket_view(t)
        for t in book.tickets.values()
        if customer is not None and t["customer"] == customer["id"] and _open(t)
    ]
    tickets.sort(key=lambda t: t["updated_at"], reverse=True)
    return web.json_response({"customer": customer, "tickets": tickets})


async def tickets(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    since_text = request.query.get("updated_since")
    try:
        since = datetime.fromisoformat(since_text) if since_text else None
    except ValueError:
        return web.json_response({"error": "updated_since is an ISO 8601 time"}, status=400)
    if since is not None and since.tzinfo is None:
        return web.json_response({"error": "updated_since needs its offset"}, status=400)
    chosen = [
        {**_ticket_view(t), "customer": book.customer_of(t)}
        for t in book.tickets.values()
        if (datetime.fromisoformat(t["updated_at"]) >= since if since else _open(t))
    ]
    chosen.sort(key=lambda t: t["updated_at"])
    return web.json_response({"tickets": chosen})


async def calls(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    try:  # the same model the router builds the body with: the contract, checked both ways
        report = CallEnded.model_validate_json(await request.read())
    except ValidationError as error:
        return web.json_response({"error": str(error.errors()[:3])}, status=422)
    book.call_posts += 1
    if report.call_id in book.calls:  # idempotent per call id
        return web.json_response({"recorded": False})
    book.calls[report.call_id] = report.model_dump(mode="json")
    return web.json_response({"recorded": True}, status=201)


def create_app(book: TicketBook) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=64 * 1024)
    app[BOOK] = book
    app.router.add_get("/lookup", lookup)
    app.router.add_get("/tickets", tickets)
    app.router.add_post("/calls", calls)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--token", default=None, help="the bearer token clients must send")
    arguments = parser.parse_args()
    book = TicketBook.from_file(arguments.data, arguments.token)
    web.run_app(create_app(book), host=arguments.host, port=arguments.port)


if __name__ == "__main__":
    main()
