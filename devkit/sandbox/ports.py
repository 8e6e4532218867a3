"""Free loopback ports for the sandbox's servers and the suites' SIP phones."""

from __future__ import annotations

import socket

from devkit.sandbox.asterisk_config import AsteriskUnavailable


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
