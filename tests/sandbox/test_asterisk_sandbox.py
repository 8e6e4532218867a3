"""The local Asterisk 22 sandbox, for real: ARI, PJSIP endpoints, and calls placed with SIPp.

One Asterisk (on free loopback ports, credentials generated) serves the whole session; the calls
run one after another, since the phones share the caller and agent ports.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.sandbox import ports as sandbox_ports
from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk
from devkit.sandbox.asterisk_config import (
    AGENTS,
    ARI_APP,
    SUPPORT_QUEUE,
    AsteriskUnavailable,
    Credentials,
    render,
)
from devkit.sandbox.asterisk_root import apt_mirror
from devkit.sandbox.ports import free_port, free_sip_port, free_udp_block
from sticky_router.ami.connection import AmiSettings
from sticky_router.ami.event_names import WANTED_EVENTS
from testkit.sipp import SippPhone, SippResult, assert_calls_succeeded


@pytest.fixture(scope="module")
def asterisk() -> Iterator[LocalAsterisk]:
    with throwaway_asterisk() as server:
        yield server


def ari_get(asterisk: LocalAsterisk, path: str, credentials: Credentials) -> Any:
    request = urllib.request.Request(
        f"{asterisk.ari_url}{path}", headers={"Authorization": credentials.basic_auth()}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def assert_call(asterisk: LocalAsterisk, *results: SippResult) -> None:
    """All phones succeeded; if not, say why, with the end of Asterisk's log."""
    try:
        assert_calls_succeeded(*results)
    except AssertionError as failure:
        log = asterisk.log_file.read_text(errors="replace").splitlines()[-40:]
        raise AssertionError(f"{failure}\n\n--- Asterisk log\n" + "\n".join(log)) from None


# --- the server -------------------------------------------------------------------------------


def test_runs_on_its_own_loopback_ports(asterisk: LocalAsterisk) -> None:
    assert asterisk.is_running()
    assert 5060 not in (asterisk.sip_port, asterisk.http_port, asterisk.ami_port)
    assert asterisk.cli("core show version").startswith("Asterisk 22.")
    for port in (asterisk.http_port, asterisk.ami_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_ari_answers_with_the_generated_credentials(asterisk: LocalAsterisk) -> None:
    info = ari_get(asterisk, "/asterisk/info", asterisk.ari_credentials)
    assert info["system"]["version"].startswith("22.")
    assert ari_get(asterisk, "/applications", asterisk.ari_credentials) == []


def test_ari_refuses_other_credentials(asterisk: LocalAsterisk) -> None:
    wrong = Credentials(asterisk.ari_credentials.user, "not-the-password")
    with pytest.raises(urllib.error.HTTPError) as refused:
        ari_get(asterisk, "/asterisk/info", wrong)
    assert refused.value.code == 401


def test_the_router_app_can_register_on_the_event_websocket(asterisk: LocalAsterisk) -> None:
    """The plumbing the ARI application needs: a websocket upgrade on ari_events_url with the
    Basic auth header registers the Stasis app; closing the socket unregisters it."""
    url = urllib.parse.urlsplit(asterisk.ari_events_url)
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: {asterisk.ari_credentials.basic_auth()}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=5) as websocket:
        websocket.sendall(handshake.encode())
        assert websocket.recv(4096).startswith(b"HTTP/1.1 101 Switching Protocols")
        app = ari_get(asterisk, f"/applications/{ARI_APP}", asterisk.ari_credentials)
        assert app["name"] == ARI_APP
    deadline = time.monotonic() + 5
    while ari_get(asterisk, "/applications", asterisk.ari_credentials):
        assert time.monotonic() < deadline, "the app stayed registered after the socket closed"
        time.sleep(0.05)


