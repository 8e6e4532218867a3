"""docker/compose.yaml checked by Compose itself, statically (no Docker engine here): Debian's
docker-compose validates the file against its schema and resolves every variable from
docker/.env.example, as `docker compose up` would, without building or starting anything.

Debian 12 ships Compose 1.29, whose schema predates the top-level `name:` of the Compose
specification (Compose 2 reads it): that one line is checked here and left out of the copy
Compose 1.29 validates. Everything else is the file as users get it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.wheel import ROOT

COMPOSE = ROOT / "docker" / "compose.yaml"
EXAMPLE_ENV = ROOT / "docker" / ".env.example"
SERVICES = {"postgres", "asterisk", "migrate", "router", "agi"}


def compose_config(
    tmp_path: Path, environment: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on a copy laid out like the checkout (the build contexts are
    `..`, which Compose 1.29 requires to exist), with `environment` as its env file."""
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    text = COMPOSE.read_text()
    (docker / "compose.yaml").write_text(re.sub(r"^name: .*\n", "", text, flags=re.M))
    (docker / "env").write_text(environment)
    for dockerfile in ("Dockerfile", "asterisk.Dockerfile"):
        shutil.copy(ROOT / "docker" / dockerfile, docker / dockerfile)
    return subprocess.run(
        ["docker-compose", "--project-directory", str(docker), "-f", str(docker / "compose.yaml"),
         "--env-file", str(docker / "env"), "config", *arguments],
        capture_output=True, text=True, check=False, timeout=60,
        env={"PATH": "/usr/bin:/bin"},  # nothing of this shell's environment is interpolated
    )  # fmt: skip


def test_the_project_is_named_for_compose_2() -> None:
    assert re.search(r"^name: sticky-router$", COMPOSE.read_text(), re.M)


def test_the_file_is_valid_with_the_example_settings(tmp_path: Path) -> None:
    checked = compose_config(tmp_path, EXAMPLE_ENV.read_text())
    assert checked.returncode == 0, checked.stderr
    resolved = checked.stdout
    assert "STICKY_DATABASE_URL: postgresql://sticky:change-me-postgres@127.0.0.1:55433/sticky" in (
        resolved
    )
    assert "SEED_DEMO: once" in resolved  # the example's choice, not the file's default (no)
    services = compose_config(tmp_path, EXAMPLE_ENV.read_text(), "--services")
    assert set(services.stdout.split()) == SERVICES


@pytest.mark.parametrize(
    "missing",
    ["POSTGRES_PASSWORD", "STICKY_ARI_PASSWORD", "STICKY_AMI_PASSWORD", "STICKY_AGI_SECRET"],
)
def test_a_missing_secret_is_refused_with_its_name(tmp_path: Path, missing: str) -> None:
    """No secret has a default: without it Compose stops and says which one to set."""
    settings = "".join(
        line + "\n"
        for line in EXAMPLE_ENV.read_text().splitlines()
        if not line.startswith(f"{missing}=")
    )
    refused = compose_config(tmp_path, settings)
    assert refused.returncode != 0
    assert f"set {missing} in docker/.env" in refused.stderr


def test_every_sticky_setting_the_file_passes_is_one_the_router_reads() -> None:
    """A misspelt STICKY_* key would be ignored by the router without a word."""
    known = set(re.findall(r"`(STICKY_[A-Z_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    passed = set(re.findall(r"^\s+(STICKY_[A-Z_]+):", COMPOSE.read_text(), re.M))
    assert {"STICKY_DATABASE_URL", "STICKY_ARI_PASSWORD"} <= passed & known  # both lists are read
    assert passed - known == set()
