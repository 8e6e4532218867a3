"""A throwaway PostgreSQL primary with a synchronous streaming standby, and its failover (issue 17).

What it models: the failover a Patroni cluster performs. The primary dies without a word
(`fail_primary`: `pg_ctl stop -m immediate`, like a crashed host), then the standby is promoted
(`promote`: `pg_ctl promote`, what Patroni does to the healthiest replica once the leader key
expires). The router knows both servers from one libpq multi-host URL (`dsn`: primary first,
then standby, `target_session_attrs=read-write`), so a broken connection is replaced by one to
whichever host accepts writes now, without a restart and without anyone editing its settings.

Replication is synchronous (`synchronous_standby_names` names the standby's application_name,
`synchronous_commit=on`): a commit is acknowledged to the router only once the standby has the
WAL on disk, so what the router learned before the primary died is on the promoted server
(Patroni's `synchronous_mode`). The standby is a hot standby (`hot_standby=on`) and is cloned with
`pg_basebackup -R`, whose `primary_conninfo` carries the application_name the primary waits for.

The promoted standby has no `synchronous_standby_names` of its own: it has no standby left, and a
commit waiting for one would never return (Patroni too drops synchronous mode when no replica is
left, unless `synchronous_mode_strict`). Nothing rewinds the old primary into a standby again.

Like `throwaway_postgres`: loopback, free ports, trust authentication, sockets in our own
directories, one temporary directory holding both clusters, deleted afterwards; as root the
servers run as `postgres`. `fsync=off` (tests need no crash safety of the disk); the command line
overrides postgresql.conf, so the pair starts with options of its own, not LocalPostgres's
(`synchronous_commit=off` there would acknowledge a commit the standby may not have).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devkit.sandbox.postgres import SYSTEM_USER, LocalPostgres, PostgresUnavailable, free_port

STANDBY_NAME = "sticky_standby"  # the standby's application_name, the primary's sync standby
READY_SECONDS = 60.0
# The standby as the primary sees it: `streaming sync` once it is the synchronous standby.
SYNC_STATE = (
    "SELECT state || ' ' || sync_state FROM pg_stat_replication "
    f"WHERE application_name = '{STANDBY_NAME}'"
)


@dataclass
class ReplicaMember(LocalPostgres):
    """One server of the pair: a LocalPostgres started with the pair's options (`settings`,
    `-c name=value` each) instead of LocalPostgres's, and asked questions with psql."""

    settings: tuple[str, ...] = ()

    def clone_from(self, primary: ReplicaMember, application_name: str) -> None:
        """This member's cluster as a standby of `primary`: a base backup streamed with its WAL,
        and (`-R`) standby.signal plus a primary_conninfo naming `application_name`."""
        self.prepare_directories()
        connection = (
            f"host=127.0.0.1 port={primary.port} user={SYSTEM_USER} "
            f"application_name={application_name}"
        )
        self._run(
            "pg_basebackup", "-d", connection, "-D", str(self.cluster), "-R",
            "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        if not (self.cluster / "PG_VERSION").exists():
            raise PostgresUnavailable(f"no cluster in {self.cluster}: initdb or clone it first")
        options = " ".join(
            [
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir}",
                f"-c shared_buffers={self.shared_buffers} -c max_connections=100",
                *(f"-c {setting}" for setting in self.settings),
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.cluster), "-o", options,
            "-l", str(self.data_dir / "server.log"), "-w", "-t", str(int(READY_SECONDS)), "start",
        )  # fmt: skip

    def query(self, sql: str, database: str = "postgres") -> str | None:
        """One value from the server, as text; None when it does not answer (or the SQL fails)."""
        result = subprocess.run(
            [str(self._bin("psql")), "-h", "127.0.0.1", "-p", str(self.port), "-U", SYSTEM_USER,
             "-d", database, "-X", "-tAc", sql],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def wait_for(self, sql: str, expected: str, what: str, database: str = "postgres") -> float:
        """Poll `sql` until it answers `expected`; the seconds it took."""
        started = time.monotonic()
        while True:
            answer = self.query(sql, database)
            if answer == expected:
                return time.monotonic() - started
            if time.monotonic() - started > READY_SECONDS:
                raise PostgresUnavailable(
                    f"{what}: still {answer!r} after {READY_SECONDS:.0f} s; its log ends:\n"
                    f"{self.log[-2000:]}"
                )
            time.sleep(0.05)

    def create_database(self) -> None:
        self._create_database()

    def promote(self) -> None:
        """Out of recovery: `pg_ctl promote`, waiting until the promotion is done."""
        self._run("pg_ctl", "-D", str(self.cluster), "-w", "-t", "60", "promote")

    def stop_now(self) -> None:
        """Stop as a crash would: no checkpoint, connections cut (`-m immediate`)."""
        self._run("pg_ctl", "-D", str(self.cluster), "-m", "immediate", "-w", "stop")

    @property
    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass(frozen=True)
class ReplicatedPostgres:
    primary: ReplicaMember
    standby: ReplicaMember
    database: str = "sticky"

    @property
    def dsn(self) -> str:
        """What a router is given: both hosts, primary first, writes only (libpq style)."""
        return self.hosts_dsn("read-write")

    def hosts_dsn(self, target_session_attrs: str | None) -> str:
        """The multi-host URL; `target_session_attrs` None leaves the setting out (any host)."""
        hosts = ",".join(f"127.0.0.1:{member.port}" for member in (self.primary, self.standby))
        query = (
            "" if target_session_attrs is None else f"?target_session_attrs={target_session_attrs}"
        )
        return f"postgresql://{SYSTEM_USER}@{hosts}/{self.database}{query}"

    def fail_primary(self) -> None:
        """The primary dies: stopped immediately, every connection cut, nothing flushed."""
        self.primary.stop_now()

    def promote(self) -> float:
        """Promote the standby and wait until it accepts writes; the seconds that took."""
        started = time.monotonic()
        self.standby.promote()
        self.standby.wait_for(
            "SELECT pg_is_in_recovery()::text || ' ' || current_setting('transaction_read_only')",
            "false off",
            "the promoted standby does not accept writes",
        )
        return time.monotonic() - started

    def sync_state(self) -> str | None:
        """The standby as the primary sees it: `streaming sync` once it is the sync standby."""
        return self.primary.query(SYNC_STATE)


@contextlib.contextmanager
def throwaway_replicated_postgres(database: str = "sticky") -> Iterator[ReplicatedPostgres]:
    """A primary and its synchronous standby for the duration of the `with` block, streaming
    before it is entered; both stopped and everything deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="sticky-pg-pair-") as directory:
        top = Path(directory)
        if os.geteuid() == 0:  # the servers run as postgres: they must reach their directories
            shutil.chown(top, SYSTEM_USER, SYSTEM_USER)
        common = ("fsync=off", "hot_standby=on", "wal_level=replica", "max_wal_senders=5")
        primary = ReplicaMember(
            data_dir=top / "primary",
            port=free_port(),
            database=database,
            settings=(
                *common,
                "synchronous_commit=on",
                f"synchronous_standby_names={STANDBY_NAME}",
            ),
        )
        standby_port = free_port()
        while standby_port == primary.port:
            standby_port = free_port()
        standby = ReplicaMember(
            data_dir=top / "standby",
            port=standby_port,
            database=database,
            settings=(*common, "synchronous_commit=on"),
        )
        pair = ReplicatedPostgres(primary, standby, database)
        try:
            primary.initdb()
            primary.start()
            standby.clone_from(primary, STANDBY_NAME)
            standby.start()
            primary.wait_for(
                SYNC_STATE,
                "streaming sync",
                "the standby never became the primary's synchronous standby",
            )
            # Only now: with no synchronous standby yet, its commit would wait forever.
            primary.create_database()
            # Synchronous means on the standby's disk, not yet visible there: wait for replay.
            standby.wait_for("SELECT 1", "1", "the database never reached the standby", database)
            yield pair
        finally:
            primary.stop()
            standby.stop()
