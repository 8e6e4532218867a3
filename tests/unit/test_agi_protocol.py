"""The FastAGI wire protocol: headers from Asterisk and from anything else, and command quoting."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sticky_router.agi.protocol import (
    MAX_HEADER_LINES,
    AgiRequest,
    HeaderError,
    quote,
    read_header,
    set_variable_command,
)

ASTERISK_HEADER = (
    b"agi_network: yes\n"
    b"agi_network_script: lookup\n"
    b"agi_request: agi://127.0.0.1:4573/lookup\n"
    b"agi_channel: PJSIP/caller-00000001\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: +79123456701\n"
    b"agi_calleridname: unknown\n"
    b"agi_dnid: 74950000000\n"
    b"agi_arg_1: support\n"
    b"agi_arg_2: 74950000000\n"
    b"agi_arg_3: \n"
    b"\n"
)


async def parse(data: bytes, seconds: float = 1.0) -> AgiRequest:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await read_header(reader, seconds)


async def test_an_asterisk_header_gives_its_environment_and_arguments() -> None:
    request = await parse(ASTERISK_HEADER)
    assert request.script == "lookup"
    assert request.get("uniqueid") == "1700000000.1"
    assert request.get("callerid") == "+79123456701"
    assert request.args == ("support", "74950000000", "")
    assert request.arg(1) == "support"
    assert request.arg(9) == ""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "closed"),
        (b"agi_network: yes\n", "truncated"),
        (b"agi_network: y", "truncated"),
        (b"\n", "empty"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "malformed_line"),
        (b"\x00\xff\xfe garbage\n\n", "malformed_line"),
        (b"agi_network yes\n\n", "malformed_line"),
        (b"agi_x: " + b"a" * 5000 + b"\n\n", "line_too_long"),
        (
            b"".join(b"agi_v%d: %s\n" % (i, b"x" * 4000) for i in range(20)) + b"\n",
            "header_too_large",
        ),
        (b"agi_a: b\n" * (MAX_HEADER_LINES + 1) + b"\n", "too_many_lines"),
    ],
)
async def test_a_bad_header_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(HeaderError) as refused:
        await parse(data)
    assert refused.value.reason == reason


async def test_a_header_that_stops_half_way_times_out() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"agi_network: yes\nagi_netw")
    with pytest.raises(HeaderError) as refused:
        await read_header(reader, 0.1)
    assert refused.value.reason == "timeout"


async def test_crlf_lines_and_non_utf8_names_are_read_not_refused() -> None:
    request = await parse(b"agi_network_script: /result?x=1\r\nagi_calleridname: Jos\xe9\r\n\r\n")
    assert request.script == "result"
    assert request.get("calleridname") == "Jos\ufffd"


async def test_the_script_comes_from_the_request_url_when_network_script_is_missing() -> None:
    request = await parse(b"agi_request: agi://10.0.0.5:4573/answered\n\n")
    assert request.script == "answered"


async def test_an_option_of_the_script_url_is_read_only_when_given_once() -> None:
    request = await parse(b"agi_network_script: lookup?secret=s3cret&pack=1\n\n")
    assert (request.script, request.option("pack"), request.option("other")) == (
        "lookup", "1", None
    )  # fmt: skip
    twice = await parse(b"agi_network_script: lookup?pack=1&pack=0\n\n")
    assert twice.option("pack") is None


async def test_arguments_stop_at_the_first_gap() -> None:
    request = await parse(b"agi_arg_1: a\nagi_arg_3: c\nagi_arg_999999999: z\n\n")
    assert request.args == ("a",)


# -- quoting -------------------------------------------------------------------------------------


def asterisk_parse_args(line: str) -> list[str]:
    """res_agi.c's parse_args: quotes group, a backslash makes the next character literal."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if current is None:
                current = []
        elif char in " \t" and not quoted and not escaped:
            if current is not None:
                args.append("".join(current))
            current = None
        elif char == "\\" and not escaped:
            escaped = True
            continue
        else:
            if current is None:
                current = []
            current.append(char)
        escaped = False
    if current is not None:
        args.append("".join(current))
    return args


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        'say "hi"',
        "back\\slash",
        "trailing backslash\\",
        'x"\nSTREAM FILE "tt-monkeys" ""',
        '\\"\n\r\x00EXEC Dial PJSIP/evil',
        "two words  and\ttab",
    ],
)
def test_a_hostile_value_stays_one_argument_of_one_command(value: str) -> None:
    command = set_variable_command("STICKY_REASON", value)
    assert not set("\n\r\x00") & set(command)
    args = asterisk_parse_args(command)
    assert args[:2] == ["SET", "VARIABLE"]
    assert len(args) == 4
    assert args[2] == "STICKY_REASON"
    assert args[3] == "".join(c for c in value if c >= " " and c != "\x7f")


@given(st.text())
def test_any_text_quotes_to_exactly_itself_without_control_characters(value: str) -> None:
    args = asterisk_parse_args(f"SET VARIABLE X {quote(value)}")
    assert args[3:] == ["".join(c for c in value if not (c < " " or c == "\x7f"))]


@pytest.mark.parametrize("name", ["", "A B", 'A"', "A\nB", "1ABC", "A-B"])
def test_a_bad_variable_name_is_a_bug_refused_loudly(name: str) -> None:
    with pytest.raises(ValueError, match="not a channel variable name"):
        set_variable_command(name, "x")


def test_inheritable_names_are_accepted() -> None:
    assert (
        set_variable_command("__STICKY_ROUTE", "queue") == 'SET VARIABLE "__STICKY_ROUTE" "queue"'
    )


# -- fuzz: whatever arrives, the parser ends with a request or a HeaderError ----------------------

HEADERISH = st.lists(
    st.one_of(
        st.sampled_from([b"agi_network: yes\n", b"agi_arg_1: x\n", b"\n", b"\r\n", b"agi_"]),
        st.binary(max_size=40),
        st.binary(min_size=4000, max_size=4200).map(lambda b: b + b"\n"),
    ),
    max_size=30,
).map(b"".join)


def _parse_in_new_loop(data: bytes) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(parse(data, seconds=1.0), timeout=5.0))
    except HeaderError:
        pass
    finally:
        loop.close()


@settings(max_examples=300, deadline=2000)
@given(st.one_of(st.binary(max_size=300), HEADERISH))
def test_arbitrary_bytes_never_raise_anything_but_header_error_and_never_hang(data: bytes) -> None:
    # A hang shows as TimeoutError from wait_for; any other exception fails the test too.
    _parse_in_new_loop(data)
