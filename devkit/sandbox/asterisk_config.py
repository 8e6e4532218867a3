"""The sandbox's Asterisk configuration: the names the dialplan, the ARI application and the tests
agree on, the credentials, the agents as each PBX flavour knows them, and the templates in
asterisk_conf/ with the one function that fills them, for the sandbox (asterisk.py) and for the
container (docker/render_asterisk_conf.py) alike. Standard library only, so that the Asterisk
image can run it without the project's dependencies.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sticky_router.ami.event_names import manager_conf_lines

# What the dialplan and the ARI application agree on.
ARI_APP = "sticky-router"
SUPPORT_QUEUE = "support"
AMI_DRIVER_USER = "sticky-sandbox-driver"
AGENTS = ("agent1", "agent2", "agent3", "agent4")
# agent2's second phone (a softphone beside the desk phone): in the FreePBX-style flavour both
# ring behind one hint. It answers on the port after agent4's.
SOFTPHONE = "agent2soft"
PHONES = (*AGENTS, SOFTPHONE)
# How agents are members of the queues (FLAVOURS, in sandbox/__init__.py; docs/pbx-flavours.md):
#   plain    each agent's own endpoint (PJSIP/agent2), its device state Asterisk's own;
#   freepbx  as FreePBX and Issabel make them: a Local channel through the PBX's from-queue
#            context (Local/102@from-queue/n), the state from the extension's hint
#            (hint:102@ext-local), which may name several phones.
# asterisk_conf/freepbx/: a PBX laid out as FreePBX lays it out, its context names FreePBX's own
# (so docs/pbx-flavours.md's values are the ones tested), their contents in the project's words.
PBX_FROM_QUEUE = "from-queue"
PBX_EXT_LOCAL = "ext-local"  # the extensions' hints
PBX_EXTENSION_ONLY = "from-queue-exten-only"  # rings an extension's phones, no follow-me
FREEPBX_QUEUE = "400"  # FreePBX names its queues by number
FREEPBX_AGI_DID = "74950000001"  # its inbound route goes to the FastAGI custom destination
# The targets of the two Custom Destinations, as docs/pbx-flavours.md tells an administrator to
# type them (tests/flavours/test_freepbx_readme.py holds the two together).
FREEPBX_DESTINATIONS = {
    "ari": "sticky-inbound,from-did,1",
    "agi": "sticky-agi-inbound,from-did,1",
}
FREEPBX_TEMPLATES = "freepbx"  # under asterisk_conf/: FreePBX's files, for that flavour only

CONF_TEMPLATES = Path(__file__).with_name("asterisk_conf")
DIALPLAN_IN_ETC = "sticky-router-dialplan"
# Files of the package's stock configuration that are data, not policy: the tone tables that
# Playtones, Queue's ringing and early media read. Everything else is ours.
STOCK_FILES_KEPT = ("indications.conf",)
# Modules we keep loaded whose built-in defaults suit the sandbox, but which log an error when
# their file is missing: they get an empty one.
EMPTY_CONFIGS = (
    "acl.conf", "ccss.conf", "cdr.conf", "cel.conf", "pjproject.conf",
    "stasis.conf", "udptl.conf", "websocket_client.conf",
)  # fmt: skip

# Characters a generated or passed-in credential may use: anything else could end a value or
# start a comment in ari.conf / manager.conf.
_CREDENTIAL = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")
_PLACEHOLDER = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


class AsteriskUnavailable(RuntimeError):
    """The root cannot be built, or Asterisk did not start or answer."""


@dataclass(frozen=True)
class Credentials:
    """A user and password for ARI or AMI. The password stays out of repr and error messages."""

    user: str
    password: str = field(repr=False)

    @classmethod
    def generate(cls, user: str = "sticky-router") -> Credentials:
        return cls(user, secrets.token_urlsafe(24))

    def __post_init__(self) -> None:
        for value in (self.user, self.password):
            if not _CREDENTIAL.fullmatch(value):
                raise ValueError(
                    f"credentials for {self.user!r}: only letters, digits and _.@+- are allowed"
                )

    def basic_auth(self) -> str:
        """The value of an HTTP `Authorization` header."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"


