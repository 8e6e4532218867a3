"""Who used the machine's cores during a run, from /proc: the router (its event loop is its main
thread, and one core is all that thread can ever have), Asterisk, every process of the
PostgreSQL cluster, the SIPp phones, and the machine as a whole. For each, the total and its
busiest thread or process: a program can run out of CPU on one thread long before the machine
is busy. `bench/max_rate.py` reads it to say which process saturated first."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROUTER = "router"
ROUTER_LOOP = "router event loop"  # the router's main thread
ASTERISK = "Asterisk"
POSTGRES = "PostgreSQL"
SIPP = "SIPp"
MACHINE = "machine"
PROGRAMS = (ROUTER, ASTERISK, POSTGRES, SIPP)

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _fields(stat_file: Path) -> list[str] | None:
    """The fields of a /proc stat file after "pid (comm) "; None once it is gone."""
    try:
        stat = stat_file.read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def cpu_times(stat_file: Path) -> tuple[float, float] | None:
    """(user, system) CPU seconds from a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat (utime
    and stime, fields 14 and 15); None once it is gone."""
    fields = _fields(stat_file)
    if fields is None:
        return None
    return int(fields[11]) / _TICKS_PER_SECOND, int(fields[12]) / _TICKS_PER_SECOND


def _cpu_seconds(stat_file: Path) -> float:
    times = cpu_times(stat_file)
    return 0.0 if times is None else sum(times)


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of `pid`, by thread id."""
    try:
        tids = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return {}
    return {tid: _cpu_seconds(Path(f"/proc/{pid}/task/{tid}/stat")) for tid in tids}


def _processes() -> Iterable[tuple[int, str, int]]:
    """(pid, command name, parent pid) of every process."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _fields(entry / "stat")
            if fields is not None:
                try:
                    comm = (entry / "comm").read_text().strip()
                except OSError:
                    continue
                yield int(entry.name), comm, int(fields[1])


def postmaster_pid(cluster: Path) -> int | None:
    """The cluster's postmaster, from the first line of its postmaster.pid."""
    try:
        return int((cluster / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _machine_busy_seconds() -> float:
    """Busy CPU seconds of all cores since boot, from the `cpu` line of /proc/stat; waiting for
    the disk counts as idle."""
    words = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(word) for word in words[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS_PER_SECOND


@dataclass(frozen=True)
class CpuSample:
    at: float
    units: dict[str, dict[str, float]]  # program -> thread or process -> CPU seconds so far
    totals: dict[str, float]  # program -> CPU seconds so far, ended threads included
    machine: float


@dataclass(frozen=True)
class Usage:
    """A program's share of one core between two samples: all of it, and its busiest unit."""

    total: float
    busiest: float
    busiest_unit: str


class CpuWatch:
    def __init__(self, router: int, asterisk: int | None, postgres_cluster: Path) -> None:
        self.router_pid = router
        self._asterisk = asterisk
        self._cluster = postgres_cluster
        self.cores = os.cpu_count() or 1

    def sample(self) -> CpuSample:
        # A process's own stat counts the threads that ended too (Asterisk starts one per HTTP
        # connection), its threads' stats only those alive: totals from the former.
        units: dict[str, dict[str, float]] = {ROUTER: _threads(self.router_pid)}
        totals = {ROUTER: _cpu_seconds(Path(f"/proc/{self.router_pid}/stat"))}
        if self._asterisk is not None:
            units[ASTERISK] = _threads(self._asterisk)
            totals[ASTERISK] = _cpu_seconds(Path(f"/proc/{self._asterisk}/stat"))
        postmaster = postmaster_pid(self._cluster)
        postgres: dict[str, float] = {}
        sipp: dict[str, float] = {}
        for pid, comm, parent in _processes():
            if postmaster is not None and postmaster in (pid, parent):
                postgres[str(pid)] = _cpu_seconds(Path(f"/proc/{pid}/stat"))
            elif comm == "sipp":
                sipp[str(pid)] = _cpu_seconds(Path(f"/proc/{pid}/stat"))
        units[POSTGRES], units[SIPP] = postgres, sipp
        return CpuSample(time.monotonic(), units, totals, _machine_busy_seconds())

    def usage(self, earlier: CpuSample, later: CpuSample) -> dict[str, Usage]:
        """Each program's use between the samples, in % of one core; MACHINE in % of all cores.
        A thread or process present in only one of the samples counts from 0 (a PostgreSQL
        backend that ended takes its time with it: never below 0)."""
        wall = later.at - earlier.at
        if wall <= 0:
            return {}
        found: dict[str, Usage] = {}
        for program, units in later.units.items():
            before = earlier.units.get(program, {})
            shares = {
                unit: max(0.0, seconds - before.get(unit, 0.0)) / wall * 100
                for unit, seconds in units.items()
            }
            top = max(shares, key=shares.__getitem__, default="")
            total = sum(shares.values())
            if program in later.totals:
                spent = later.totals[program] - earlier.totals.get(program, 0.0)
                total = max(0.0, spent) / wall * 100
            found[program] = Usage(total, shares.get(top, 0.0), top)
            if program == ROUTER:
                loop = shares.get(str(self.router_pid), 0.0)
                found[ROUTER_LOOP] = Usage(loop, loop, str(self.router_pid))
        machine = (later.machine - earlier.machine) / wall * 100 / self.cores
        found[MACHINE] = Usage(machine, machine, "")
        return found