def test_passwords_stay_out_of_repr(asterisk: LocalAsterisk) -> None:
    secrets = (
        asterisk.ari_credentials.password, asterisk.ami_credentials.password,
        asterisk.ami_driver_credentials.password, asterisk.live_agi_secret,
    )  # fmt: skip
    assert len(set(secrets)) == 4
    for text in (repr(asterisk), repr(asterisk.ari_credentials), str(asterisk.ami_credentials),
                 repr(asterisk.ami_driver_credentials)):  # fmt: skip
        assert not any(secret in text for secret in secrets)


def test_ami_accepts_the_generated_secret(asterisk: LocalAsterisk) -> None:
    ami = asterisk.ami_credentials
    with socket.create_connection(("127.0.0.1", asterisk.ami_port), timeout=5) as connection:
        stream = connection.makefile("rwb")
        assert stream.readline().startswith(b"Asterisk Call Manager/")
        stream.write(
            f"Action: Login\r\nUsername: {ami.user}\r\nSecret: {ami.password}\r\n\r\n".encode()
        )
        stream.flush()
        reply = b"".join(iter(stream.readline, b"\r\n"))
    assert b"Response: Success" in reply


class AmiListener:
    """A logged-in AMI session read on a thread: the events it was sent, by name, and the
    answer to one QueueStatus action."""

    def __init__(self, asterisk: LocalAsterisk, credentials: Credentials) -> None:
        self.events: Counter[str] = Counter()
        self.queue_status: list[str] = []  # the event names of the QueueStatus answer
        self._socket = socket.create_connection(("127.0.0.1", asterisk.ami_port), timeout=5)
        self._socket.sendall(
            f"Action: Login\r\nUsername: {credentials.user}\r\nSecret: "
            f"{credentials.password}\r\nEvents: {AmiSettings.events}\r\n\r\n".encode()
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def ask_queue_status(self) -> None:
        self._socket.sendall(b"Action: QueueStatus\r\nActionID: snapshot\r\n\r\n")

    def close(self) -> None:
        self._socket.close()
        self._reader.join(timeout=5)

    def _read(self) -> None:
        pending = b""
        with contextlib.suppress(OSError):
            while chunk := self._socket.recv(65536):
                pending += chunk
                *messages, pending = pending.split(b"\r\n\r\n")
                for message in messages:
                    fields = dict(
                        line.decode(errors="replace").split(": ", 1)
                        for line in message.split(b"\r\n")
                        if b": " in line
                    )
                    if "Event" not in fields:
                        continue
                    if fields.get("ActionID") == "snapshot":
                        self.queue_status.append(fields["Event"])
                    else:
                        self.events[fields["Event"]] += 1


def test_the_routers_ami_user_is_sent_only_the_events_it_reads(
    asterisk: LocalAsterisk, tmp_path: Path
) -> None:
    """manager.conf's eventfilter lines (ami/event_names.py) hold back what the router never
    reads, and nothing it does: the sandbox's driver user, no filter, is the control. The
    QueueStatus answer is not an event stream, so the filter leaves it whole. Both log in asking
    for the classes the router asks for (`call,agent,user`): the driver's `read` has no `user`,
    as an AMI user set up before calls from other nodes were learned, and it is sent its call
    events all the same."""
    router = AmiListener(asterisk, asterisk.ami_credentials)
    control = AmiListener(asterisk, asterisk.ami_driver_credentials)
    try:
        time.sleep(0.5)  # both logged in before the call
        with SippPhone.agent(
            "uas_answer.xml", asterisk.agent_port(2), tmp_path, ring_ms=300
        ) as agent:
            caller = SippPhone.caller("uac.xml", asterisk, tmp_path, dialled="direct", hold_ms=500)
            assert_call(asterisk, caller.run(), agent.wait())
        router.ask_queue_status()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            control.events["Hangup"] >= 2
            and router.events["Hangup"] >= 2
            and "QueueStatusComplete" in router.queue_status
        ):
            time.sleep(0.05)
    finally:
        router.close()
        control.close()
    # The control heard what the filter is for: events of the same classes the router skips.
    assert control.events["Newchannel"] >= 2, control.events
    assert control.events["Newstate"] >= 1, control.events
    assert router.events["Newchannel"] == 0, router.events
    assert router.events["Newstate"] == 0, router.events
    assert set(router.events) <= WANTED_EVENTS, router.events
    for name in ("DialBegin", "DialEnd", "Hangup", "HangupRequest"):
        assert router.events[name] == control.events[name] >= 1, (name, router.events)
    assert {"QueueParams", "QueueMember", "QueueStatusComplete"} <= set(router.queue_status)


