"""The credentials the project ships give the router what it needs and nothing more, on a real
Asterisk 22: its AMI user reads call and agent events and can change nothing; ari.conf holds a
hash, not the password; a deployment cannot start on the examples' placeholder secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import Credentials
from sticky_router.process.config import ConfigError, load_config

DOCKER = Path(__file__).resolve().parents[2] / "docker"


async def ami_session(asterisk: LocalAsterisk, credentials: Credentials, *actions: str) -> str:
    """Log in and send `actions` (each a block of `Key: value` lines); everything Asterisk said."""
    reader, writer = await asyncio.open_connection("127.0.0.1", asterisk.ami_port)
    try:
        await reader.readline()  # the banner
        blocks = [f"Action: Login\r\nUsername: {credentials.user}\r\nSecret: "
                  f"{credentials.password}\r\nEvents: off\r\n"]  # fmt: skip
        blocks += [f"{action}\r\n" for action in actions] + ["Action: Logoff\r\n"]
        writer.write("\r\n".join(blocks).encode() + b"\r\n")
        await writer.drain()
        said = b""
        while b"Goodbye" not in said and b"Thanks for all the fish" not in said:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            said += chunk
        return said.decode(errors="replace")
    finally:
        writer.close()


@pytest.mark.parametrize(
    "action",
    [
        "Action: Originate\r\nChannel: PJSIP/agent1\r\nApplication: Wait\r\nData: 1",
        "Action: Command\r\nCommand: core show channels",
        "Action: Hangup\r\nChannel: /.*/",
        "Action: GetConfig\r\nFilename: manager.conf",
        "Action: QueuePause\r\nInterface: PJSIP/agent1\r\nPaused: true",
    ],
    ids=["originate", "cli command", "hangup", "read configuration", "pause an agent"],
)
async def test_the_routers_ami_user_can_change_nothing(
    asterisk: LocalAsterisk, action: str
) -> None:
    said = await ami_session(asterisk, asterisk.ami_credentials, action)
    assert "Authentication accepted" in said  # it is the right user, logged in
    assert "Permission denied" in said, said
    assert "Originate successfully queued" not in said


async def test_the_routers_ami_user_still_hears_calls_and_queues(asterisk: LocalAsterisk) -> None:
    """The other side: the classes the learner logs in for are granted (Login's Events)."""
    said = await ami_session(asterisk, asterisk.ami_credentials, "Action: Ping")
    assert "Authentication accepted" in said
    assert "Response: Success\r\nActionID" in said or "Ping: Pong" in said


def test_ari_conf_is_for_asterisks_eyes_only_and_asterisk_takes_the_password(
    asterisk: LocalAsterisk,
) -> None:
    """The password is plain (a crypt hash cost Asterisk 0.5 ms of every ARI request: see
    ari.conf), so the file is readable by its owner alone, like manager.conf."""
    ari_conf = asterisk.instance_dir / "etc" / "ari.conf"
    assert "password_format = plain" in ari_conf.read_text()
    for name in ("ari.conf", "manager.conf"):
        assert (asterisk.instance_dir / "etc" / name).stat().st_mode & 0o077 == 0, name

    def status(credentials: Credentials) -> int:
        request = urllib.request.Request(
            f"{asterisk.ari_url}/asterisk/info",
            headers={"Authorization": credentials.basic_auth()},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert status(asterisk.ari_credentials) == 200
    assert status(Credentials(asterisk.ari_credentials.user, "not-the-password")) == 401


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STICKY_ARI_PASSWORD", "change-me-ari"),
        ("STICKY_AMI_PASSWORD", "change-me-ami"),
        ("STICKY_AGI_SECRET", "change-me-agi-secret"),
        ("STICKY_DATABASE_URL", "postgresql://sticky:change-me-postgres@127.0.0.1/sticky"),
    ],
)
def test_the_router_refuses_to_start_on_a_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    for name in ("STICKY_ARI_PASSWORD", "STICKY_AMI_PASSWORD", "STICKY_AGI_SECRET",
                 "STICKY_DATABASE_URL", "STICKY_CONFIG_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_config()
    assert variable in str(refused.value)
    assert "placeholder" in str(refused.value)
    assert "change-me-postgres" not in str(refused.value)  # the URL is never echoed


def test_the_containers_asterisk_refuses_placeholder_secrets() -> None:
    """docker/render_asterisk_conf.py, which writes the container's ari.conf/manager.conf."""
    spec = importlib.util.spec_from_file_location("render", DOCKER / "render_asterisk_conf.py")
    assert spec is not None
    assert spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    good = {"STICKY_ARI_PASSWORD": "ari-secret-1", "STICKY_AMI_PASSWORD": "ami-secret-1",
            "STICKY_AGI_SECRET": "agi-secret-0123456789"}  # fmt: skip
    values = render.environment_values(good, "/tmp/instance", "/usr/lib/asterisk/modules")
    assert values["ari_password"] == "ari-secret-1"
    for name, placeholder in (("STICKY_ARI_PASSWORD", "change-me-ari"),
                              ("STICKY_AMI_PASSWORD", "change-me-ami"),
                              ("STICKY_AGI_SECRET", "change-me-agi-secret")):  # fmt: skip
        with pytest.raises(render.RenderError, match=name):
            render.environment_values({**good, name: placeholder}, "/tmp/i", "/usr/lib/m")
