"""A throwaway PgBouncer in transaction mode in front of a throwaway PostgreSQL (issue 17).

Transaction mode is how operators run PgBouncer in front of many router and FastAGI processes:
a server session serves whichever client has a transaction to run, so a client's consecutive
transactions land on different sessions. The sandbox's pool is kept small (two server sessions
by default) so that every test walks through that reassignment all the time.

Loopback only, trust authentication (like the throwaway PostgreSQL), everything in a temporary
directory removed afterwards. PgBouncer refuses to run as root, so as root it runs as `postgres`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devkit.sandbox.debian import PackageUnavailable, apt_install
from devkit.sandbox.postgres import SYSTEM_USER, LocalPostgres, free_port

BINARY = Path("/usr/sbin/pgbouncer")


class PgBouncerUnavailable(RuntimeError):
    """PgBouncer is missing and cannot be installed from here, or did not start."""


@dataclass(frozen=True)
class LocalPgBouncer:
    directory: Path
    port: int
    database: str
    user: str = SYSTEM_USER

    @property
    def dsn(self) -> str:
        """STICKY_DATABASE_URL for a router, with STICKY_DATABASE_POOLER=transaction."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self) -> str:
        return (self.directory / "pgbouncer.log").read_text(errors="replace")


def ensure_binary() -> Path:
    if not BINARY.exists():
        try:
            apt_install("pgbouncer", "PgBouncer is missing")
        except PackageUnavailable as error:
            raise PgBouncerUnavailable(str(error)) from None
    return BINARY


def _config(postgres: LocalPostgres, directory: Path, port: int, server_sessions: int) -> str:
    return "\n".join(
        [
            "[databases]",
            f"{postgres.database} = host=127.0.0.1 port={postgres.port} "
            f"dbname={postgres.database} user={SYSTEM_USER}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {directory / 'userlist.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {server_sessions}",
            "max_client_conn = 500",
            f"logfile = {directory / 'pgbouncer.log'}",
            f"pidfile = {directory / 'pgbouncer.pid'}",
            "",
        ]
    )


@contextlib.contextmanager
def throwaway_pgbouncer(
    postgres: LocalPostgres, server_sessions: int = 2
) -> Iterator[LocalPgBouncer]:
    """PgBouncer (transaction mode, `server_sessions` server connections) in front of `postgres`
    for the `with` block."""
    binary = ensure_binary()
    with tempfile.TemporaryDirectory(prefix="sticky-pgbouncer-") as name:
        directory = Path(name)
        bouncer = LocalPgBouncer(directory, free_port(), postgres.database)
        (directory / "userlist.txt").write_text(f'"{bouncer.user}" ""\n')
        config = directory / "pgbouncer.ini"
        config.write_text(_config(postgres, directory, bouncer.port, server_sessions))
        command = [str(binary), "-d", str(config)]
        if os.geteuid() == 0:
            for path in (directory, *directory.iterdir()):
                shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)
        try:
            _wait_listening(bouncer)
            yield bouncer
        finally:
            _stop(directory / "pgbouncer.pid")


def _wait_listening(bouncer: LocalPgBouncer) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", bouncer.port), timeout=1).close()
            return
        time.sleep(0.05)
    raise PgBouncerUnavailable(f"PgBouncer never listened on {bouncer.port}: {bouncer.log}")


def _stop(pidfile: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)  # ProcessLookupError once it is gone
            time.sleep(0.05)
