"""A sampling profile of a running process, taken by py-spy (a dev dependency) while a bench
runs: a flame graph (`<name>.svg`, open it in a browser) and the collapsed stacks
(`<name>.collapsed.txt`, one stack per line with its sample count) that `top_frames` summarises
for the bench's report."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def profiled(pid: int, out_dir: Path, name: str, rate: int = 250) -> Iterator[None]:
    """Samples `pid` for the block's duration."""
    spy = _py_spy()
    samplers: list[subprocess.Popen[bytes]] = []
    try:
        for form, suffix in (("flamegraph", ".svg"), ("raw", ".collapsed.txt")):
            # Two samplers side by side rather than one: py-spy writes one format per run.
            output = out_dir / f"{name}{suffix}"
            command = [
                spy, "record", "--pid", str(pid), "--rate", str(rate),
                "--format", form, "--output", str(output),
            ]  # fmt: skip
            with (out_dir / f"{name}.{form}.py-spy.log").open("wb") as errors:
                # py-spy from this venv, arguments built here
                samplers.append(
                    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)  # noqa: S603
                )
        yield
    finally:
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for sampler in samplers:
            try:
                sampler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sampler.kill()


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
