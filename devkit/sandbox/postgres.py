"""A throwaway PostgreSQL cluster of our own: for the test suite, the benchmark and the sandbox.

It never touches a server someone else started: initdb into a directory we own, listen on
loopback on a free port, sockets in our own directory, trust authentication (loopback only).
When the server binaries are missing and we are root, the Debian package is installed first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devkit.sandbox.debian import PackageUnavailable, apt_install

POSTGRES_ROOTS = (Path("/usr/lib/postgresql"),)
SYSTEM_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing and cannot be installed from here."""


def cache_dir() -> Path:
    """Where sandbox and benchmark data live between runs, outside any checkout. As root the
    server runs as `postgres`, which cannot enter /root, hence /var/cache."""
    if os.geteuid() == 0:
        return Path("/var/cache/sticky-router")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sticky-router"


def find_bindir() -> Path | None:
    """The newest installed server version's bin directory (Debian layout)."""
    for root in POSTGRES_ROOTS:
        if not root.is_dir():
            continue
        versions = sorted(
            (p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    return None


def ensure_server_binaries() -> Path:
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    try:
        apt_install("postgresql", "PostgreSQL server binaries are missing (no initdb)")
    except PackageUnavailable as error:
        raise PostgresUnavailable(str(error)) from None
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("apt installed 'postgresql' but initdb is still missing")
    return bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalPostgres:
    """One cluster in `data_dir`. `start()` initialises it on first use and reuses it after."""

    data_dir: Path
    port: int
    database: str = "sticky"
    bindir: Path | None = None
    shared_buffers: str = "256MB"  # the benchmark asks for more

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "sockets"

    @property
    def dsn(self) -> str:
        return f"postgresql://{SYSTEM_USER}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server tool; as root it runs as the postgres user, since initdb refuses root."""
        command = [str(self._bin(args[0])), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        try:
            return subprocess.run(command, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as error:
            said = error.stderr.strip() or error.stdout.strip()
            raise PostgresUnavailable(f"{args[0]} failed in {self.data_dir}: {said}") from None

    def _bin(self, tool: str) -> Path:
        if self.bindir is None:
            self.bindir = ensure_server_binaries()
        return self.bindir / tool

    def prepare_directories(self) -> None:
        """The data and socket directories, owned by the server's user when we are root."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, SYSTEM_USER, SYSTEM_USER)
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)

    @property
    def cluster(self) -> Path:
        return self.data_dir / "cluster"

    def initdb(self) -> None:
        """A new, empty cluster in `cluster` (trust authentication: loopback only)."""
        self.prepare_directories()
        self._run(
            "initdb", "-D", str(self.cluster), "-U", SYSTEM_USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        self.prepare_directories()
        cluster = self.cluster
        if not (cluster / "PG_VERSION").exists():
            self.initdb()
        if self.is_running():
            self._create_database()
            return
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c shared_buffers={self.shared_buffers} -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(cluster), "-o", options, "-l", str(self.data_dir / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self._create_database()

    def _create_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            result = subprocess.run(
                [str(self._bin("psql")), "-h", "127.0.0.1", "-p", str(self.port), "-U", SYSTEM_USER,
                 "-d", "postgres", "-tAc",
                 f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"the cluster never accepted connections: {result.stderr}"
                )
            time.sleep(0.2)
        if result.stdout.strip() != "1":
            subprocess.run(
                [str(self._bin("createdb")), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", SYSTEM_USER, self.database],
                check=True, capture_output=True, text=True,
            )  # fmt: skip

    def is_running(self) -> bool:
        """A server already runs on this data directory (a sandbox left up with --keep)."""
        if not (self.cluster / "postmaster.pid").exists():
            return False
        try:
            self._run("pg_ctl", "-D", str(self.cluster), "status")
        except PostgresUnavailable:
            return False
        return True

    def stop(self) -> None:
        cluster = self.cluster
        if (cluster / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable):
                self._run("pg_ctl", "-D", str(cluster), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[LocalPostgres]:
    """A cluster that exists for the duration of the `with` block and leaves nothing behind."""
    with tempfile.TemporaryDirectory(prefix="sticky-pg-") as directory:
        server = LocalPostgres(data_dir=Path(directory), port=free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()
