"""A sampling profile of a running process, taken by py-spy (a dev dependency) while a bench
runs: a flame graph (SVG, open it in a browser) and the collapsed stacks (text, one stack per
line with its sample count) that `top_frames` summarises for the bench's report."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType


class Profile:
    """`with Profile(pid, out_dir, "router"):` samples `pid` for the block's duration."""

    def __init__(self, pid: int, out_dir: Path, name: str, rate: int = 250) -> None:
        self.pid = pid
        self.name = name
        self.rate = rate
        self.svg = out_dir / f"{name}.svg"
        self.collapsed = out_dir / f"{name}.collapsed.txt"
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Profile:
        spy = _py_spy()
        for output, form in ((self.svg, "flamegraph"), (self.collapsed, "raw")):
            # Two samplers side by side rather than one: py-spy writes one format per run.
            command = [
                spy, "record", "--pid", str(self.pid), "--rate", str(self.rate),
                "--format", form, "--output", str(output),
            ]  # fmt: skip
            with output.with_suffix(".py-spy.log").open("wb") as errors:
                # py-spy from this venv, arguments built here
                self._processes.append(
                    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)  # noqa: S603
                )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self._processes:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed (pip install -e '.[dev]' installs it)")
    return found


def top_frames(collapsed: Path, limit: int = 15) -> list[tuple[str, float, float]]:
    """The functions where the samples were, as (function, self %, total %), the busiest by
    total first. Self: the sample's innermost frame is this function; total: it is anywhere in
    the stack (counted once per sample)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    if not samples:
        return []
    return [
        (frame, own[frame] * 100 / samples, total * 100 / samples)
        for frame, total in anywhere.most_common(limit)
    ]


def _short(frame: str) -> str:
    """`handle (sticky_router/ari_app/app.py:120)` -> `handle (ari_app/app.py)`: the line
    number would split one function across many rows."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("sticky_router/", "site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})" if path else function
