"""A support desk in a sandbox Redmine, made through Redmine's REST API as its people would:
a project with the Support tracker, the agents as Redmine users (their logins are the router's
agent names) who may be assigned issues, and subscribers' issues with the custom fields the
router reads (devkit/sandbox/redmine_setup.rb creates those fields)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from devkit.sandbox.redmine import LocalRedmine

PROJECT = "support"


@dataclass
class SupportDesk:
    redmine: LocalRedmine
    project_id: int
    tracker_id: int
    users: dict[str, int]  # login -> Redmine user id
    fields: dict[str, int] = field(default_factory=dict)  # custom field name -> id

    def open_issue(
        self,
        subject: str,
        *,
        assignee: str | None = None,
        phone: str | None = None,
        account: str | None = None,
        customer: str | None = None,
        customer_class: str | None = None,
        last_faults: str | None = None,
        due: date | None = None,
    ) -> int:
        values = {
            "Phone": phone, "Account": account, "Customer": customer,
            "Customer class": customer_class, "Last faults": last_faults,
        }  # fmt: skip
        issue: dict[str, object] = {
            "project_id": self.project_id,
            "tracker_id": self.tracker_id,
            "subject": subject,
            "custom_fields": [
                {"id": self.fields[name], "value": value}
                for name, value in values.items()
                if value is not None
            ],
        }
        if assignee is not None:
            issue["assigned_to_id"] = self.users[assignee]
        if due is not None:
            issue["due_date"] = due.isoformat()
        answer = self.redmine.api("POST", "/issues.json", {"issue": issue})
        return int(answer["issue"]["id"])

    def update_issue(self, issue_id: int, **changes: object) -> None:
        self.redmine.api("PUT", f"/issues/{issue_id}.json", {"issue": changes})

    def status_id(self, name: str) -> int:
        statuses = self.redmine.api("GET", "/issue_statuses.json")["issue_statuses"]
        return next(int(s["id"]) for s in statuses if s["name"] == name)

    def notes(self, issue_id: int) -> list[tuple[str, str]]:
        """(author's name, text) of every note on the issue, oldest first."""
        answer = self.redmine.api("GET", f"/issues/{issue_id}.json?include=journals")
        return [
            (journal["user"]["name"], journal["notes"])
            for journal in answer["issue"]["journals"]
            if journal.get("notes")
        ]


def seed_support_desk(redmine: LocalRedmine, agents: Iterable[str]) -> SupportDesk:
    """The project and the agents' users (Developer role: assignable); safe on a fresh Redmine."""
    trackers = redmine.api("GET", "/trackers.json")["trackers"]
    tracker_id = next(int(t["id"]) for t in trackers if t["name"] == "Support")
    project = redmine.api(
        "POST", "/projects.json",
        {"project": {"name": "Support", "identifier": PROJECT, "tracker_ids": [tracker_id],
                     "is_public": False}},
    )["project"]  # fmt: skip
    roles = redmine.api("GET", "/roles.json")["roles"]
    developer = next(int(r["id"]) for r in roles if r["name"] == "Developer")
    users: dict[str, int] = {}
    for number, login in enumerate(agents, start=1):
        user = redmine.api(
            "POST", "/users.json",
            {"user": {"login": login, "firstname": "Agent", "lastname": f"No {number}",
                      "mail": f"{login}@support.example.net", "generate_password": True}},
        )["user"]  # fmt: skip
        users[login] = int(user["id"])
        redmine.api(
            "POST", f"/projects/{project['id']}/memberships.json",
            {"membership": {"user_id": user["id"], "role_ids": [developer]}},
        )  # fmt: skip
    fields = {
        str(f["name"]): int(f["id"])
        for f in redmine.api("GET", "/custom_fields.json")["custom_fields"]
        if f["customized_type"] == "issue"
    }
    return SupportDesk(redmine, int(project["id"]), tracker_id, users, fields)
