"""The two Dockerfiles against the rules of hadolint that matter for them (hadolint itself is
not packaged for Debian, and nothing here may be downloaded): base images pinned, apt without
recommends and without its lists left behind, pip without a cache, COPY rather than ADD, exec
form for what starts the container, stages named before they are copied from, and the router
image's last USER not root. The build contexts themselves are replayed in test_packaging.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.ops.wheel import ROOT

DOCKERFILES = ("Dockerfile", "asterisk.Dockerfile")


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Each instruction with its continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            keyword, _, arguments = " ".join(pending).partition(" ")
            found.append(Instruction(start, keyword.upper(), arguments.strip()))
            pending = []
    return found


def pinned(image: str) -> bool:
    """A tag other than latest, or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def problems(text: str) -> list[str]:
    steps = instructions(text)
    arguments: dict[str, str] = {}
    stages: set[str] = set()
    said: list[str] = []
    env = " ".join(step.arguments for step in steps if step.keyword == "ENV")
    for step in steps:
        where = f"line {step.line}"
        if step.keyword == "ARG" and "=" in step.arguments:
            name, _, value = step.arguments.partition("=")
            arguments[name] = value
        elif step.keyword == "FROM":
            image, *rest = step.arguments.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: arguments.get(m.group(1), ""), image)
            if not pinned(image):
                said.append(f"{where}: FROM {image or step.arguments}: pin a tag or digest")
            if len(rest) == 2 and rest[0].upper() == "AS":
                stages.add(rest[1])
        elif step.keyword == "ADD":
            said.append(f"{where}: ADD: use COPY")
        elif step.keyword == "COPY" and (source := re.match(r"--from=(\S+)", step.arguments)):
            if source.group(1) not in stages:
                said.append(f"{where}: COPY --from={source.group(1)}: no such stage before it")
        elif step.keyword in ("ENTRYPOINT", "CMD") and not step.arguments.startswith("["):
            said.append(f"{where}: {step.keyword}: use the exec (JSON) form")
        elif step.keyword == "RUN":
            said += [f"{where}: {p}" for p in run_problems(step.arguments, env)]
    return said


def run_problems(command: str, env: str) -> list[str]:
    said = []
    if re.search(r"(^|&&|;)\s*cd\s", command):
        said.append("cd in RUN: use WORKDIR")
    if "apt-get install" in command:
        if not re.search(r"\s-y\b|--yes|--assume-yes", command):
            said.append("apt-get install without -y")
        if "--no-install-recommends" not in command:
            said.append("apt-get install without --no-install-recommends")
        if "rm -rf /var/lib/apt/lists/*" not in command:
            said.append("apt lists left in the layer: rm -rf /var/lib/apt/lists/*")
    if re.search(r"pip\S* install", command) and not (
        "--no-cache-dir" in command or "PIP_NO_CACHE_DIR=1" in env
    ):
        said.append("pip install keeps its cache: --no-cache-dir or PIP_NO_CACHE_DIR=1")
    return said


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_dockerfile_keeps_the_rules(name: str) -> None:
    assert problems((ROOT / "docker" / name).read_text()) == []


def test_the_router_image_runs_as_a_user_of_its_own() -> None:
    steps = instructions((ROOT / "docker" / "Dockerfile").read_text())
    users = [step.arguments for step in steps if step.keyword == "USER"]
    assert users, "no USER: the router would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_rules_catch_what_they_name() -> None:
    """Guards the guard: a Dockerfile breaking every rule is told each one, at its line."""
    broken = """\
ARG BASE=python
FROM ${BASE} AS build
FROM debian:latest
# a comment
ADD app.tar /app
COPY --from=builder /x /x
RUN cd /app && apt-get update && apt-get install \\
        curl
RUN pip install .
CMD run --now
"""
    assert problems(broken) == [
        "line 2: FROM python: pin a tag or digest",
        "line 3: FROM debian:latest: pin a tag or digest",
        "line 5: ADD: use COPY",
        "line 6: COPY --from=builder: no such stage before it",
        "line 7: cd in RUN: use WORKDIR",
        "line 7: apt-get install without -y",
        "line 7: apt-get install without --no-install-recommends",
        "line 7: apt lists left in the layer: rm -rf /var/lib/apt/lists/*",
        "line 9: pip install keeps its cache: --no-cache-dir or PIP_NO_CACHE_DIR=1",
        "line 10: CMD: use the exec (JSON) form",
    ]
