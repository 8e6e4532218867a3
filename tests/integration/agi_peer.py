"""What a fake Asterisk answers to the AGI commands our scripts send, for tests that play
Asterisk's side of a FastAGI conversation over a real socket."""

from __future__ import annotations

# GET FULL VARIABLE, as the sandbox's Asterisk answers it: every agent in the support queue,
# nobody paused, every phone free.
ALL_IN = "PJSIP/agent1,PJSIP/agent2,PJSIP/agent3,PJSIP/agent4"
SANDBOX = {
    "${QUEUE_MEMBER_LIST(support)}": ALL_IN,
    **{f"${{QUEUE_MEMBER(support,paused,PJSIP/agent{n})}}": "0" for n in range(1, 5)},
    **{f"${{DEVICE_STATE(PJSIP/agent{n})}}": "NOT_INUSE" for n in range(1, 5)},
}


def full_variable_reply(expression: str, table: dict[str, str]) -> bytes:
    """`200 result=1 (value)` for an expression the table knows, `200 result=0` otherwise."""
    value = table.get(expression)
    return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
