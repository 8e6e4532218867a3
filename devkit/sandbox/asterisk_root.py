"""The Debian-unstable root Asterisk 22 runs in: built once with debootstrap into the cache (about
a minute), from the mirror the machine's own apt sources name, and the mounts and processes of
the instances that run in it.

Debian 12 has no Asterisk 22, Debian unstable has. Nothing is ever installed into the host
system except debootstrap itself; a repository host is never written down here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from devkit.sandbox.asterisk_config import AsteriskUnavailable
from devkit.sandbox.debian import PackageUnavailable, apt_install
from devkit.sandbox.postgres import cache_dir

ASTERISK_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-config")
DEBIAN_SUITE = "sid"
ROOT_MARKER = ".sticky-router-root"  # written last by a complete build; holds `asterisk -V`
INSTANCES_IN_ROOT = PurePosixPath("/var/lib/sticky-router")
OWNER_FILE = "throwaway-owner"  # in a throwaway instance's directory: the pid that started it
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")


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
            remove_tree(leftover)  # an interrupted build of an earlier run
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
            remove_tree(broken)
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
                f"(exit {result.returncode}); see {log}: {tail(log)}"
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
            remove_tree(building)


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


def remove_tree(path: Path) -> None:
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


def kill_instance(root: Path, name: str, spare: int | None = None) -> None:
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


def in_root(root: Path, path: PurePosixPath) -> Path:
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


def reap_orphans(root: Path, keep: str) -> None:
    """Throwaway instances whose owner died without stopping them (a test run killed with
    SIGKILL): their Asterisk would hold the mounts forever, and their directory is garbage."""
    for owner in (root / str(INSTANCES_IN_ROOT).lstrip("/")).glob(f"*/{OWNER_FILE}"):
        name = owner.parent.name
        with contextlib.suppress(ValueError, OSError):
            pid = int(owner.read_text())
            if name == keep or Path(f"/proc/{pid}").exists():
                continue
        kill_instance(root, name)
        remove_tree(owner.parent)


def ensure_mounts(root: Path) -> None:
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


def release_mounts(root: Path) -> None:
    """Unmount proc and /dev once no process runs in the root any more (they are shared by
    every instance in it, so the last one out turns off the light)."""
    if not _processes_in(root):
        for point in (root / "dev", root / "proc"):
            if point in _mounts_under(point):
                _unmount_all(point)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])
