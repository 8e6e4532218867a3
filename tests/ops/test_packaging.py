"""What an operator installs: the wheel, built from exactly the files the Docker image's build
context lets in (docker/Dockerfile and its dockerignore), installed away from this checkout,
then its `sticky-router` migrates an empty PostgreSQL and decides a call on the demo data (which
only a checkout's development kit can load: the wheel holds none of it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from devkit.sandbox.postgres import LocalPostgres, throwaway_postgres
from tests.ops.wheel import (
    ROOT,
    copied_by_the_image,
    let_in_by_the_dockerignore,
    run_installed,
    seed_demo_from_the_checkout,
    wheel_packages,
)

ASTERISK_DOCKERFILE = ROOT / "docker" / "asterisk.Dockerfile"
ASTERISK_DOCKERIGNORE = ROOT / "docker" / "asterisk.Dockerfile.dockerignore"


def test_the_image_copies_every_package_the_wheel_holds_and_nothing_else() -> None:
    wanted = wheel_packages() | {"dialplan"}
    assert copied_by_the_image() == wanted
    assert let_in_by_the_dockerignore() == wanted | {"pyproject.toml", "README.md"}


def test_the_wheel_holds_the_packages_the_dialplan_and_the_migrations(installed: Path) -> None:
    [wheel] = (installed / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if "/" in name and ".dist-info" not in name}
    assert top == wheel_packages() == {"sticky_router"}
    assert "sticky_router/dialplan/sticky-router.conf" in names
    assert any(
        n.startswith("sticky_router/migrations/versions/") and n.endswith(".py") for n in names
    )
    # The development kit (sandbox, demo data, synthetic history) stays in the checkout: none
    # of its files is in the wheel, under any folder.
    kit = {p.name for p in (ROOT / "devkit").rglob("*") if p.is_file() and p.suffix != ".pyc"} - {
        "__init__.py"
    }
    assert {"demo.py", "stack.py", "redmine_setup.rb"} <= kit
    assert [n for n in names if n.rsplit("/", 1)[-1] in kit] == []
    assert "sticky_router/web/static/agent.js" in names


def test_the_install_puts_one_package_into_site_packages(installed: Path) -> None:
    """Nothing generic (web, agi, migrations) that could clash with another project's."""
    placed = {p.name for p in (installed / "site").iterdir() if p.name != "bin"}
    assert {n for n in placed if not n.endswith(".dist-info")} == {"sticky_router"}


def test_the_installed_command_migrates_and_decides(
    installed: Path, empty_postgres: LocalPostgres
) -> None:
    dsn = empty_postgres.dsn
    migrated = run_installed(installed, "migrate", dsn=dsn)
    assert migrated.returncode == 0, migrated.stderr
    seeded = seed_demo_from_the_checkout(dsn)
    assert seeded.returncode == 0, seeded.stderr
    decided = run_installed(installed, "decide", "--cli", "+79123456701", "--json", dsn=dsn)
    assert decided.returncode == 0, decided.stderr
    decision = json.loads(decided.stdout)
    assert decision["route"] == "sticky"
    assert [c["agent"] for c in decision["candidates"]][:1] == ["agent2"]


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["seed-demo"], "The demo data"),
        (["demo"], "The demo"),
        (["generate-history", "--agents", "4", "--days", "1"], "The synthetic history"),
    ],
)
def test_the_installed_command_says_where_the_development_kit_lives(
    installed: Path, empty_postgres: LocalPostgres, command: list[str], what: str
) -> None:
    """An operator's installation has no sandbox or demo: one sentence says so, exit 2."""
    refused = run_installed(installed, *command, dsn=empty_postgres.dsn)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{what} comes with a checkout of sticky-router's source" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_installed_run_without_an_asterisk_says_where_the_sandbox_lives(
    installed: Path,
) -> None:
    # Neither STICKY_ARI_URL nor STICKY_DATABASE_URL: the sandbox is what `run` would start.
    refused = run_installed(installed, "run", dsn=None)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "The local sandbox comes with a checkout of sticky-router's source" in refused.stderr


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


