"""A throwaway Prometheus (Debian's package) for the tests: scrapes the given targets every
second and evaluates the product's alert rules, on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus" / "sticky-router-alerts.yml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalPrometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path: str, **query: str) -> Any:
        """The decoded answer of /api/v1/<path>, whatever its status (errors included)."""
        address = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:  # 400/422: a query Prometheus refused
            return json.load(error)

    def query(self, expression: str) -> Any:
        return self.api("query", query=expression)


@contextlib.contextmanager
def throwaway_prometheus(targets: Sequence[str], directory: Path) -> Iterator[LocalPrometheus]:
    binary = shutil.which("prometheus")
    assert binary is not None, "prometheus is missing: run ./scripts/bootstrap"
    shutil.copy(RULES, directory / RULES.name)
    (directory / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{RULES.name}]\n"
        "scrape_configs:\n"
        "  - job_name: sticky-router\n"
        f"    static_configs: [{{targets: {json.dumps(list(targets))}}}]\n"
    )
    port = _free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    prometheus = LocalPrometheus(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=1),
            ):
                break
            assert process.poll() is None, f"prometheus exited; see {directory}/prometheus.log"
            assert time.monotonic() < deadline, "prometheus was not ready in 30 s"
            time.sleep(0.2)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
