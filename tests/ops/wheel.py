"""The wheel as an operator gets it: built from exactly the files the Docker image's build
context lets in (docker/Dockerfile and its dockerignore), installed into a directory of its own,
and its `sticky-router` run with no trace of this checkout on the path."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

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


def build_and_install(work: Path) -> None:
    """The image's build context replayed in `work`/context, its wheel built into `work`/dist
    and installed into `work`/site (dependencies come from this virtualenv)."""
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


def installed_command(*arguments: str) -> list[str]:
    """The installed `sticky-router`: -S skips the virtualenv's .pth files (its editable
    install), so only the wheel and the dependencies are importable."""
    program = "import sys; from sticky_router.process.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-S", "-c", program, *arguments]


def installed_environment(work: Path, **settings: str) -> dict[str, str]:
    """A clean environment (nothing of the caller's STICKY_* leaks in) with `settings` added."""
    dependencies = sysconfig.get_paths()["purelib"]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{work / 'site'}:{dependencies}",
        "STICKY_LOG_LEVEL": "warning",
        **settings,
    }


def run_installed(
    work: Path, *arguments: str, dsn: str | None = "", lent_kit: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command; `dsn` None leaves STICKY_DATABASE_URL unset, `lent_kit` puts a
    folder holding a copy of devkit/ on the path (as docker/compose.yaml's migrate does)."""
    environment = installed_environment(work)
    if dsn is not None:
        environment["STICKY_DATABASE_URL"] = dsn
    if lent_kit is not None:
        environment["PYTHONPATH"] += f":{lent_kit}"
    return subprocess.run(
        installed_command(*arguments), cwd=work, env=environment,
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def seed_demo_from_the_checkout(dsn: str) -> subprocess.CompletedProcess[str]:
    """The demo data is the development kit's (devkit/, never in the wheel): loaded by this
    checkout's `sticky-router seed-demo`, as a developer would, into the installed product's
    database."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STICKY_DATABASE_URL": dsn,
                   "STICKY_LOG_LEVEL": "warning"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "sticky_router.process.cli", "seed-demo"], cwd=ROOT,
        env=environment, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
