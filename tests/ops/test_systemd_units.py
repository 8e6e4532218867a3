"""The systemd units operators install (ops/systemd/), checked by systemd's own
`systemd-analyze verify`: every key known, the command there, the stop time longer than the
router's drain."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sticky_router.process.journaling import STOP_DRAIN_SECONDS
from sticky_router.process.router import DRAIN_SECONDS

UNITS = Path(__file__).resolve().parents[2] / "ops" / "systemd"
INSTALLED = "/opt/sticky-router/bin/sticky-router"  # where README's install puts the command
HERE = str(Path(sys.executable).with_name("sticky-router"))  # this checkout's, to verify against
NAMES = ("sticky-router.service", "sticky-router-agi.service")


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool is not None, "systemd-analyze is missing (Debian's systemd package)"
    return subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, check=False, timeout=60
    )


def here(name: str, directory: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this checkout's command (verify wants it to exist)."""
    unit = directory / name
    unit.write_text((text or (UNITS / name).read_text()).replace(INSTALLED, HERE))
    return unit


@pytest.mark.parametrize("name", NAMES)
def test_systemd_accepts_the_unit_without_a_single_warning(name: str, tmp_path: Path) -> None:
    checked = verify(here(name, tmp_path))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_the_check_sees_a_misspelt_hardening_option(tmp_path: Path) -> None:
    """`verify` only warns about an unknown key (and the option is then silently off): the
    test above fails on any output, which this proves it gets."""
    text = (UNITS / NAMES[0]).read_text().replace("ProtectClock=yes", "ProtectClokc=yes")
    checked = verify(here(NAMES[0], tmp_path, text))
    assert "ProtectClokc" in checked.stdout + checked.stderr


@pytest.mark.parametrize(("name", "command"), [(NAMES[0], "run"), (NAMES[1], "agi")])
def test_the_unit_starts_a_command_the_cli_has(name: str, command: str) -> None:
    exec_start = re.search(r"^ExecStart=(\S+) (\S+)$", (UNITS / name).read_text(), re.M)
    assert exec_start is not None
    assert exec_start.groups() == (INSTALLED, command)
    helped = subprocess.run([HERE, command, "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0, helped.stderr


@pytest.mark.parametrize("name", NAMES)
def test_systemd_waits_for_the_drain_before_killing(name: str) -> None:
    stop = re.search(r"^TimeoutStopSec=(\d+)$", (UNITS / name).read_text(), re.M)
    assert stop is not None
    assert int(stop.group(1)) > DRAIN_SECONDS + STOP_DRAIN_SECONDS