# --- configuration ----------------------------------------------------------------------------


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill `{{name}}` placeholders. Not str.format or string.Template: Asterisk configuration
    is full of `${VAR}` and `sip:user@host`, and `{{...}}` appears nowhere in it."""
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if unknown:
        raise KeyError(f"no value for placeholder(s) {', '.join(unknown)}")
    rendered = _PLACEHOLDER.sub(lambda match: str(values[match[1]]), template)
    if "{{" in rendered:
        line = next(line for line in rendered.splitlines() if "{{" in line)
        raise ValueError(f"malformed placeholder in a configuration template: {line.strip()}")
    return rendered


@dataclass(frozen=True)
class TemplatePorts:
    sip: int
    http: int
    ami: int
    agi: int
    phone_base: int  # the caller's port; agent N answers on phone_base + N, the softphone on + 5
    rtp_start: int
    rtp_end: int


def template_values(
    *,
    instance: str,
    modules_dir: str,
    ports: TemplatePorts,
    ari: Credentials,
    ami: Credentials,
    ami_driver: Credentials,
    agi_secret: str,
    flavour: str = "plain",
    system_name: str = "",
    peer_nodes: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """Every placeholder of the templates in asterisk_conf/: the one place that fills them, for
    the sandbox and for the container (docker/render_asterisk_conf.py) alike."""
    values: dict[str, object] = {
        "instance": instance,
        "modules_dir": modules_dir,
        "sip_port": ports.sip,
        "http_port": ports.http,
        "ami_port": ports.ami,
        "agi_port": ports.agi,
        "caller_port": ports.phone_base,
        "rtp_start": ports.rtp_start,
        "rtp_end": ports.rtp_end,
        "ari_user": ari.user,
        "ari_password": ari.password,
        "ami_user": ami.user,
        "ami_secret": ami.password,
        "ami_event_filters": "\n".join(manager_conf_lines()),
        "ami_driver_user": ami_driver.user,
        "ami_driver_secret": ami_driver.password,
        "agi_secret": agi_secret,
        "ari_app": ARI_APP,
        "queue": support_queue(flavour),
        "flavour": flavour,
        # A node of several: Asterisk then starts every Uniqueid (the router's call id) with it.
        "system_name_option": (
            f"systemname = {system_name}" if system_name else "; one node: no systemname"
        ),
        # The other nodes, by name: their SIP ports on loopback.
        "node_trunks": node_trunks(peer_nodes or {}),
        # FreePBX's extensions.conf includes its generated contexts and the administrator's
        # own file, which includes the project's dialplan (copied next to it, as the doc says).
        "dialplan_includes": (
            '#include "extensions_additional.conf"\n#include "extensions_custom.conf"'
            if flavour == "freepbx"
            else f'#include "{DIALPLAN_IN_ETC}/*.conf"'
        ),
        # Where a call from the trunk goes: FreePBX's inbound routes, or the router at once.
        "callers_entry": "from-pstn" if flavour == "freepbx" else "sticky-inbound",
        "freepbx_agi_did": FREEPBX_AGI_DID,
        "freepbx_destination_ari": FREEPBX_DESTINATIONS["ari"],
        "freepbx_destination_agi": FREEPBX_DESTINATIONS["agi"],
    }
    for number, phone in enumerate(PHONES, start=1):
        values[f"{phone}_port"] = ports.phone_base + number
    return values


def node_trunks(peer_nodes: Mapping[str, int]) -> str:
    """pjsip.conf's endpoints to the other nodes (name -> SIP port on 127.0.0.1)."""
    if not peer_nodes:
        return "; one node: no trunks"
    sections = []
    for name, port in sorted(peer_nodes.items()):
        sections.append(
            f"[{name}]\ntype = endpoint\ntransport = transport-udp\n"
            "context = sticky-from-nodes\ndisallow = all\nallow = ulaw,alaw\n"
            "direct_media = no\nmedia_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n"
            "rtp_symmetric = yes\ntrust_id_inbound = yes\nsend_connected_line = no\n"
            f"aors = {name}\n"
            f"[{name}]\ntype = aor\ncontact = sip:127.0.0.1:{port}\nqualify_frequency = 0\n"
            f"[{name}-identify]\ntype = identify\nendpoint = {name}\n"
            f"match = 127.0.0.1:{port}\n"
        )
    return "\n".join(sections)


def support_queue(flavour: str) -> str:
    """The queue every miss falls back to: `support`, or on FreePBX a queue number."""
    return FREEPBX_QUEUE if flavour == "freepbx" else SUPPORT_QUEUE


def extension_of(agent: str) -> str:
    """The extension number a PBX knows the agent by: agent2 -> 102."""
    return f"{100 + AGENTS.index(agent) + 1}"


@dataclass(frozen=True)
class AgentIdentity:
    """How the router must know an agent on this flavour (the agents table's PBX columns)."""

    endpoint: str
    queue_interface: str | None
    state_interface: str | None
    devices: tuple[str, ...]


def agent_identity(agent: str, flavour: str) -> AgentIdentity:
    """plain: the agent's own PJSIP endpoint is all; freepbx: dial the extension's phones and
    nothing else (FreePBX's from-queue-exten-only), know the queue's Local member apart, read
    the hint, know the phones behind it."""
    member, state = queue_member(agent, flavour)
    if flavour != "freepbx":
        return AgentIdentity(member, None, None, ())
    phones = (f"PJSIP/{agent}", f"PJSIP/{SOFTPHONE}") if agent == "agent2" else (f"PJSIP/{agent}",)
    endpoint = f"Local/{extension_of(agent)}@{PBX_EXTENSION_ONLY}/n"
    return AgentIdentity(endpoint, member, state, phones)


def queue_member(agent: str, flavour: str) -> tuple[str, str | None]:
    """(member interface, state interface) of the agent in the queues of this flavour."""
    if flavour == "freepbx":
        extension = extension_of(agent)
        return f"Local/{extension}@{PBX_FROM_QUEUE}/n", f"hint:{extension}@{PBX_EXT_LOCAL}"
    return f"PJSIP/{agent}", None


def dialplan_dir() -> Path:
    """The project's dialplan/*.conf, at the root of the checkout the development kit lives in
    (the Asterisk image copies both with the same layout)."""
    checkout = Path(__file__).resolve().parents[2]  # devkit/sandbox/asterisk.py -> checkout
    if any((checkout / "dialplan").glob("*.conf")):
        return checkout / "dialplan"
    raise AsteriskUnavailable(f"no dialplan/*.conf in {checkout}")
