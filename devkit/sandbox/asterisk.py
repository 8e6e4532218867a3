"""A local Asterisk 22 of our own: for the test suite, the ARI application's tests and the sandbox.

Asterisk runs with chroot in the Debian-unstable root that asterisk_root.py builds once (Debian
12 has no Asterisk 22); the chroot shares the network, so Asterisk listens on 127.0.0.1 like any
local server. Its configuration is asterisk_config.py's templates, filled for this instance.

Each `LocalAsterisk` keeps everything it writes (configuration, control socket, logs, astdb,
spool) in an instance directory of its own inside the root, named after the instance, and points
Asterisk at it with `-C`: the stock /etc/asterisk of the package is never read, so only our
configuration applies, and two instances on different ports (the sandbox left running and a test
run, say) never see each other's files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from devkit.sandbox import FLAVOURS
from devkit.sandbox.asterisk_config import (
    AGENTS,
    AMI_DRIVER_USER,
    ARI_APP,
    CONF_TEMPLATES,
    DIALPLAN_IN_ETC,
    EMPTY_CONFIGS,
    FREEPBX_TEMPLATES,
    PHONES,
    STOCK_FILES_KEPT,
    AsteriskUnavailable,
    Credentials,
    TemplatePorts,
    dialplan_dir,
    queue_member,
    render,
    support_queue,
    template_values,
)
from devkit.sandbox.asterisk_root import (
    INSTANCES_IN_ROOT,
    OWNER_FILE,
    SOUNDS,
    ensure_asterisk_root,
    ensure_mounts,
    in_root,
    kill_instance,
    reap_orphans,
    release_mounts,
    remove_tree,
    tail,
)
from devkit.sandbox.ports import free_port, free_sip_port, free_udp_block
from sticky_router.process.prompts import FOLDER as PROMPT_FOLDER
from sticky_router.process.prompts import VOICES, make_prompts


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
    # One node of several: Asterisk's `systemname`, which starts every Uniqueid ("" for none).
    system_name: str = ""
    # The other nodes of a multi-node sandbox: name -> SIP port on 127.0.0.1 (trunks to them).
    peer_nodes: dict[str, int] = field(default_factory=dict)
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
        if self.system_name and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", self.system_name):
            raise ValueError(f"system name {self.system_name!r}: lower-case letters, digits, -")

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
        reap_orphans(root, keep=self.name)
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
            ensure_mounts(root)
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
        return {language: in_root(self.root_dir, SOUNDS / language) for language in VOICES}

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
                remove_tree(self.instance_dir)
            release_mounts(self.root)

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
            kill_instance(self.root, self.name, spare=mine)

    def _write_instance(self) -> None:
        instance = self.instance_dir
        if instance.exists():
            remove_tree(instance)  # the last run's config and logs; this one starts clean
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
            system_name=self.system_name,
            peer_nodes=self.peer_nodes,
        )

    def _log_tail(self, lines: int = 15) -> str:
        for name in ("full", "console"):
            path = self.instance_dir / "log" / name
            if path.is_file() and path.stat().st_size:
                return tail(path, lines)
        return "(no log written)"


def throwaway_instance(
    prefix: str = "test",
    phone_ports_from: int = 40000,
    flavour: str = "plain",
    system_name: str = "",
) -> LocalAsterisk:
    """An Asterisk on free loopback ports, not started; its instance directory (configuration,
    logs) is deleted when it stops."""
    return LocalAsterisk(
        name=f"{prefix}-{os.getpid()}",
        system_name=system_name,
        throwaway=True,
        sip_port=free_sip_port(),
        http_port=free_port(),
        ami_port=free_port(),
        agi_port=free_port(),
        phone_base_port=free_udp_block(len(PHONES) + 1, start=phone_ports_from),
        flavour=flavour,
    )


@contextlib.contextmanager
def throwaway_asterisk(
    prefix: str = "test",
    phone_ports_from: int = 40000,
    flavour: str = "plain",
    system_name: str = "",
) -> Iterator[LocalAsterisk]:
    """A throwaway_instance for the duration of the `with` block. Suites that may run at the
    same time pass different `phone_ports_from`: a phone port looks free until its SIPp
    starts."""
    with throwaway_instance(prefix, phone_ports_from, flavour, system_name) as server:
        yield server
