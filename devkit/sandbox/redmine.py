"""A throwaway Redmine 5 from Debian's packages, the ticket system of the tests and the sandbox.

Debian's `redmine` serves instances from /usr/share/redmine/instances/<name> (a link to
/var/lib/redmine), chosen by REDMINE_INSTANCE. A throwaway instance is a temporary directory linked
there under a unique name, with its own SQLite database, secret key, logs and cache, served by thin
on a free loopback port. The database is copied from a template built once into the cache
directory (migrated, default data loaded, REST API on, the custom fields the router maps: about
25 s), so a start is a file copy and a Rails boot (about 7 s on two cores).

Installing the packages is scripts/bootstrap's job (`redmine`, `redmine-sqlite`, `thin`); writing
the instance link into /var/lib/redmine needs root, as the Debian layout wants.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from devkit.sandbox.postgres import cache_dir, free_port

REDMINE_HOME = Path("/usr/share/redmine")
INSTANCES = Path("/var/lib/redmine")
SETUP_SCRIPT = Path(__file__).with_name("redmine_setup.rb")
START_TIMEOUT = 90.0
TEMPLATE_DB = "redmine.sqlite3"


class RedmineUnavailable(RuntimeError):
    pass


class LocalRedmine:
    """One Redmine instance: `start()`, `stop()` (files kept: it can start again), `remove()`."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.instance = f"sticky-{root.name.rsplit('-', 1)[-1]}"
        self.api_key = secrets.token_hex(20)
        self.admin_password = secrets.token_urlsafe(12)  # the web pages' `admin`, per instance
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def prepare(self, template: Path | None) -> None:
        """The instance's files and its link under /var/lib/redmine; the database copied from
        `template` with this instance's own API key (None: an empty database, to build one)."""
        for part in ("config", "tmp/cache", "log", "files", "public"):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        database = self.root / TEMPLATE_DB
        (self.root / "config" / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {database}\n  timeout: 5000\n"
        )
        (self.root / "config" / "secret_key.txt").write_text(secrets.token_hex(32))
        if template is not None:
            shutil.copyfile(template, database)
            # Redmine 5 stores SHA1(salt + SHA1(password)) (app/models/user.rb): sha1 is its
            # format, not our choice.
            salt = secrets.token_hex(16)
            inner = hashlib.sha1(self.admin_password.encode()).hexdigest()  # noqa: S324
            hashed = hashlib.sha1((salt + inner).encode()).hexdigest()  # noqa: S324
            with contextlib.closing(sqlite3.connect(database)) as db, db:
                admin = "(SELECT id FROM users WHERE login = 'admin')"
                db.execute(
                    f"UPDATE tokens SET value = ? WHERE action = 'api' AND user_id = {admin}",
                    (self.api_key,),
                )
                db.execute(
                    "UPDATE users SET hashed_password = ?, salt = ? WHERE login = 'admin'",
                    (hashed, salt),
                )
        (INSTANCES / self.instance).symlink_to(self.root, target_is_directory=True)

    def run(self, *command: str) -> None:
        """A Rails task against this instance (rake, rails runner), waited for."""
        done = subprocess.run(
            command, cwd=REDMINE_HOME, env=_rails_env(self.instance), capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RedmineUnavailable(f"{' '.join(command[:2])} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        if self.running:
            return
        log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            [str(REDMINE_HOME / "bin" / "rails"), "server", "--binding", "127.0.0.1",
             "--port", str(self.port), "--pid", str(self.root / "server.pid")],
            cwd=REDMINE_HOME, env=_rails_env(self.instance), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RedmineUnavailable(f"Redmine exited at start; see {self.log_file}")
            with contextlib.suppress(OSError):
                self.api("GET", "/users/current.json", timeout=2)
                return
            time.sleep(0.3)
        self.stop()
        raise RedmineUnavailable(
            f"Redmine did not answer in {START_TIMEOUT:.0f} s; see {self.log_file}"
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            (INSTANCES / self.instance).unlink()
        shutil.rmtree(self.root, ignore_errors=True)

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        switch_user: str | None = None,
        timeout: float = 30,
    ) -> Any:
        """One REST call as the admin (or as `switch_user`); the decoded JSON, or None."""
        headers = {"X-Redmine-API-Key": self.api_key, "Content-Type": "application/json"}
        if switch_user is not None:
            headers["X-Redmine-Switch-User"] = switch_user
        data = None if body is None else json.dumps(body).encode()
        # Our own loopback server's http URL: no file: or other scheme can get here.
        request = urllib.request.Request(self.url + path, data, headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                text = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise RedmineApiError(f"{method} {path}: HTTP {error.code} {detail}") from None
        return json.loads(text) if text.strip() else None


class RedmineApiError(RuntimeError):
    pass


def _rails_env(instance: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "RAILS_ENV": "production",
        "REDMINE_INSTANCE": instance,
        "REDMINE_LANG": "en",
    }


def check_installed() -> None:
    if not (REDMINE_HOME / "bin" / "rails").exists() or shutil.which("thin") is None:
        raise RedmineUnavailable(
            "Redmine is not installed: run ./scripts/bootstrap as root (Debian packages "
            "redmine, redmine-sqlite, thin)"
        )
    if not os.access(INSTANCES, os.W_OK):
        raise RedmineUnavailable(f"{INSTANCES} is not writable: Redmine instances need root")


def _package_version() -> str:
    result = subprocess.run(
        ["dpkg-query", "--showformat=${Version}", "--show", "redmine"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.strip() or "unknown"


def template() -> Path:
    """The migrated database with default data and the router's custom fields, built once per
    Redmine version and setup script."""
    check_installed()
    stamp = hashlib.sha256(_package_version().encode() + SETUP_SCRIPT.read_bytes()).hexdigest()
    built = cache_dir() / f"redmine-template-{stamp[:16]}.sqlite3"
    if built.exists():
        return built
    built.parent.mkdir(parents=True, exist_ok=True)
    builder = LocalRedmine(Path(tempfile.mkdtemp(prefix="sticky-redmine-")), port=0)
    try:
        builder.prepare(None)
        builder.run("rake", "db:migrate")
        builder.run("rake", "redmine:load_default_data")
        builder.run(str(REDMINE_HOME / "bin" / "rails"), "runner", str(SETUP_SCRIPT))
        partial = built.with_name(f"{built.name}.{os.getpid()}.partial")
        shutil.copyfile(builder.root / TEMPLATE_DB, partial)
        partial.replace(built)  # never a half-built template, even when two builds race
    finally:
        builder.remove()
    return built


@contextlib.contextmanager
def throwaway_redmine() -> Iterator[LocalRedmine]:
    """A started Redmine on a free port with a fresh admin API key; removed afterwards."""
    database = template()
    redmine = LocalRedmine(Path(tempfile.mkdtemp(prefix="sticky-redmine-")), free_port())
    try:
        redmine.prepare(database)
        redmine.start()
        yield redmine
    finally:
        redmine.remove()
