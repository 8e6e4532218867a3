"""A local Asterisk 22 of our own: for the test suite, the ARI application's tests and the sandbox.

Debian 12 has no Asterisk 22, Debian unstable has. So we build a Debian-unstable root once with
debootstrap (into the cache directory, outside any checkout; about a minute) and run Asterisk in
it with chroot. The chroot shares the network, so Asterisk listens on 127.0.0.1 like any local
server. Nothing is ever installed into the host system except debootstrap itself.

Each `LocalAsterisk` keeps everything it writes (configuration, control socket, logs, astdb,
spool) in an instance directory of its own inside the root, named after the instance, and points
Asterisk at it with `-C`: the stock /etc/asterisk of the package is never read, so only our
configuration applies, and two instances on different ports (the sandbox left running and a test
run, say) never see each other's files.

The MIRROR for debootstrap comes from the machine's own apt sources at run time: a repository
host is never written down here.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from devkit.sandbox import FLAVOURS
from devkit.sandbox.debian import PackageUnavailable, apt_install
from devkit.sandbox.postgres import cache_dir
from sticky_router.process.prompts import FOLDER as PROMPT_FOLDER
from sticky_router.process.prompts import VOICES, make_prompts

ASTERISK_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-config")
DEBIAN_SUITE = "sid"
ROOT_MARKER = ".sticky-router-root"  # written last by a complete build; holds `asterisk -V`

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
INSTANCES_IN_ROOT = PurePosixPath("/var/lib/sticky-router")
OWNER_FILE = "throwaway-owner"  # in a throwaway instance's directory: the pid that started it
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

APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")

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


# --- the root ---------------------------------------------------------------------------------


def default_root() -> Path:
    return cache_dir() / "asterisk-root"


def apt_mirror(sources_dir: Path = APT_SOURCES_DIR, sources_list: Path = APT_SOURCES_LIST) -> str:
    """The first Debian archive URI this machine's apt uses (security archives do not carry sid).

    Reads deb822 `*.sources` files (`URIs:`), then the one-line `sources.list` format.
    """
    candidates: list[str] = []
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields = _deb822_fields(stanza)
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            if all(suite.endswith("-security") for suite in fields.get("suites", "").split()):
                continue
            candidates += fields.get("uris", "").split()
    if sources_list.is_file():
        for line in sources_list.read_text(errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and not words[2].endswith("-security"):
                candidates.append(words[1])
    for uri in candidates:
        if not uri.startswith("cdrom:"):
            return uri.rstrip("/")
    raise AsteriskUnavailable(
        f"no Debian archive found in {sources_dir}/*.sources or {sources_list}; "
        "debootstrap needs one to build the Asterisk root (or pass mirror= explicitly)"
    )


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key is not None:  # a continuation line
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def ensure_debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found:
        return found
    try:
        apt_install("debootstrap", "debootstrap is missing")
    except PackageUnavailable as error:
        raise AsteriskUnavailable(str(error)) from None
    found = shutil.which("debootstrap", path="/usr/sbin:/sbin:/usr/bin")
    if not found:
        raise AsteriskUnavailable("apt installed 'debootstrap' but it is still not on the path")
    return found


def root_is_usable(root: Path) -> bool:
    """A finished build: the binary, the modules and the marker written last are all there."""
    return (
        (root / ROOT_MARKER).is_file()
        and (root / "usr/sbin/asterisk").is_file()
        and any((root / "usr/lib").glob("*/asterisk/modules/chan_pjsip.so"))
    )


def ensure_asterisk_root(root: Path | None = None, mirror: str | None = None) -> Path:
    """The Debian-unstable root with Asterisk, built on first use and rebuilt when broken.

    The build goes into a temporary directory next to the root and is renamed into place only
    when complete, so an interrupted build never leaves a half root behind. A lock file keeps
    two processes (parallel test runs) from building at once.
    """
    if os.geteuid() != 0:
        raise AsteriskUnavailable(
            "the Asterisk sandbox needs root (debootstrap, chroot and mount all do)"
        )
    root = root or default_root()
    root.parent.mkdir(parents=True, exist_ok=True)
    root = root.resolve()  # mount points and /proc/PID/root are real paths
    with _locked(root.parent / f"{root.name}.lock"):
        for leftover in root.parent.glob(f"{root.name}.build-*"):
            _remove_tree(leftover)  # an interrupted build of an earlier run
        if root_is_usable(root):
            return root
        if root.exists():
            if _processes_in(root):
                raise AsteriskUnavailable(
                    f"{root} is broken but processes still run in it; stop them first"
                )
            _unmount_all(root)  # proc and /dev left behind by a crashed sandbox
            broken = root.with_name(f"{root.name}.build-broken")
            root.rename(broken)
            _remove_tree(broken)
        _build_root(root, mirror or apt_mirror())
    return root


def _build_root(root: Path, mirror: str) -> None:
    debootstrap = ensure_debootstrap()
    building = Path(tempfile.mkdtemp(prefix=f"{root.name}.build-", dir=root.parent))
    log = root.parent / f"{root.name}.build.log"
    try:
        with log.open("w") as output:
            result = subprocess.run(
                [debootstrap, "--variant=minbase", f"--include={','.join(ASTERISK_PACKAGES)}",
                 DEBIAN_SUITE, str(building), mirror],
                stdout=output, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if result.returncode != 0:
            raise AsteriskUnavailable(
                f"debootstrap of Debian {DEBIAN_SUITE} from {mirror} failed "
                f"(exit {result.returncode}); see {log}: {_tail(log)}"
            )
        # The package makes these the asterisk user's; we run Asterisk as root in the chroot.
        for directory in ("etc/asterisk", "var/lib/asterisk", "var/log/asterisk",
                          "var/spool/asterisk", "var/run/asterisk"):  # fmt: skip
            path = building / directory
            path.mkdir(parents=True, exist_ok=True)
            for entry in (path, *path.rglob("*")):
                os.lchown(entry, 0, 0)
        version = subprocess.run(
            ["chroot", str(building), "/usr/sbin/asterisk", "-V"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if version.returncode != 0 or not version.stdout.startswith("Asterisk"):
            raise AsteriskUnavailable(
                f"the new root's asterisk does not run: {version.stderr.strip()}"
            )
        (building / ROOT_MARKER).write_text(f"{version.stdout.strip()}\nmirror {mirror}\n")
        building.rename(root)
    finally:
        if building.exists():
            _remove_tree(building)


def asterisk_version(root: Path) -> str:
    """`Asterisk 22.x.y` as recorded when the root was built."""
    return (root / ROOT_MARKER).read_text().splitlines()[0]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- mounts and processes ---------------------------------------------------------------------


def _mount_points() -> list[Path]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split()[4]  # octal escapes for space, tab, newline, backslash
        points.append(Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), raw)))
    return points


def _mounts_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    path = path.resolve()
    inside = [p for p in _mount_points() if p == path or path in p.parents]
    return sorted(set(inside), key=lambda p: len(p.parts), reverse=True)


def _unmount_all(path: Path) -> None:
    for point in _mounts_under(path):
        if subprocess.run(["umount", str(point)], capture_output=True, check=False).returncode:
            # Busy (a process still has a file open there): detach now, freed when it closes.
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def _remove_tree(path: Path) -> None:
    """rm -rf that can never reach the host: everything mounted inside (a bound /dev, proc,
    what an interrupted debootstrap left) is unmounted first, and rm stays on one filesystem."""
    _unmount_all(path)
    if _mounts_under(path):
        raise AsteriskUnavailable(f"cannot remove {path}: something is still mounted inside")
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def _processes_in(root: Path) -> list[int]:
    """Processes whose root directory is `root`: our Asterisks and their `asterisk -rx`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "root") == str(root):
                    pids.append(int(entry.name))
    return pids


