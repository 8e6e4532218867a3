"""`sticky-router forget-customer` erases every personal field of one customer, in one
transaction, audited; their calls stay countable. On the old schema the customer could not even
be deleted (tests/security/data/test_erasure_schema.py)."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.integration.test_cli import sticky_router
from tests.security.data.erasure_helpers import (
    IVAN_NUMBER,
    IVAN_TRACES,
    anonymous_counts,
    forget,
    give_ivan_everything,
)
from tests.security.data.traces import personal_traces, rows_of_customer, table_sizes

ERASED_KINDS = {
    "notes", "actions", "pops", "calls", "do_not_pair", "caller_blocks", "callbacks", "tickets",
    "phone_numbers", "customers",
}  # fmt: skip


async def test_by_number_through_the_console_script_erases_every_trace(
    demo: asyncpg.Pool, database_url: str
) -> None:
    ivan = await give_ivan_everything(demo)
    assert {needle for *_, needle in await personal_traces(demo, IVAN_TRACES)} == set(IVAN_TRACES)
    counts = await anonymous_counts(demo)
    calls = await demo.fetchval("SELECT count(*) FROM interactions")

    result = sticky_router(
        "forget-customer", "--number", "8 912 345-67-01", "--actor", "dpo-officer",
        "--reference", "DPO-2026-0042", STICKY_DATABASE_URL=database_url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "1 customers" in result.stdout
    assert await personal_traces(demo, IVAN_TRACES) == []
    assert await rows_of_customer(demo, ivan) == []
    # His two calls (one attached to him, one only from his number) stay, for the counts.
    assert await demo.fetchval("SELECT count(*) FROM interactions") == calls
    assert await anonymous_counts(demo) == counts
    erased = await demo.fetch(
        "SELECT call_id, customer_id, ticket_id, caller_number, key_value, ivr_account "
        "FROM interactions WHERE call_id IN ('demo-0-0', 'unattached-ivan') ORDER BY call_id"
    )
    assert [tuple(row) for row in erased] == [
        ("demo-0-0", None, None, None, None, None),
        ("unattached-ivan", None, None, None, None, None),
    ]
    # The call's legs stay: who answered is the agents' data, and what the reports count.
    assert await demo.fetchval(
        "SELECT count(*) FROM interaction_legs l JOIN interactions i ON i.id = l.interaction_id "
        "WHERE i.call_id = 'demo-0-0'"
    ) == 1  # fmt: skip


async def test_by_account_and_by_id_through_main(
    demo: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    olga_traces = ["Olga Morozova", "100202", "+79123456702", "T-1002", "Packet loss"]
    sergey = await demo.fetchval("SELECT id FROM customers WHERE name = 'Sergey Volkov'")
    sergey_traces = ["Sergey Volkov", "100203", "+79123456703"]
    before = await personal_traces(demo, olga_traces + sergey_traces)
    assert {needle for *_, needle in before} == set(olga_traces + sergey_traces)
    counts = await anonymous_counts(demo)

    by_account = await forget(database_url, monkeypatch, capsys, "--account", "100202")
    by_id = await forget(database_url, monkeypatch, capsys, "--id", str(sergey))

    assert (by_account.code, by_id.code) == (0, 0), by_account.err + by_id.err
    assert await personal_traces(demo, olga_traces + sergey_traces) == []
    assert await rows_of_customer(demo, sergey) == []
    assert await anonymous_counts(demo) == counts
    # Olga's call was being transferred to agent3: the legs, hence the dashboard, are intact.
    assert await demo.fetchval(
        "SELECT count(*) FROM interaction_legs l JOIN interactions i ON i.id = l.interaction_id "
        "WHERE i.call_id = 'demo-1-0'"
    ) == 2  # fmt: skip
    kinds = await demo.fetch("SELECT key_kind FROM erasure_audit ORDER BY id")
    assert [row["key_kind"] for row in kinds] == ["account", "id"]


async def test_a_shared_number_erases_nothing_until_told_which_customer(
    demo: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sizes = await table_sizes(demo)
    romashka = await demo.fetchval("SELECT id FROM customers WHERE name = 'Romashka LLC'")
    alexey = await demo.fetchval("SELECT id FROM customers WHERE name = 'Alexey Romanov'")

    refused = await forget(database_url, monkeypatch, capsys, "--number", "+7 495 123-45-00")

    assert refused.code == 2
    assert f"2 customers have this number (ids {romashka}, {alexey})" in refused.err
    assert "nothing was erased" in refused.err
    assert await table_sizes(demo) == sizes

    chosen = await forget(database_url, monkeypatch, capsys, "--id", str(romashka))

    assert chosen.code == 0, chosen.err
    assert await personal_traces(demo, ["Romashka LLC", "100204"]) == []
    # The office number is Alexey's too: his row of it stays.
    owners = await demo.fetch("SELECT customer_id FROM phone_numbers WHERE e164 = '+74951234500'")
    assert [row["customer_id"] for row in owners] == [alexey]
    assert await demo.fetchval(
        "SELECT caller_number FROM interactions WHERE call_id = 'demo-3-0'"
    ) is None  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--account", "999999"), "no customer has this account"),
        (("--name", "Nobody Known"), "no customer has this name"),
        (("--number", "not a number"), "not a phone number"),
        (("--id", "12x"), "a customer id is a number"),
        (("--account", "100201", "--reference", "Ivan Petrov asked"), "the reference is"),
    ],
)
async def test_a_key_that_names_nobody_erases_nothing(
    demo: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    sizes = await table_sizes(demo)

    result = await forget(database_url, monkeypatch, capsys, *args)

    assert result.code == 2
    assert message in result.err
    assert await table_sizes(demo) == sizes


async def test_the_audit_row_says_who_when_and_how_much_but_nothing_erased(
    demo: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await give_ivan_everything(demo)

    result = await forget(
        database_url, monkeypatch, capsys, "--name", "Ivan Petrov", "--actor", "dpo-officer",
        "--reference", "DPO-2026-0042",
    )  # fmt: skip

    assert result.code == 0, result.err
    row = await demo.fetchrow("SELECT * FROM erasure_audit")
    assert row is not None
    assert (row["actor"], row["key_kind"], row["reference"]) == (
        "dpo-officer", "name", "DPO-2026-0042",
    )  # fmt: skip
    assert json.loads(row["erased"]) == {
        "notes": 1, "actions": 1, "pops": 1, "calls": 2, "do_not_pair": 1, "caller_blocks": 1,
        "callbacks": 1, "tickets": 1, "phone_numbers": 1, "customers": 1,
    }  # fmt: skip
    assert set(json.loads(row["erased"])) == ERASED_KINDS
    assert await personal_traces(demo, [*IVAN_TRACES, IVAN_NUMBER[1:]]) == []
