"""What Asterisk's AMI sends the router's user during a bench: a second login with the router's
credentials, counting the events by name. Asterisk applies the user's `eventfilter` lines to
every session of that user, so this sees what the router is sent, not what it handles."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from types import TracebackType

from sticky_router.ami.connection import AmiSettings


class AmiTally:
    """`with AmiTally(host, port, user, secret) as tally:` ... `tally.events` by name."""

    def __init__(self, host: str, port: int, user: str, secret: str) -> None:
        self.events: Counter[str] = Counter()
        self._socket = socket.create_connection((host, port), timeout=5)
        login = (  # the classes the router asks for
            f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n"
            f"Events: {AmiSettings.events}\r\n\r\n"
        )
        self._socket.sendall(login.encode())
        self._socket.settimeout(None)
        self._reader = threading.Thread(target=self._read, name="ami-tally", daemon=True)
        self._stop = threading.Event()

    def __enter__(self) -> AmiTally:
        self._reader.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._socket.shutdown(socket.SHUT_RDWR)
        self._reader.join(timeout=5)
        self._socket.close()

    def _read(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = self._socket.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            *lines, pending = pending.split(b"\r\n")
            for line in lines:
                if line.startswith(b"Event: "):
                    self.events[line[7:].decode(errors="replace")] += 1
