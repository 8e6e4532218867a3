"""The Redmine source against Redmine 5 itself (Debian's package, SQLite, thin): issues, users and
custom fields made through Redmine's REST API, read back through the core's TicketSource."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from devkit.sandbox.redmine import LocalRedmine
from devkit.sandbox.redmine_desk import SupportDesk
from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.tickets import (
    CallReport,
    SourceFailure,
    TicketSourceError,
    TicketStatus,
)
from sticky_router.tickets_redmine.client import RedmineTicketSource
from sticky_router.tickets_redmine.settings import RedmineFields
from tests.tickets.conftest import redmine_settings


def number(key: str) -> CallerKey:
    return CallerKey(KeyKind.NUMBER, key)


async def test_a_full_sync_reads_open_issues_with_owner_keys_faults_and_promise(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    mine = desk.open_issue(
        "No internet since the storm", assignee="agent3",
        phone="8 (495) 100-00-01, +7 912 100 00 01", account="700001",
        customer="Ivan Petrov", customer_class="vip", last_faults="LOS 12:00; LOS 13:10",
        due=date(2030, 1, 15),
    )  # fmt: skip
    closed = desk.open_issue("Old fault", assignee="agent3", account="700001")
    desk.update_issue(closed, status_id=desk.status_id("Closed"))

    changes = {c.ticket.external_id: c for c in await redmine_source.changes_since(None)}

    assert str(closed) not in changes
    change = changes[str(mine)]
    ticket, customer = change.ticket, change.customer
    assert (ticket.status, ticket.owner_login) == (TicketStatus.OPEN, "agent3")
    assert ticket.subject == "No internet since the storm"
    assert ticket.last_faults == "LOS 12:00; LOS 13:10"
    # A due date promises the whole day.
    assert ticket.promised_by == datetime(2030, 1, 16, tzinfo=UTC)
    assert ticket.link == f"{desk.redmine.url}/issues/{mine}"
    assert customer.ref == "account:700001"
    assert customer.name == "Ivan Petrov"
    assert customer.class_name == "vip"
    assert customer.phone_numbers == ("+74951000001", "+79121000001")


async def test_an_incremental_sync_sees_what_changed_and_what_closed(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    before = desk.open_issue("Slow line", assignee="agent1", account="700002")
    untouched = desk.open_issue("Not changed since", account="700004")
    # We ask one second early (whole seconds), and Redmine's `>= t` is `> t - 1 s` on the
    # fractional times it stores: an issue up to 2 s older comes again (harmless: the mirror
    # never lets an older state win). Older than that, it must not.
    await asyncio.sleep(3.1)
    since = datetime.now(UTC)
    desk.update_issue(before, assigned_to_id=desk.users["agent2"])
    fresh = desk.open_issue("Router lost its settings", account="700003")
    desk.update_issue(fresh, status_id=desk.status_id("Closed"))

    changes = {c.ticket.external_id: c.ticket for c in await redmine_source.changes_since(since)}

    assert changes[str(before)].owner_login == "agent2"
    assert changes[str(fresh)].status is TicketStatus.CLOSED
    assert str(untouched) not in changes
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert await redmine_source.changes_since(later) == []


async def test_statuses_map_onto_the_products(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    feedback = desk.open_issue("Waiting for the customer", account="700005")
    desk.update_issue(feedback, status_id=desk.status_id("Feedback"))
    resolved = desk.open_issue("Fixed, to confirm", account="700005")
    desk.update_issue(resolved, status_id=desk.status_id("Resolved"))
    rejected = desk.open_issue("Not our fault", account="700005")
    desk.update_issue(rejected, status_id=desk.status_id("Rejected"))
    since = datetime.now(UTC) - timedelta(minutes=5)

    statuses = {
        c.ticket.external_id: c.ticket.status for c in await redmine_source.changes_since(since)
    }

    assert statuses[str(feedback)] is TicketStatus.PENDING
    assert statuses[str(resolved)] is TicketStatus.RESOLVED
    assert statuses[str(rejected)] is TicketStatus.CLOSED


async def test_lookup_by_number_however_redmine_wrote_it(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    issue = desk.open_issue(
        "Modem blinks", assignee="agent4", phone="84951000011", customer="Olga", account="700011"
    )

    found = await redmine_source.lookup(number("+74951000011"))

    assert found.customer is not None
    assert found.customer.name == "Olga"
    assert [(t.external_id, t.owner_login) for t in found.tickets] == [(str(issue), "agent4")]
    # The digits inside a longer number are not this caller; nor is a neighbour's number.
    desk.open_issue("Someone else", phone="+7495100001199", account="700012")
    assert (await redmine_source.lookup(number("+74951000012"))).tickets == ()
    assert [
        t.external_id for t in (await redmine_source.lookup(number("+74951000011"))).tickets
    ] == [str(issue)]


async def test_a_number_two_subscribers_share_names_nobody(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    desk.open_issue("Flat 1", phone="+74951000021", account="700021")
    desk.open_issue("Flat 2", phone="+74951000021", account="700022")

    shared = await redmine_source.lookup(number("+74951000021"))

    assert shared.customer is None
    assert shared.tickets == ()


async def test_lookup_by_account_and_by_issue_number(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    first = desk.open_issue("Billing question", account="700031", customer="Anna")
    second = desk.open_issue("Speed drops", account="700031", customer="Anna", assignee="agent1")

    by_account = await redmine_source.lookup(CallerKey(KeyKind.ACCOUNT, "700031"))
    by_ticket = await redmine_source.lookup(CallerKey(KeyKind.TICKET, str(first)))
    by_prefixed = await redmine_source.lookup(CallerKey(KeyKind.TICKET, f"T-{second}"))

    assert sorted(t.external_id for t in by_account.tickets) == sorted([str(first), str(second)])
    assert [t.external_id for t in by_ticket.tickets] == [str(first)]
    assert by_ticket.customer == by_account.customer
    assert [t.owner_login for t in by_prefixed.tickets] == ["agent1"]
    # A prefix of the account is another account; an issue that is not there is nobody.
    assert (await redmine_source.lookup(CallerKey(KeyKind.ACCOUNT, "70003"))).tickets == ()
    assert (await redmine_source.lookup(CallerKey(KeyKind.TICKET, "999999"))).tickets == ()


def report(
    call_id: str, issue: int | None, agent: str | None, note: str | None = None
) -> CallReport:
    ended = datetime.now(UTC)
    return CallReport(
        call_id=call_id,
        started_at=ended - timedelta(minutes=4),
        answered_at=ended - timedelta(minutes=3, seconds=48),
        ended_at=ended,
        route="sticky",
        reason="ticket_owner",
        caller_number="+74951000041",
        ticket=None if issue is None else str(issue),
        agent_login=agent,
        note=note,
    )


async def test_a_call_leaves_one_note_written_as_the_agent(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    issue = desk.open_issue("No dial tone", assignee="agent3", account="700041")
    call = report("1796200000.41", issue, "agent3", note="Reset the ONT.\nCall back {{toc}} at 6")

    await redmine_source.record_call(call)
    await redmine_source.record_call(call)  # repeated after a timeout: changes nothing

    notes = desk.notes(issue)
    assert len(notes) == 1
    author, text = notes[0]
    assert author == "Agent No 3"
    assert "sticky-router call 1796200000.41" in text
    assert "Agent: agent3" in text
    assert "Route: sticky (ticket owner)" in text
    assert "answered after 12 s, talked 3 min 48 s" in text
    assert "> Reset the ONT." in text
    assert "{{toc}}" not in text  # a Redmine macro in an agent's words stays text


async def test_an_agent_redmine_does_not_know_is_written_by_the_key_user(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    issue = desk.open_issue("Static IP", account="700042")

    await redmine_source.record_call(report("1796200000.42", issue, "agent9"))
    await redmine_source.record_call(report("1796200000.43", None, "agent3"))  # no issue: nothing

    assert [(author, "agent9" in text) for author, text in desk.notes(issue)] == [
        ("Redmine Admin", True)
    ]


async def test_a_wrong_key_is_refused_and_never_repeated(redmine: LocalRedmine) -> None:
    wrong = RedmineTicketSource(redmine_settings(redmine, api_key="0" * 39 + "s3cr3t"))
    try:
        with pytest.raises(TicketSourceError) as raised:
            await wrong.changes_since(None)
    finally:
        await wrong.close()
    assert raised.value.failure is SourceFailure.REFUSED
    assert "401" in str(raised.value)
    assert "s3cr3t" not in str(raised.value) + repr(wrong)


async def test_a_field_redmine_lacks_is_named_in_the_error(redmine: LocalRedmine) -> None:
    fields = RedmineFields(phone="Telephone")
    source = RedmineTicketSource(redmine_settings(redmine, fields=fields))
    try:
        with pytest.raises(TicketSourceError) as raised:
            await source.lookup(number("+74951000051"))
    finally:
        await source.close()
    assert raised.value.failure is SourceFailure.INVALID
    assert "'Telephone'" in str(raised.value)


async def test_a_field_that_is_no_filter_is_refused_not_searched(redmine: LocalRedmine) -> None:
    """Redmine ignores a `cf_N` filter on such a field and would list everybody's issues."""
    fields = RedmineFields(account="Contract")
    source = RedmineTicketSource(redmine_settings(redmine, fields=fields))
    try:
        with pytest.raises(TicketSourceError) as raised:
            await source.lookup(CallerKey(KeyKind.ACCOUNT, "700061"))
    finally:
        await source.close()
    assert raised.value.failure is SourceFailure.INVALID
    assert "not used as a filter: 'Contract'" in str(raised.value)


async def test_a_call_whose_id_begins_another_calls_id_still_gets_its_note(
    desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    """Asterisk's ids grow a digit (`....4`, then `....41`): one call's note is not another's."""
    issue = desk.open_issue("Two calls", assignee="agent3", account="700071")

    await redmine_source.record_call(report("1796200000.41", issue, "agent3"))
    await redmine_source.record_call(report("1796200000.4", issue, "agent3"))

    texts = [text for _, text in desk.notes(issue)]
    assert len(texts) == 2
    assert "1796200000.41" in texts[0]
    assert "1796200000.4)" in texts[1]