def _kill_instance(root: Path, name: str, spare: int | None = None) -> None:
    """Stop the Asterisk (`asterisk -f -C <its conf>`) of instance `name` in `root`: SIGTERM,
    then SIGKILL after 15 s."""
    marker = str(INSTANCES_IN_ROOT / name / "etc" / "asterisk.conf").encode()
    for pid in _processes_in(root):
        with contextlib.suppress(OSError):
            words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if pid != spare and marker in words and b"-f" in words:
                os.kill(pid, signal.SIGTERM)
                for _ in range(150):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)


SOUNDS = PurePosixPath("/usr/share/asterisk/sounds")


def _in_root(root: Path, path: PurePosixPath) -> Path:
    """Where `path`, as Asterisk sees it inside the root, is on this machine: symlinks followed
    inside the root (Debian's sounds/en points at /etc/alternatives/..., which outside the
    chroot would be this machine's own, or nothing)."""
    here = root
    for part in path.parts[1:]:
        here = here / part
        for _ in range(40):  # a symlink loop is not followed for ever
            if not here.is_symlink():
                break
            target = PurePosixPath(os.readlink(here))
            here = root / str(target).lstrip("/") if target.is_absolute() else here.parent / target
    return here


def _reap_orphans(root: Path, keep: str) -> None:
    """Throwaway instances whose owner died without stopping them (a test run killed with
    SIGKILL): their Asterisk would hold the mounts forever, and their directory is garbage."""
    for owner in (root / str(INSTANCES_IN_ROOT).lstrip("/")).glob(f"*/{OWNER_FILE}"):
        name = owner.parent.name
        with contextlib.suppress(ValueError, OSError):
            pid = int(owner.read_text())
            if name == keep or Path(f"/proc/{pid}").exists():
                continue
        _kill_instance(root, name)
        _remove_tree(owner.parent)


