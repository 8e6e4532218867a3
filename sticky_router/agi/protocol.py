"""The FastAGI wire protocol: the environment header Asterisk sends, commands and their replies.

Written for a hostile or broken peer, because panoramisk's FastAGI spins forever at end of stream
(docs: real-components.md). Every read is a `readuntil(b"\\n")` under a deadline, every header is
bounded in lines and bytes, and end of stream always ends the conversation with a typed error:

  HeaderError  the header was not a well-formed AGI environment (`reason` says how)
  AgiHangup    the caller is gone: `HANGUP`, `511`, or the socket closed
  AgiTimeout   Asterisk did not answer a command in time

Bytes that are not UTF-8 are decoded with `errors="replace"`, not rejected: Asterisk passes caller
names through as the SIP peer sent them (often Latin-1), and rejecting the header would cost the
caller the sticky decision over a name the router never uses. The structure (`agi_name: value`,
names of `[a-z0-9_]`) is still checked strictly, so garbage and port scanners are refused.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

MAX_HEADER_BYTES = 64 * 1024
MAX_LINE_BYTES = 4 * 1024
MAX_HEADER_LINES = 200
MAX_REPLY_LINES = 100  # a `520-` usage text is about 30 lines; more is not Asterisk

_HEADER_LINE = re.compile(r"agi_([a-z0-9_]+):\s?(.*)")
_VARIABLE_NAME = re.compile(r"(__?)?[A-Za-z_][A-Za-z0-9_]*")
_RESULT = re.compile(r"200 result=(-?\d+)\s*(?:\((.*)\))?")
# Every control character goes: a newline would end the command early and let the rest of the
# value be read as a second command; NUL would truncate it in Asterisk's C string.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AgiError(Exception):
    """Anything that ends an AGI conversation early."""


class HeaderError(AgiError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # machine-readable, for the log line: timeout, truncated, ...


class AgiHangup(AgiError):
    """The caller's channel is gone; nothing more can be done on it."""


class AgiTimeout(AgiError):
    """Asterisk did not answer a command within the command timeout."""


class AgiCommandError(AgiError):
    """Asterisk refused a command (510 unknown, 520 usage): a bug on our side, not the caller's."""


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The AGI environment, names without their `agi_` prefix (`uniqueid`, `callerid`, ...)."""

    env: dict[str, str]
    args: tuple[str, ...] = ()

    def get(self, name: str) -> str:
        return self.env.get(name, "")

    def arg(self, number: int) -> str:
        """`agi_arg_<number>` (1-based), empty when not sent."""
        return self.args[number - 1] if 0 < number <= len(self.args) else ""

    @property
    def script_path(self) -> str:
        """The script as Asterisk sent it, query included: `lookup?secret=...`."""
        path = self.get("network_script")
        if not path:
            request = self.get("request")
            path = request.split("://", 1)[1].partition("/")[2] if "://" in request else ""
        return path

    @property
    def script(self) -> str:
        """The script's name: `agi://router:4573/lookup?x` -> `lookup`."""
        return self.script_path.split("?", 1)[0].strip("/")

    def option(self, name: str) -> str | None:
        """A value of the script's query (`lookup?secret=...&pack=1`), when given once."""
        return script_option(self.script_path, name)


def script_option(script_path: str, name: str) -> str | None:
    """`name`'s value in the query of an AGI script path (`lookup?secret=...&pack=1`); None when
    it is missing or given more than once."""
    given = parse_qs(script_path.partition("?")[2], keep_blank_values=True).get(name)
    return given[0] if given and len(given) == 1 else None


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: int
    data: str = ""


async def read_header(reader: asyncio.StreamReader, seconds: float) -> AgiRequest:
    """Read the environment up to its empty line. The whole header must arrive within
    `seconds`: a per-line timeout alone would let a client sending one byte a second hold a
    connection for ever. (One deadline for the whole header, not one per line: a timer armed
    and cancelled for each of its 25 or so lines was most of the time spent reading it.)"""
    env: dict[str, str] = {}
    try:
        async with asyncio.timeout(seconds):
            return await _read_environment(reader, env)
    except TimeoutError:
        raise HeaderError("timeout") from None
    except asyncio.IncompleteReadError as eof:
        raise HeaderError("truncated" if env or eof.partial else "closed") from None
    except asyncio.LimitOverrunError:
        raise HeaderError("line_too_long") from None


async def _read_environment(reader: asyncio.StreamReader, env: dict[str, str]) -> AgiRequest:
    total = 0
    for _ in range(MAX_HEADER_LINES + 1):
        raw = await reader.readuntil(b"\n")
        total += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise HeaderError("line_too_long")
        if total > MAX_HEADER_BYTES:
            raise HeaderError("header_too_large")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if not env:
                raise HeaderError("empty")
            return AgiRequest(env, _arguments(env))
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise HeaderError("malformed_line")
        env[match.group(1)] = match.group(2)
    raise HeaderError("too_many_lines")


def _arguments(env: dict[str, str]) -> tuple[str, ...]:
    """`arg_1`, `arg_2`, ... while they are contiguous: a lone `agi_arg_999999999` must not make
    a tuple of a billion empty strings."""
    args: list[str] = []
    while f"arg_{len(args) + 1}" in env:
        args.append(env[f"arg_{len(args) + 1}"])
    return tuple(args)


def quote(value: str) -> str:
    """One AGI argument, as Asterisk's parse_args reads it: in double quotes, `\\` and `"`
    escaped with a backslash, control characters dropped."""
    cleaned = _CONTROL.sub("", value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_variable_command(name: str, value: str) -> str:
    """`SET VARIABLE "NAME" "value"`. Names are ours, so a bad one is a bug: refused loudly."""
    if _VARIABLE_NAME.fullmatch(name) is None:
        raise ValueError(f"not a channel variable name: {name!r}")
    return f"SET VARIABLE {quote(name)} {quote(value)}"


@dataclass
class AgiSession:
    """One FastAGI conversation after its header: send a command, read its reply."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request: AgiRequest
    command_timeout: float
    hung_up: bool = field(default=False, init=False)

    async def set_variable(self, name: str, value: str) -> AgiReply:
        return await self.command(set_variable_command(name, value))

    async def command(self, line: str, *, takes: float = 0.0) -> AgiReply:
        """Send one command and read its reply; `takes` is how long the command itself may
        run in Asterisk (a prompt, a wait for a key), on top of the command timeout."""
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command is one line")
        if self.hung_up:
            raise AgiHangup("hangup")
        try:
            async with asyncio.timeout(self.command_timeout + takes):
                self.writer.write(line.encode() + b"\n")
                await self.writer.drain()
                return await self._reply()
        except TimeoutError:
            raise AgiTimeout(line.split(" ", 2)[:2]) from None
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up = True
            raise AgiHangup("closed") from None

    async def _reply(self) -> AgiReply:
        usage = False
        for _ in range(MAX_REPLY_LINES):
            try:
                raw = await self.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                raise AgiCommandError("reply_too_long") from None
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.startswith("HANGUP"):
                # Asterisk's notice that the channel hung up; it may come before the reply.
                self.hung_up = True
                raise AgiHangup("hangup")
            if text.startswith("511"):
                self.hung_up = True
                raise AgiHangup("dead_channel")
            if text.startswith("520-"):
                usage = True  # a usage text follows, ended by "520 End of proper usage."
                continue
            if usage and not text.startswith("520 "):
                continue
            match = _RESULT.match(text)
            if match is not None:
                return AgiReply(200, int(match.group(1)), match.group(2) or "")
            raise AgiCommandError(text[:80])
        raise AgiCommandError("reply_too_long")
