"""The router as the call benches run it: `sticky-router run` as a process of its own, its
CPU and memory read from /proc, and what its JSON log says (decisions, routes, problems)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.call_rig import LOOPBACK, BenchError
from bench.cpu_watch import cpu_times
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.postgres import LocalPostgres


def _router_command() -> list[str]:
    """`sticky-router run`, from the same virtualenv as this Python."""
    script = Path(sys.executable).with_name("sticky-router")
    if script.is_file():
        return [str(script), "run"]
    found = shutil.which("sticky-router")
    if found:
        return [found, "run"]
    return [
        sys.executable,
        "-c",
        "import sys; from sticky_router.process.cli import main; sys.exit(main())",
        "run",
    ]


@dataclass(frozen=True)
class ProcessSample:
    at: float  # time.monotonic()
    cpu_seconds: float
    rss_kb: int | None
    hwm_kb: int | None
    system_seconds: float = 0.0  # the part of cpu_seconds spent in the kernel (fsync, sockets)


def sample_process(pid: int) -> ProcessSample:
    """CPU time (user + system) from /proc/<pid>/stat, VmRSS and VmHWM from /proc/<pid>/status."""
    moment = time.monotonic()
    times = cpu_times(Path(f"/proc/{pid}/stat"))
    if times is None:
        raise BenchError(f"process {pid} is gone")
    user, system = times
    memory: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0])
    return ProcessSample(
        moment,
        user + system,
        memory.get("VmRSS"),
        memory.get("VmHWM"),
        system,
    )


@dataclass
class RouterProcess:
    """`sticky-router run` against the bench's PostgreSQL and Asterisk, logging JSON to a file."""

    postgres: LocalPostgres
    asterisk: LocalAsterisk
    log_path: Path
    log_level: str = "info"
    # More STICKY_* settings: a second router on the machine needs its own journal directory
    # and web port (or none), a node of several its STICKY_NODE.
    extra_env: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchError("the router is not started")
        return self._process.pid

    def start(self, ready_timeout: float = 30) -> None:
        ari, ami = self.asterisk.ari_credentials, self.asterisk.ami_credentials
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("STICKY_")},
            "STICKY_DATABASE_URL": self.postgres.dsn,
            "STICKY_ARI_URL": f"http://{LOOPBACK}:{self.asterisk.http_port}",
            "STICKY_ARI_USER": ari.user,
            "STICKY_ARI_PASSWORD": ari.password,
            "STICKY_AMI_HOST": LOOPBACK,
            "STICKY_AMI_PORT": str(self.asterisk.ami_port),
            "STICKY_AMI_USER": ami.user,
            "STICKY_AMI_PASSWORD": ami.password,
            "STICKY_LOG_LEVEL": self.log_level,
            "STICKY_LOG_FORMAT": "json",
            # A journal of the run's own: one left by an earlier run (its events waiting for
            # calls this PostgreSQL never saw) would be this run's work too.
            "STICKY_JOURNAL_DIR": str(self.log_path.parent / f"{self.log_path.stem}-journal"),
            **self.extra_env,
        }
        with self.log_path.open("wb") as output:
            # S603: the project's own console script with a fixed argument.
            self._process = subprocess.Popen(  # noqa: S603
                _router_command(), env=env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while not any(event.get("event") == "ari_connected" for event in self.events()):
            if self._process.poll() is not None:
                raise BenchError(
                    f"the router exited with {self._process.returncode}: {self.tail()}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"the router did not connect to ARI in {ready_timeout} s")
            time.sleep(0.05)

    def sample(self) -> ProcessSample:
        if self._process is None or self._process.poll() is not None:
            raise BenchError(f"the router is not running any more: {self.tail()}")
        return sample_process(self.pid)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def events(self, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        """The JSON log lines written between two offsets of the log file."""
        with self.log_path.open("rb") as log:
            log.seek(start)
            data = log.read() if end is None else log.read(max(0, end - start))
        events = []
        for line in data.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    def tail(self, lines: int = 10) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int | None:
        """SIGTERM: the router drains (up to 20 s) and exits; killed after 40 s."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode


def decisions(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event.get("event") == "routing_decision"]


def routes(events: Sequence[dict[str, Any]]) -> Counter[str]:
    """route:target (sticky) or route:reason (queue) of each decision; `blocked` alone."""
    return Counter(
        ":".join(str(part) for part in (d.get("route"), d.get("target") or d.get("reason")) if part)
        for d in decisions(events)
    )


def latencies(events: Sequence[dict[str, Any]]) -> list[float]:
    """latency_ms of the routing_decision lines among `events`."""
    return [float(event["latency_ms"]) for event in decisions(events) if "latency_ms" in event]


def problems(events: Sequence[dict[str, Any]]) -> Counter[str]:
    """Warning and error lines by event name (record_failed, agent_leg_failed, ...)."""
    return Counter(
        str(event.get("event"))
        for event in events
        if event.get("level") in ("warning", "error", "critical", "exception")
    )
