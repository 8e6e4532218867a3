"""SIPp phones for tests that place real calls through the sandbox Asterisk.

A `SippPhone` is one SIPp process running one of the scenarios in tests/sipp/: an agent phone
(UAS: answers, busy, rejects, never answers) listening on its agent port, or the caller (UAC)
sending from the caller port. Start the agents first (`start()` returns once SIPp has bound its
port), place the call, then `wait()` for every phone and assert on the results: a failed
`SippResult` carries SIPp's exit code, its error log and the SIP messages it saw.

    with SippPhone.agent("uas_answer.xml", asterisk.agent_port(2), tmp_path, ring_ms=500) as agent:
        caller = SippPhone.caller("uac.xml", asterisk, tmp_path, dialled="direct", hold_ms=1000)
        assert_calls_succeeded(caller.run(), agent.wait())
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devkit.sandbox.debian import PackageUnavailable, apt_install

# The scenarios stay in tests/sipp/, where the README and the sandbox's how-to point people.
SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "sipp"
LOOPBACK = "127.0.0.1"

# SIPp's documented exit codes (sipp -h); -1 and -2 arrive as 255 and 254.
EXIT_CODES = {
    0: "all calls succeeded",
    1: "at least one call failed",
    97: "exit on internal command",
    99: "normal exit without calls processed",
    255: "fatal error",
    254: "fatal error binding a socket (port in use?)",
}


class SippUnavailable(RuntimeError):
    """SIPp is not installed and cannot be installed from here."""


class SipServer(Protocol):
    """What a caller needs to know about the Asterisk it calls (LocalAsterisk fits)."""

    @property
    def sip_port(self) -> int: ...

    @property
    def caller_port(self) -> int: ...


def ensure_sipp() -> str:
    """The sipp binary; as root, the Debian package `sip-tester` is installed when missing."""
    found = shutil.which("sipp")
    if found:
        return found
    try:
        apt_install("sip-tester", "sipp is missing")
    except PackageUnavailable as error:
        raise SippUnavailable(str(error)) from None
    found = shutil.which("sipp")
    if not found:
        raise SippUnavailable("apt installed 'sip-tester' but sipp is still not on the path")
    return found


def udp_port_bound(port: int, address: str = LOOPBACK) -> bool:
    """Some socket is bound to address:port over UDP (read from /proc, no probing bind)."""
    wanted_address = "".join(f"{int(part):02X}" for part in reversed(address.split(".")))
    wanted = f"{wanted_address}:{port:04X}"
    with open("/proc/net/udp") as table:
        next(table)
        return any(line.split()[1] == wanted for line in table)


@dataclass
class SippResult:
    """How one SIPp process ended, with what it logged for the failure message."""

    name: str
    exit_code: int
    log_dir: Path

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self, lines: int = 60) -> str:
        meaning = EXIT_CODES.get(self.exit_code, "unknown exit code")
        parts = [f"SIPp {self.name}: exit {self.exit_code} ({meaning}); logs in {self.log_dir}"]
        for suffix in ("errors.log", "messages.log", "screen.log", "stdout.log"):
            path = self.log_dir / f"{self.name}.{suffix}"
            if path.is_file() and path.stat().st_size:
                text = path.read_text(errors="replace").strip().splitlines()
                parts.append(f"--- {path.name} (last {lines} lines)")
                parts += text[-lines:]
        return "\n".join(parts)


def assert_calls_succeeded(*results: SippResult) -> None:
    failed = [result for result in results if not result.ok]
    assert not failed, "\n\n".join(result.describe() for result in failed)


@dataclass
class SippPhone:
    """One SIPp process. Build it with `agent()` or `caller()`; use as a context manager so it
    is killed even when the test fails before it finished."""

    name: str
    arguments: list[str]
    local_port: int
    log_dir: Path
    timeout_s: float
    statistics: bool = False  # also write <name>.stat.csv every second (the benchmarks read it)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def agent(
        cls,
        scenario: str,
        port: int,
        log_dir: Path,
        *,
        ring_ms: int = 0,
        calls: int = 1,
        timeout_s: float = 60,
        name: str | None = None,
    ) -> SippPhone:
        """An agent phone (uas_*.xml) on 127.0.0.1:`port`; `ring_ms` is how long uas_answer
        rings before it answers. It exits after `calls` calls."""
        arguments = ["-sf", str(SCENARIOS / scenario), "-d", str(ring_ms), "-m", str(calls)]
        return cls(
            name=name or f"{Path(scenario).stem}-{port}",
            arguments=arguments,
            local_port=port,
            log_dir=log_dir,
            timeout_s=timeout_s,
        )

    @classmethod
    def caller(
        cls,
        scenario: str,
        server: SipServer,
        log_dir: Path,
        *,
        dialled: str,
        caller_id: str = "79123456701",
        hold_ms: int = 1000,
        calls: int = 1,
        timeout_s: float = 60,
        name: str | None = None,
    ) -> SippPhone:
        """The caller (uac*.xml) from the server's caller port, dialling `dialled` (the
        Request-URI user) as `caller_id`; `hold_ms` is the talk time (uac.xml) or the ringing
        time before the CANCEL (uac_cancel.xml)."""
        arguments = [
            f"{LOOPBACK}:{server.sip_port}", "-sf", str(SCENARIOS / scenario),
            "-s", dialled, "-key", "caller", caller_id, "-d", str(hold_ms),
            "-m", str(calls), "-l", str(calls),
        ]  # fmt: skip
        return cls(
            name=name or f"{Path(scenario).stem}-{dialled}",
            arguments=arguments,
            local_port=server.caller_port,
            log_dir=log_dir,
            timeout_s=timeout_s,
        )

    def command(self) -> list[str]:
        logs = self.log_dir / self.name
        command = [
            ensure_sipp(), *self.arguments,
            "-i", LOOPBACK, "-mi", LOOPBACK, "-p", str(self.local_port), "-t", "u1",
            "-nostdin",
            # Give up (with a failure) instead of hanging a test run.
            "-timeout", str(round(self.timeout_s)), "-timeout_error",
            "-trace_err", "-error_file", f"{logs}.errors.log",
            "-trace_msg", "-message_file", f"{logs}.messages.log",
            "-trace_screen", "-screen_file", f"{logs}.screen.log",
        ]  # fmt: skip
        if self.statistics:
            command += ["-trace_stat", "-stf", f"{logs}.stat.csv", "-fd", "1"]
        return command

    def file(self, suffix: str) -> Path:
        """One of its logs: `messages.log`, `errors.log`, `stat.csv`, ..."""
        return self.log_dir / f"{self.name}.{suffix}"

    def error_lines(self) -> list[str]:
        path = self.file("errors.log")
        if not path.is_file():
            return []
        return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]

    def start(self, ready_timeout: float = 10) -> SippPhone:
        """Start SIPp and return once it has bound its SIP port (so a call can reach it)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if udp_port_bound(self.local_port):
            raise SippUnavailable(f"UDP port {self.local_port} is already taken on {LOOPBACK}")
        with (self.log_dir / f"{self.name}.stdout.log").open("wb") as stdout:
            self._process = subprocess.Popen(
                self.command(), cwd=self.log_dir, stdin=subprocess.DEVNULL,
                stdout=stdout, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while not udp_port_bound(self.local_port):
            if self._process.poll() is not None:
                return self  # it already ended (a bad option, say): wait() reports it
            if time.monotonic() > deadline:
                raise SippUnavailable(f"SIPp {self.name} did not bind {self.local_port}")
            time.sleep(0.02)
        return self

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to finish its calls (at most its own -timeout, plus a margin)."""
        if self._process is None:
            raise RuntimeError(f"SIPp {self.name} was never started")
        try:
            code = self._process.wait(timeout=timeout or self.timeout_s + 10)
        except subprocess.TimeoutExpired:
            self.stop()
            code = -9
        return SippResult(self.name, code, self.log_dir)

    def run(self) -> SippResult:
        """Start, then wait: what a caller does."""
        return self.start().wait()

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def quit(self, grace: float = 10) -> None:
        """Like pressing q: no new calls, exit once the calls in progress are over."""
        if self.running():
            assert self._process is not None
            self._process.send_signal(signal.SIGUSR1)
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.stop()

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> SippPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