def _ensure_mounts(root: Path) -> None:
    mounted = set(_mount_points())
    if root / "proc" not in mounted:
        _mount("-t", "proc", "proc", str(root / "proc"))
    if root / "dev" not in mounted:
        # A plain (not recursive) bind: /dev/pts and /dev/shm are not needed, and a recursive
        # bind is what makes a careless unmount reach the host's own submounts.
        _mount("--bind", "/dev", str(root / "dev"))


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AsteriskUnavailable(f"mount {' '.join(args)} failed: {result.stderr.strip()}")


def _release_mounts(root: Path) -> None:
    """Unmount proc and /dev once no process runs in the root any more (they are shared by
    every instance in it, so the last one out turns off the light)."""
    if not _processes_in(root):
        for point in (root / "dev", root / "proc"):
            if point in _mounts_under(point):
                _unmount_all(point)


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


# Asterisk checks the ARI password on every REST request (Basic auth, no session), so each
# request pays one crypt(): 4.4 ms at SHA-crypt's default 5000 rounds, 0.9 ms at its minimum of
# 1000 (measured on the project's machine), and a sticky call waits for several requests in a
# row. Stretching protects guessable passwords; this one is a generated 192-bit secret, which no
# number of rounds makes easier or harder to find from the hash.
ARI_CRYPT_ROUNDS = 1000


