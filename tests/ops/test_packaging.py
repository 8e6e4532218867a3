"""What an operator installs: the wheel, built from exactly the files the Docker image's build
context lets in (docker/Dockerfile and its dockerignore), installed away from this checkout,
then its `sticky-router` migrates an empty PostgreSQL, loads the demo and decides a call."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from sticky_router.sandbox.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"


def wheel_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])


def copied_by_the_image() -> set[str]:
    build_stage = DOCKERFILE.read_text().split("FROM ${PYTHON_IMAGE}\n")[0]
    return {m for m in re.findall(r"^COPY (\S+) \1$", build_stage, re.M)}


def let_in_by_the_dockerignore() -> set[str]:
    return set(re.findall(r"^!(\S+?)/?$", DOCKERIGNORE.read_text(), re.M))


def test_the_image_copies_every_package_the_wheel_holds_and_nothing_else() -> None:
    wanted = wheel_packages() | {"dialplan"}
    assert copied_by_the_image() == wanted
    assert let_in_by_the_dockerignore() == wanted | {"pyproject.toml", "README.md"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's build context replayed in a throwaway directory, its wheel built and
    installed into a directory of its own (dependencies come from this virtualenv)."""
    work = tmp_path_factory.mktemp("wheel")
    context = work / "context"
    context.mkdir()
    for name in let_in_by_the_dockerignore():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(work / "dist"), str(context)],
                   check=True, timeout=300)  # fmt: skip
    [wheel] = (work / "dist").glob("sticky_router-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(work / "site"), str(wheel)],
                   check=True, timeout=300)  # fmt: skip
    return work


def run_installed(work: Path, *arguments: str, dsn: str = "") -> subprocess.CompletedProcess[str]:
    """The installed `sticky-router`, with no trace of this checkout on its path: -S skips the
    virtualenv's .pth files (its editable install), so only the wheel and the dependencies."""
    dependencies = sysconfig.get_paths()["purelib"]
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{work / 'site'}:{dependencies}",
        "STICKY_DATABASE_URL": dsn,
        "STICKY_LOG_LEVEL": "warning",
    }
    program = "import sys; from sticky_router.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-S", "-c", program, *arguments], cwd=work, env=environment,
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_the_wheel_holds_the_packages_the_dialplan_and_the_migrations(installed: Path) -> None:
    [wheel] = (installed / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if "/" in name and ".dist-info" not in name}
    assert top == wheel_packages()
    assert "sticky_router/dialplan/sticky-router.conf" in names
    assert any(n.startswith("migrations/versions/") and n.endswith(".py") for n in names)
    assert "sticky_router/sandbox/redmine_setup.rb" in names


def test_the_installed_command_migrates_seeds_and_decides(
    installed: Path, empty_postgres: LocalPostgres
) -> None:
    dsn = empty_postgres.dsn
    for command in (["migrate"], ["seed-demo"]):
        done = run_installed(installed, *command, dsn=dsn)
        assert done.returncode == 0, done.stderr
    # docker/compose.yaml's SEED_DEMO=once on a later `up`: the data stays as it is.
    again = run_installed(installed, "seed-demo", "--if-empty", dsn=dsn)
    assert again.returncode == 0, again.stderr
    assert "demo not loaded: the database has agents already" in again.stdout
    decided = run_installed(installed, "decide", "--cli", "+79123456701", "--json", dsn=dsn)
    assert decided.returncode == 0, decided.stderr
    decision = json.loads(decided.stdout)
    assert decision["route"] == "sticky"
    assert [c["agent"] for c in decision["candidates"]][:1] == ["agent2"]


def test_the_check_sees_a_checkout_import(installed: Path) -> None:
    """The installed command really runs from the wheel: a module only the checkout has is
    not importable there."""
    probe = run_installed(installed, "--help")
    assert probe.returncode == 0, probe.stderr
    program = [sys.executable, "-S", "-c", "import testkit"]
    environment = {"PYTHONPATH": f"{installed / 'site'}:{sysconfig.get_paths()['purelib']}"}
    missing = subprocess.run(program, cwd=installed, env=environment, capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert missing.returncode != 0
    assert "No module named 'testkit'" in missing.stderr
