"""Installing a missing Debian package for the sandbox and the tests (root only)."""

from __future__ import annotations

import os
import subprocess


class PackageUnavailable(RuntimeError):
    """The package is missing and cannot be installed from here."""


def apt_install(package: str, why: str) -> None:
    """Install `package` with apt, or say in one sentence what to do instead. `why` names what
    is missing ("PostgreSQL server binaries are missing"), for that sentence."""
    if os.geteuid() != 0:
        raise PackageUnavailable(
            f"{why}; install the '{package}' package, or run as root so it can be installed"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
        check=True,
        env=env,
    )