def test_pjsip_has_the_callers_and_four_agents(asterisk: LocalAsterisk) -> None:
    endpoints = asterisk.cli("pjsip show endpoints")
    for agent in AGENTS:
        assert f"Endpoint:  {agent}/" in endpoints
        assert f"sip:{agent}@127.0.0.1:{asterisk.agent_port(agent)}" in endpoints
    assert "Endpoint:  callers" in endpoints
    # Callers and agents all send from 127.0.0.1: only the source port tells them apart.
    identifies = asterisk.cli("pjsip show identifies")
    assert f"127.0.0.1:{asterisk.caller_port}/32" in identifies
    for agent in AGENTS:
        assert f"127.0.0.1:{asterisk.agent_port(agent)}/32" in identifies


def test_dialplan_and_queue_are_loaded(asterisk: LocalAsterisk) -> None:
    for context in ("sticky-inbound", "sticky-queue", "sticky-ivr", "sticky-direct"):
        assert f"[ Context '{context}'" in asterisk.cli(f"dialplan show {context}")
    assert f"Stasis({ARI_APP}," in asterisk.cli("dialplan show sticky-inbound")
    queue = asterisk.cli(f"queue show {SUPPORT_QUEUE}")
    assert "'ringall' strategy" in queue
    for agent in AGENTS:
        assert f"(PJSIP/{agent}) (ringinuse disabled)" in queue


# --- calls ------------------------------------------------------------------------------------


def test_direct_call_is_answered_by_agent2(asterisk: LocalAsterisk, tmp_path: Path) -> None:
    with SippPhone.agent("uas_answer.xml", asterisk.agent_port(2), tmp_path, ring_ms=300) as agent:
        caller = SippPhone.caller("uac.xml", asterisk, tmp_path, dialled="direct", hold_ms=1000)
        assert_call(asterisk, caller.run(), agent.wait())


def test_caller_hangs_up_while_agent2_rings(asterisk: LocalAsterisk, tmp_path: Path) -> None:
    with SippPhone.agent("uas_noanswer.xml", asterisk.agent_port(2), tmp_path) as agent:
        caller = SippPhone.caller(
            "uac_cancel.xml", asterisk, tmp_path, dialled="direct", hold_ms=800
        )
        assert_call(asterisk, caller.run(), agent.wait())


def test_inbound_call_without_router_reaches_the_queue(
    asterisk: LocalAsterisk, tmp_path: Path
) -> None:
    """No ARI application is connected, so Stasis() fails and the call goes to the queue, which
    rings all four agents: busy, answers, rejects, rings until cancelled."""
    phones = {1: "uas_busy.xml", 2: "uas_answer.xml", 3: "uas_reject.xml", 4: "uas_noanswer.xml"}
    failed_before = asterisk.log_file.read_text().count("STASISSTATUS=FAILED")
    taken_before = calls_taken(asterisk, "agent2")
    with contextlib.ExitStack() as stack:
        agents = [
            stack.enter_context(
                SippPhone.agent(scenario, asterisk.agent_port(n), tmp_path, ring_ms=500)
            )
            for n, scenario in phones.items()
        ]
        caller = SippPhone.caller(
            "uac.xml", asterisk, tmp_path, dialled="+74950000000", hold_ms=2000
        )
        assert_call(asterisk, caller.run(), *(agent.wait() for agent in agents))
    assert asterisk.log_file.read_text().count("STASISSTATUS=FAILED") == failed_before + 1
    assert calls_taken(asterisk, "agent2") == taken_before + 1


