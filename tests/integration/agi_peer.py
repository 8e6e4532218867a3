"""What a fake Asterisk answers to the AGI commands our scripts send, for tests that play
Asterisk's side of a FastAGI conversation over a real socket."""

from __future__ import annotations

import asyncio
import re
import shlex

# GET FULL VARIABLE, as the sandbox's Asterisk answers it: every agent in the support queue,
# nobody paused, every phone free.
ALL_IN = "PJSIP/agent1,PJSIP/agent2,PJSIP/agent3,PJSIP/agent4"
SANDBOX = {
    "${QUEUE_MEMBER_LIST(support)}": ALL_IN,
    **{f"${{QUEUE_MEMBER(support,paused,PJSIP/agent{n})}}": "0" for n in range(1, 5)},
    **{f"${{DEVICE_STATE(PJSIP/agent{n})}}": "NOT_INUSE" for n in range(1, 5)},
}
SUBSTITUTED = re.compile(r"\$\{[^{}]*\}")  # ${QUEUE_MEMBER(support,paused,PJSIP/agent2)}


def full_variable_reply(expression: str, table: dict[str, str]) -> bytes:
    """The expression with each `${...}` substituted from the table (one it does not know is
    empty), as Asterisk substitutes it: `200 result=1 (value)`, or `200 result=0` when empty."""
    value = SUBSTITUTED.sub(lambda found: table.get(found.group(0), ""), expression)
    return f"200 result=1 ({value})\n".encode() if value else b"200 result=0\n"


async def asterisk(
    port: int,
    script: str,
    env: dict[str, str],
    *args: str,
    functions: dict[str, str] | None = None,
    asked: list[str] | None = None,
    secret: str = "",
    source: str | None = None,
) -> dict[str, str]:
    """Run one AGI script like Asterisk would; returns the channel variables it was given.
    `secret` goes in the script's URL as the shipped dialplan puts it; `source` is the local
    address to connect from (another loopback address plays another host)."""
    table = SANDBOX | (functions or {})
    path = f"{script}?secret={secret}" if secret else script
    lines = {"network": "yes", "network_script": path, "request": f"agi://127.0.0.1/{path}"}
    lines |= env
    lines |= {f"arg_{n}": arg for n, arg in enumerate(args, start=1)}
    header = "".join(f"agi_{name}: {value}\n" for name, value in lines.items()) + "\n"
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
    writer.write(header.encode())
    variables: dict[str, str] = {}
    try:
        while line := await asyncio.wait_for(reader.readline(), 5):
            words = shlex.split(line.decode())
            if words[:3] == ["GET", "FULL", "VARIABLE"]:
                if asked is not None:
                    asked.append(words[3])
                writer.write(full_variable_reply(words[3], table))
                await writer.drain()
                continue
            assert words[:2] == ["SET", "VARIABLE"], line
            variables[words[2].removeprefix("__")] = words[3]
            writer.write(b"200 result=1\n")
            await writer.drain()
    except ConnectionResetError:
        pass  # a peer refused before we finished writing sees a reset, not an orderly close
    finally:
        writer.close()
    return variables
