"""The sandbox's ticket system: `STICKY_TICKET_SOURCE=redmine ./scripts/run` without a Redmine
URL of yours starts a local Redmine (Debian's package) holding the demo subscribers' issues, so
the whole path (mirror, owner precedence, pop with the issue's link, a note after each call) can
be tried on one machine. Any other choice is taken from the configuration as it stands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import SecretStr

from devkit.sandbox.asterisk_config import AGENTS
from devkit.sandbox.redmine import throwaway_redmine
from devkit.sandbox.redmine_desk import SupportDesk, seed_support_desk
from sticky_router.process.config import Config
from sticky_router.process.ticket_source import TicketSourceSettings


@dataclass(frozen=True)
class SandboxTickets:
    settings: TicketSourceSettings | None
    how_to_use: str = ""  # what the console says about it


@contextlib.contextmanager
def sandbox_ticket_source(config: Config) -> Iterator[SandboxTickets]:
    if config.ticket_source != "redmine" or config.ticket_source_url is not None:
        yield SandboxTickets(TicketSourceSettings.from_config(config))
        return
    print("STICKY_TICKET_SOURCE=redmine without a URL: starting a local Redmine ...")
    with throwaway_redmine() as redmine:
        ivan = seed_demo_issues(seed_support_desk(redmine, AGENTS))
        local = config.model_copy(
            update={"ticket_source_url": redmine.url,
                    "ticket_source_token": SecretStr(redmine.api_key)}
        )  # fmt: skip
        yield SandboxTickets(
            TicketSourceSettings.from_config(local),
            f"\nRedmine: {redmine.url}/  (sign in as admin / {redmine.admin_password}); Ivan's "
            f"issue #{ivan} is agent3's, so under target_precedence=owner_first his calls ring "
            "agent3, and every call leaves a note on the issue.",
        )


def seed_demo_issues(desk: SupportDesk) -> int:
    """The demo's subscribers (devkit/demo.py) as Redmine knows them; returns Ivan's."""
    ivan = desk.open_issue(
        "No internet since the storm", assignee="agent3", phone="+79123456701",
        account="100201", customer="Ivan Petrov", last_faults="PPPoE timeouts since 09:12",
    )  # fmt: skip
    desk.open_issue(
        "Wi-Fi drops in the evening", phone="+79123456703", customer="Sergey Volkov",
        account="100203",
    )  # fmt: skip
    return ivan