def calls_taken(asterisk: LocalAsterisk, agent: str) -> int:
    """How many calls the queue counts for `agent` (from `queue show`)."""
    line = next(
        line
        for line in asterisk.cli(f"queue show {SUPPORT_QUEUE}").splitlines()
        if f"(PJSIP/{agent})" in line
    )
    taken = re.search(r"has taken (\d+) calls", line)
    return int(taken[1]) if taken else 0


# --- life cycle -------------------------------------------------------------------------------


def test_a_crashed_second_instance_is_cleaned_up_and_spares_the_first(
    asterisk: LocalAsterisk,
) -> None:
    second = LocalAsterisk(
        name=f"crash-{os.getpid()}",
        sip_port=free_sip_port(),
        http_port=free_port(),
        ami_port=free_port(),
        phone_base_port=free_udp_block(len(AGENTS) + 1, start=50000, stop=60000),
        throwaway=True,
    )
    second.start()
    try:
        assert second.is_running()
        assert second.ari_credentials.password != asterisk.ari_credentials.password
        process = second._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert not second.is_running()
    finally:
        second.stop()
    assert not second.instance_dir.exists()
    # The mounts are shared: the first instance still runs and answers.
    assert asterisk.is_running()
    assert ari_get(asterisk, "/asterisk/info", asterisk.ari_credentials)["system"]


def test_start_fails_clearly_when_the_http_port_is_taken(asterisk: LocalAsterisk) -> None:
    clash = LocalAsterisk(
        name=f"clash-{os.getpid()}",
        sip_port=free_sip_port(),
        http_port=asterisk.http_port,  # taken by the session's Asterisk
        ami_port=free_port(),
        phone_base_port=free_udp_block(len(AGENTS) + 1, start=50000, stop=60000),
        boot_timeout=15,
        throwaway=True,
    )
    started = time.monotonic()
    with pytest.raises(AsteriskUnavailable, match="ARI"):
        clash.start()
    assert time.monotonic() - started < 20
    assert not clash.is_running()
    assert asterisk.is_running()


# --- pure helpers -----------------------------------------------------------------------------


def test_mirror_comes_from_the_apt_sources(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    (sources / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "# disabled\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n"
        "Enabled: no\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror(sources, tmp_path / "none") == "http://mirror.example/debian"

    one_line = tmp_path / "sources.list"
    one_line.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://legacy.example/debian bookworm main\n"
    )
    assert apt_mirror(tmp_path / "none", one_line) == "http://legacy.example/debian"

    with pytest.raises(AsteriskUnavailable, match="no Debian archive"):
        apt_mirror(tmp_path / "none", tmp_path / "none")


def test_templates_need_every_placeholder() -> None:
    assert render("bind = 127.0.0.1:{{sip_port}} ; ${EXTEN} sip:a@b", {"sip_port": 5060}) == (
        "bind = 127.0.0.1:5060 ; ${EXTEN} sip:a@b"
    )
    with pytest.raises(KeyError, match="agent9_port"):
        render("{{agent9_port}}", {})
    with pytest.raises(ValueError, match="malformed"):
        render("{{ sip_port }}", {"sip_port": 1})


def test_credentials_refuse_what_would_break_a_config_file() -> None:
    with pytest.raises(ValueError, match="only letters"):
        Credentials("router", "pass;word")
    assert Credentials("router", "p4ss").basic_auth() == "Basic cm91dGVyOnA0c3M="


def test_asterisks_sip_port_is_never_among_the_phones_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel may hand out a port inside the phones' blocks (Linux: 32768-60999): seen
    once, SIP on 41004 with the phones from 41000, and every call of the suite failed."""
    offered = iter([41004, 45555, 39999])
    monkeypatch.setattr(sandbox_ports, "free_port", lambda kind=None: next(offered))
    assert free_sip_port() == 39999