def asterisk_image_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY in docker/asterisk.Dockerfile."""
    text = ASTERISK_DOCKERFILE.read_text().replace("\\\n", " ")
    copies = []
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, destination = line.split()
        copies.append((sources, destination))
    return copies


def test_the_asterisk_images_render_step_runs_from_its_own_build_context(tmp_path: Path) -> None:
    """docker/asterisk.Dockerfile's COPY lines replayed from what its dockerignore lets in, into
    a stand-in for /opt/sticky-router; its render step then runs there on the standard library
    alone (-I -S: no checkout, no virtualenv) and writes a configuration with the dialplan."""
    allowed = re.findall(r"^!(\S+)$", ASTERISK_DOCKERIGNORE.read_text(), re.M)
    context = tmp_path / "context"
    for name in allowed:
        source = ROOT / name.rstrip("/")
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, context / name)
    image = tmp_path / "image"
    for sources, destination in asterisk_image_copies():
        target = image / destination.removeprefix("/opt/sticky-router/")
        for source in sources:
            origin = context / source.rstrip("/")
            assert origin.exists(), f"{source}: not in the build context the dockerignore allows"
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, target / origin.name)
    instance = tmp_path / "instance"
    secrets = {"STICKY_ARI_PASSWORD": "ari-secret-1", "STICKY_AMI_PASSWORD": "ami-secret-1",
               "STICKY_AGI_SECRET": "agi-secret-0123456789", "PATH": "/usr/bin:/bin"}  # fmt: skip
    rendered = subprocess.run(
        [sys.executable, "-I", "-S", str(image / "docker" / "render_asterisk_conf.py"),
         "--instance", str(instance), "--modules-dir", str(tmp_path / "modules")],
        env=secrets, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert (instance / "etc" / "ari.conf").is_file()
    assert (instance / "etc" / "sticky-router-dialplan" / "sticky-router.conf").is_file()
    assert "ari-secret-1" not in rendered.stdout + rendered.stderr
    # The image's prompts step, as its RUN line has it: the script alone, standard library only.
    prompts = subprocess.run(
        [sys.executable, "-I", "-S", str(image / "sticky_router/process/prompts.py"),
         "--to", str(tmp_path / "sounds")],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert prompts.returncode == 0, prompts.stderr
    assert (tmp_path / "sounds/ru/sticky-router/connecting-to-your-agent.wav").stat().st_size
    assert "prompts.py --to /usr/share/asterisk/sounds" in ASTERISK_DOCKERFILE.read_text()


def test_the_compose_one_shot_loads_the_demo_with_the_kit_it_lends(
    installed: Path, tmp_path: Path
) -> None:
    """docker/compose.yaml's `migrate` lends the checkout's devkit/ to the router image (which
    holds only the wheel) for SEED_DEMO: the same mount and PYTHONPATH replayed on the installed
    wheel load the demo."""
    compose = (ROOT / "docker" / "compose.yaml").read_text()
    migrate = compose[compose.index("\n  migrate:") : compose.index("\n  router:")]
    [python_path] = re.findall(r"^\s+PYTHONPATH: (\S+)$", migrate, re.M)
    [mount] = re.findall(r"^\s+- \.\./devkit:(\S+):ro$", migrate, re.M)
    assert mount == f"{python_path}/devkit"
    lent = tmp_path / python_path.lstrip("/")
    shutil.copytree(ROOT / "devkit", lent / "devkit", ignore=shutil.ignore_patterns("__pycache__"))
    with throwaway_postgres() as server:
        for command in (["migrate"], ["seed-demo", "--if-empty"]):
            done = run_installed(installed, *command, dsn=server.dsn, lent_kit=lent)
            assert done.returncode == 0, done.stderr
        assert "demo loaded: 4 agents" in done.stdout
