"""The SIP requests a SIPp phone received, whole, from its message log (-trace_msg)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_HEADER = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")
_FROM_NAME = re.compile(r'^From:\s*"([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class SipRequest:
    at: datetime  # local time, as SIPp writes it
    method: str
    lines: tuple[str, ...]

    @property
    def from_display_name(self) -> str | None:
        for line in self.lines:
            found = _FROM_NAME.match(line)
            if found:
                return found[1]
        return None


def requests(messages_log: Path, direction: str = "received") -> list[SipRequest]:
    """The SIP requests (not responses) a SIPp phone received (or `sent`), in order, whole."""
    if not messages_log.is_file():
        return []
    lines = messages_log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)] + [len(lines)]
    found = []
    for start, end in itertools.pairwise(starts):
        block = lines[start:end]
        if len(block) < 4 or direction not in block[1]:
            continue
        first = block[3].split()
        if first and not first[0].startswith("SIP/"):
            header = _HEADER.match(block[0])
            assert header is not None
            found.append(SipRequest(datetime.fromisoformat(header[1]), first[0], tuple(block[3:])))
    return found


def received(messages_log: Path, method: str = "INVITE") -> list[SipRequest]:
    return [request for request in requests(messages_log) if request.method == method]