def crypt_password(password: str) -> str:
    """SHA-512 crypt (`$6$rounds=1000$salt$hash`), what ari.conf's `password_format = crypt`
    checks against. From the system's libcrypt (on every Debian, the Asterisk image's too):
    Python's own `crypt` module is deprecated and gone in 3.13."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    try:
        library = ctypes.CDLL(name)
    except OSError as error:
        raise AsteriskUnavailable(f"no libcrypt to hash the ARI password with: {error}") from None
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = f"$6$rounds={ARI_CRYPT_ROUNDS}$" + secrets.token_hex(8) + "$"
    hashed = library.crypt(password.encode(), salt.encode())
    if not hashed or not hashed.startswith(salt.encode()):
        raise AsteriskUnavailable("libcrypt could not make a SHA-512 crypt hash")
    return str(hashed.decode())


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
        "ari_password_crypt": crypt_password(ari.password),
        "ami_user": ami.user,
        "ami_secret": ami.password,
        "ami_driver_user": ami_driver.user,
        "ami_driver_secret": ami_driver.password,
        "agi_secret": agi_secret,
        "ari_app": ARI_APP,
        "queue": support_queue(flavour),
        "flavour": flavour,
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


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Where the test suites' SIP phones live (each suite a block of its own: phone_ports_from). Ports
# the kernel hands out (32768-60999 on Linux) overlap it: an Asterisk SIP port picked there can
# land inside a block chosen a moment later (seen once: SIP on 41004, the phones from 41000).
PHONE_PORTS = range(40000, 50000)


def free_sip_port() -> int:
    """A free UDP port for Asterisk's SIP, never among the phones' ports."""
    for _ in range(100):
        port = free_port(socket.SOCK_DGRAM)
        if port not in PHONE_PORTS:
            return port
    raise AsteriskUnavailable("no free UDP port outside the phones' ports")


def free_udp_block(count: int, start: int = PHONE_PORTS.start, stop: int = PHONE_PORTS.stop) -> int:
    """The first port of `count` consecutive UDP ports that are free on loopback right now."""
    for base in range(start, stop - count, count):
        probes = []
        try:
            for port in range(base, base + count):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return base
    raise AsteriskUnavailable(f"no {count} consecutive free UDP ports in {start}-{stop}")


# --- the server -------------------------------------------------------------------------------


@dataclass
class LocalAsterisk:
    """One Asterisk in the shared root, with its own configuration, ports and credentials.

    SIP phones: the caller (SIPp UAC) sends from 127.0.0.1:`phone_base_port`, agent N answers on
    127.0.0.1:`phone_base_port + N`, agent2's softphone on `phone_base_port + 5`. ARI and AMI
    credentials are generated on every start unless passed in; read them from `ari_credentials`
    / `ami_credentials` after `start()`.

    One instance per name at a time: starting a name stops an Asterisk left running under that
    name. A `throwaway` instance deletes its directory on stop, and is reaped by the next start
    of any instance if the process that started it died without stopping it.
    """

    name: str = "sandbox"
    sip_port: int = 5060
    http_port: int = 8088
    ami_port: int = 5038
    agi_port: int = 4573  # where the dialplan finds the FastAGI server (AGI mode)
    phone_base_port: int = 5070
    rtp_ports: tuple[int, int] = (20000, 20999)
    ari: Credentials | None = None
    ami: Credentials | None = None  # the router's: reads call and agent events only
    agi_secret: str | None = field(default=None, repr=False)  # generated per start when None
    root: Path | None = None
    boot_timeout: float = 60.0
    throwaway: bool = False
    flavour: str = "plain"  # how agents are queue members: FLAVOURS
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _ari_live: Credentials | None = field(default=None, init=False, repr=False)
    _ami_live: Credentials | None = field(default=None, init=False, repr=False)
    _agi_secret_live: str | None = field(default=None, init=False, repr=False)
    _ami_driver_live: Credentials | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", self.name):
            raise ValueError(f"instance name {self.name!r}: lower-case letters, digits, _ and -")
        if self.flavour not in FLAVOURS:
            raise ValueError(f"flavour {self.flavour!r}: one of {', '.join(FLAVOURS)}")

    # Where things are. Paths "in root" are as Asterisk sees them inside the chroot.
    @property
    def root_dir(self) -> Path:
        if self.root is None:
            self.root = ensure_asterisk_root()
        # Resolved: mount points and /proc/PID/root are compared with it as real paths.
        self.root = self.root.resolve()
        return self.root

    @property
    def instance_in_root(self) -> PurePosixPath:
        return INSTANCES_IN_ROOT / self.name

    @property
    def instance_dir(self) -> Path:
        return self.root_dir / str(self.instance_in_root).lstrip("/")

    @property
    def log_file(self) -> Path:
        """Asterisk's `full` log (notices, warnings, errors, verbose 3) of the current run."""
        return self.instance_dir / "log" / "full"

    @property
    def _conf_in_root(self) -> str:
        return str(self.instance_in_root / "etc" / "asterisk.conf")

    # What clients need.
    @property
    def ari_url(self) -> str:
        """The ARI base URL, e.g. http://127.0.0.1:8088/ari (append /asterisk/info, ...)."""
        return f"http://127.0.0.1:{self.http_port}/ari"

    @property
    def ari_events_url(self) -> str:
        """The event websocket for the router's Stasis app (credentials go in a header)."""
        return f"ws://127.0.0.1:{self.http_port}/ari/events?app={ARI_APP}&subscribeAll=false"

    @property
    def ari_credentials(self) -> Credentials:
        if self._ari_live is None:
            raise AsteriskUnavailable(f"asterisk {self.name!r} is not started")
        return self._ari_live

    @property
    def ami_credentials(self) -> Credentials:
        if self._ami_live is None:
            raise AsteriskUnavailable(f"asterisk {self.name!r} is not started")
        return self._ami_live

    @property
    def ami_driver_credentials(self) -> Credentials:
        """The sandbox's own AMI user for playing supervisor in tests (QueuePause, Atxfer):
        the router's user may only read."""
        if self._ami_driver_live is None:
            raise AsteriskUnavailable(f"asterisk {self.name!r} is not started")
        return self._ami_driver_live

    @property
    def live_agi_secret(self) -> str:
        """The secret the dialplan's AGI URLs carry (STICKY_AGI_SECRET in [globals])."""
        if self._agi_secret_live is None:
            raise AsteriskUnavailable(f"asterisk {self.name!r} is not started")
        return self._agi_secret_live

    @property
    def caller_port(self) -> int:
        return self.phone_base_port

    def agent_port(self, agent: int | str) -> int:
        """Where an agent's phone (agent1..agent4, or agent2's softphone) answers."""
        phone = f"agent{agent}" if isinstance(agent, int) else agent
        if phone not in PHONES:
            raise ValueError(f"no phone {agent!r}; the sandbox has {', '.join(PHONES)}")
        return self.phone_base_port + PHONES.index(phone) + 1

    # Life cycle.
    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        root = self.root_dir
        started = time.monotonic()
        self._stop_leftover()
        _reap_orphans(root, keep=self.name)
        self._ari_live = self.ari or Credentials.generate()
        self._ami_live = self.ami or Credentials.generate()
        self._agi_secret_live = self.agi_secret or secrets.token_urlsafe(24)
        self._ami_driver_live = Credentials.generate(AMI_DRIVER_USER)
        try:
            self._write_instance()
            # The product's prompts for the local sandbox, as a deployment makes them. Test
            # instances start silent whatever a local sandbox left in the root they share (a
            # call's timing in a test does not wait for a prompt); a test that wants them
            # installs them (install_prompts).
            if self.throwaway:
                self.remove_prompts()
            else:
                self.install_prompts()
            _ensure_mounts(root)
            with (self.instance_dir / "log" / "console").open("wb") as console:
                self._process = subprocess.Popen(
                    # -f: stay in the foreground as our child, so we hold its pid and exit
                    # status, see a crash at once (poll) and can always kill it; with -F we
                    # would be chasing a pid file. -n: no colour codes in the log.
                    ["chroot", str(root), "/usr/sbin/asterisk", "-f", "-n", "-U", "root",
                     "-G", "root", "-C", self._conf_in_root],
                    stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                )  # fmt: skip
            self._wait_booted(started + self.boot_timeout)
            self.log_in_agents()
        except BaseException:
            self.stop()  # also unmounts what we mounted, unless another instance runs
            raise

    def prompt_folders(self) -> dict[str, Path]:
        """Each language's sounds folder in the root, as Asterisk sees it (symlinks followed)."""
        return {language: _in_root(self.root_dir, SOUNDS / language) for language in VOICES}

    def install_prompts(self) -> None:
        """The product's prompts (`sticky-router prompts`) into the root's sounds; Playback finds
        them from the next call on."""
        make_prompts(self.prompt_folders())

    def remove_prompts(self) -> None:
        for folder in self.prompt_folders().values():
            shutil.rmtree(folder / PROMPT_FOLDER, ignore_errors=True)

    def stop(self) -> None:
        """Stop Asterisk (gracefully, then by force) and release the mounts, also after a crash
        or a failed start. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: Asterisk's own fast shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.root is not None:
            self._stop_leftover()
            if self.throwaway and self.instance_dir.exists():
                _remove_tree(self.instance_dir)
            _release_mounts(self.root)

    def is_running(self) -> bool:
        """Our Asterisk runs and answers on its control socket."""
        if self._process is None or self._process.poll() is not None:
            return False
        return self._rx("core show uptime", timeout=10).returncode == 0

    def log_in_agents(self, *agents: str) -> None:
        """Agents log in to the support queue as dynamic members, the way most support lines
        work (a feature code or an agent panel calls AddQueueMember), as members of this
        flavour; all four at start. An agent already logged in stays as they are."""
        for agent in agents or AGENTS:
            member, state = queue_member(agent, self.flavour)
            line = f"queue add member {member} to {self.queue} penalty 0 as {agent}"
            self._rx(line + (f" state_interface {state}" if state else ""), 10)

    def log_out_agent(self, agent: str) -> None:
        self.cli(f"queue remove member {self.member(agent)} from {self.queue}")

    @property
    def queue(self) -> str:
        """The queue agents log in to and every miss falls back to (`queue show` takes it)."""
        return support_queue(self.flavour)

    def member(self, agent: str) -> str:
        """The agent's interface in the queues (what `queue pause member` takes)."""
        return queue_member(agent, self.flavour)[0]

    def cli(self, command: str, timeout: float = 30) -> str:
        """Run one CLI command (`asterisk -rx`) and return what it printed."""
        result = self._rx(command, timeout=timeout)
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip()
            raise AsteriskUnavailable(f"asterisk -rx {command!r} failed: {said}")
        return result.stdout

    def __enter__(self) -> LocalAsterisk:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Inside.
    def _rx(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["chroot", str(self.root_dir), "/usr/sbin/asterisk", "-C", self._conf_in_root,
                 "-rx", command],
                capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([], 124, "", f"no answer within {timeout} s")

    def _wait_booted(self, deadline: float) -> None:
        process = self._process
        assert process is not None
        while True:
            if process.poll() is not None:
                raise AsteriskUnavailable(
                    f"asterisk {self.name!r} exited with {process.returncode} while starting; "
                    f"last lines of {self.instance_dir}/log: {self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AsteriskUnavailable(
                    f"asterisk {self.name!r} did not finish booting within {self.boot_timeout} s; "
                    f"last lines: {self._log_tail()}"
                )
            # Fails fast while the control socket is not there yet, then blocks until booted.
            booted = self._rx("core waitfullybooted", timeout=min(remaining, 30))
            if booted.returncode == 0 and "Asterisk has fully booted" in booted.stdout:
                break
            time.sleep(0.1)
        status = None
        while time.monotonic() < deadline:
            status = self._ari_status()
            if status == 200:
                return
            if status is not None:
                break  # someone answers, and refuses the credentials we just wrote: not ours
            time.sleep(0.1)
        raise AsteriskUnavailable(
            f"asterisk {self.name!r} booted but ARI on {self.ari_url} answers {status or 'nothing'}"
            f" (is port {self.http_port} taken by another server?); last lines: {self._log_tail()}"
        )

    def _ari_status(self) -> int | None:
        # S310: the URL is ours, http://127.0.0.1:<port>/ari/...; never a file: or other scheme.
        url = f"{self.ari_url}/asterisk/info"
        auth = {"Authorization": self.ari_credentials.basic_auth()}
        request = urllib.request.Request(url, headers=auth)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, OSError):
            return None

    def _stop_leftover(self) -> None:
        """An Asterisk of this instance name that is not our child: a run that crashed or was
        killed before it could stop it. It holds our ports and control socket, so it goes."""
        if self.root is not None:
            mine = self._process.pid if self._process is not None else None
            _kill_instance(self.root, self.name, spare=mine)

    def _write_instance(self) -> None:
        instance = self.instance_dir
        if instance.exists():
            _remove_tree(instance)  # the last run's config and logs; this one starts clean
        etc = instance / "etc"
        for directory in ("etc", "run", "log", "spool", "db"):
            (instance / directory).mkdir(parents=True, mode=0o700)
        if self.throwaway:
            (instance / OWNER_FILE).write_text(f"{os.getpid()}\n")
        values = self._template_values()
        for template in sorted(CONF_TEMPLATES.glob("*.conf")):
            target = etc / template.name
            target.write_text(render(template.read_text(), values))
            target.chmod(0o600)  # manager.conf and extensions.conf hold secrets
        for name in EMPTY_CONFIGS:
            (etc / name).write_text("; empty on purpose: this module's built-in defaults apply\n")
        for name in STOCK_FILES_KEPT:
            stock = self.root_dir / "etc/asterisk" / name
            if stock.is_file():
                shutil.copyfile(stock, etc / name)
        dialplan = etc / DIALPLAN_IN_ETC
        if self.flavour == "freepbx":
            # Where docs/pbx-flavours.md tells a FreePBX administrator to put them.
            dialplan = etc
            for template in sorted((CONF_TEMPLATES / FREEPBX_TEMPLATES).glob("*.conf")):
                (etc / template.name).write_text(render(template.read_text(), values))
        else:
            dialplan.mkdir()
        for source in sorted(dialplan_dir().glob("*.conf")):
            shutil.copyfile(source, dialplan / source.name)

    def _template_values(self) -> dict[str, object]:
        modules = next((self.root_dir / "usr/lib").glob("*/asterisk/modules"), None)
        if modules is None:
            raise AsteriskUnavailable(f"{self.root_dir} has no asterisk modules directory")
        return template_values(
            instance=str(self.instance_in_root),
            modules_dir="/" + str(modules.relative_to(self.root_dir)),
            ports=TemplatePorts(
                sip=self.sip_port,
                http=self.http_port,
                ami=self.ami_port,
                agi=self.agi_port,
                phone_base=self.phone_base_port,
                rtp_start=self.rtp_ports[0],
                rtp_end=self.rtp_ports[1],
            ),
            ari=self.ari_credentials,
            ami=self.ami_credentials,
            ami_driver=self.ami_driver_credentials,
            agi_secret=self.live_agi_secret,
            flavour=self.flavour,
        )

    def _log_tail(self, lines: int = 15) -> str:
        for name in ("full", "console"):
            path = self.instance_dir / "log" / name
            if path.is_file() and path.stat().st_size:
                return _tail(path, lines)
        return "(no log written)"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def throwaway_asterisk(
    prefix: str = "test", phone_ports_from: int = 40000, flavour: str = "plain"
) -> Iterator[LocalAsterisk]:
    """An Asterisk on free loopback ports for the duration of the `with` block; its instance
    directory (configuration, logs) is deleted afterwards. Suites that may run at the same time
    pass different `phone_ports_from`: a phone port looks free until its SIPp starts."""
    server = LocalAsterisk(
        name=f"{prefix}-{os.getpid()}",
        throwaway=True,
        sip_port=free_sip_port(),
        http_port=free_port(),
        ami_port=free_port(),
        agi_port=free_port(),
        phone_base_port=free_udp_block(len(PHONES) + 1, start=phone_ports_from),
        flavour=flavour,
    )
    with server:
        yield server
