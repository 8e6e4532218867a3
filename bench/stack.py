"""What every call bench starts and ends with: the throwaway PostgreSQL (with the bench's data),
the throwaway Asterisk 22 and the router against them, in a work directory whose logs are kept
when asked for or when the bench could not run."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.call_rig import BenchError, seed_bench_data
from bench.router_process import RouterProcess
from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk
from devkit.sandbox.postgres import LocalPostgres, throwaway_postgres
from sticky_router.process import database


@dataclass
class Rig:
    postgres: LocalPostgres
    asterisk: LocalAsterisk
    router: RouterProcess
    router_exit: int | None = None  # once the rig is closed: the router's exit code on SIGTERM


@contextlib.contextmanager
def router_rig(
    name: str, phone_ports_from: int, work: Path, router_env: Mapping[str, str] | None = None
) -> Iterator[Rig]:
    """PostgreSQL with the bench data, Asterisk (phones from `phone_ports_from`), the router
    started (with `router_env`'s STICKY_* settings too) and connected; on leaving, the router
    stopped and Asterisk's full log (each dialplan step, to the millisecond) copied into `work`
    with the others."""
    with (
        throwaway_postgres() as postgres,
        throwaway_asterisk(name, phone_ports_from=phone_ports_from) as asterisk,
    ):
        database.upgrade(postgres.dsn)
        asyncio.run(seed_bench_data(postgres.dsn))
        router = RouterProcess(
            postgres, asterisk, work / "router.log", extra_env=dict(router_env or {})
        )
        rig = Rig(postgres, asterisk, router)
        try:
            rig.router.start()
            yield rig
        finally:
            rig.router_exit = rig.router.stop()
            with contextlib.suppress(OSError):
                shutil.copy(asterisk.log_file, work / "asterisk-full.log")


def run_in_work_dir(prefix: str, run: Callable[[Path], list[str]], keep_logs: bool) -> int:
    """A bench's main: `run` in a directory of its own, its lines printed; the logs kept when
    asked or when the bench could not run (exit code 1: no root, no Asterisk, a port taken, a
    router or SIPp that would not start)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        lines = run(work)
    except KeyboardInterrupt:
        print(f"\nInterrupted; logs kept in {work}", file=sys.stderr)
        return 1
    except (BenchError, RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"\nThe bench could not run: {error}", file=sys.stderr)
        print(f"Logs kept in {work}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"\nThe bench could not run (see above); logs kept in {work}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if keep_logs:
        print(f"  logs: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0
