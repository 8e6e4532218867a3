"""ARI REST over WebSocket on the real Asterisk 22: the router's REST calls travel on its event
websocket (one frame each way, no HTTP request and no crypt() of the password per call), with
the same answers as over HTTP, and the platform facts that make it safe.

Each test here registers an application of its own, so the session's router is not disturbed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import support_queue
from sticky_router.ari_app.client import REST_RESPONSE, AriClient, AriError, segment
from tests.e2e.ari_apps import ari_client, connected_application

pytestmark = pytest.mark.usefixtures("fresh")  # every agent logged in, no call left


@pytest.fixture
async def over_websocket(asterisk: LocalAsterisk) -> AsyncIterator[AriClient]:
    """A client whose event websocket is up and has answered its probe."""
    async with connected_application(asterisk, "rest-over-ws") as client:
        yield client


async def test_asterisk_answers_rest_calls_on_the_event_websocket_as_over_http(
    asterisk: LocalAsterisk, over_websocket: AriClient
) -> None:
    queue = support_queue("plain")
    # A channel of the application to evaluate dialplan functions on (never dialled).
    channel = await over_websocket.request(
        "POST",
        "/channels/create",
        params={"endpoint": "Local/agent1@sticky-sandbox-agents", "app": over_websocket.app},
    )
    variable = f"/channels/{segment(channel['id'])}/variable"
    # Dialplan functions with commas and parentheses in the query, and an encoded path segment
    # (PJSIP%2Fagent1): the answers are those HTTP gives.
    asks: list[tuple[str, dict[str, str | int] | None]] = [
        (variable, {"variable": f"QUEUE_MEMBER({queue},logged)"}),
        (variable, {"variable": f"QUEUE_MEMBER_LIST({queue})"}),
        (variable, {"variable": f"QUEUE_MEMBER({queue},paused,PJSIP/agent1)"}),
        (f"/deviceStates/{segment('PJSIP/agent1')}", None),
    ]
    try:
        async with ari_client(asterisk, "rest-over-http") as over_http:  # no websocket of its own
            for path, params in asks:
                answered = await over_websocket.request("GET", path, params=params)
                assert answered == await over_http.request("GET", path, params=params)
        assert over_websocket.rest_over_websocket
        logged = await over_websocket.request("GET", *asks[0])
        assert logged == {"value": "4"}  # the sandbox logs agent1..agent4 in
        members = await over_websocket.request("GET", *asks[1])
        assert "PJSIP/agent1" in members["value"].split(",")
        paused = await over_websocket.request("GET", *asks[2])
        assert paused == {"value": "0"}
        state = await over_websocket.request("GET", *asks[3])
        assert state["name"] == "PJSIP/agent1"
    finally:
        await over_websocket.request("DELETE", f"/channels/{segment(channel['id'])}")


async def test_an_error_status_over_the_websocket_is_the_same_error_as_over_http(
    over_websocket: AriClient,
) -> None:
    with pytest.raises(AriError) as gone:
        await over_websocket.request(
            "GET", f"/channels/{segment('no-such-channel')}/variable", params={"variable": "X"}
        )
    assert gone.value.status == 404  # what AriChannels turns into ChannelGone
    with pytest.raises(AriError) as refused:  # no eventSource
        await over_websocket.request("POST", f"/applications/{over_websocket.app}/subscription")
    assert refused.value.status == 400
    assert over_websocket.rest_over_websocket  # an error answer leaves the way as it is


async def test_the_answers_pass_the_applications_event_filter_only_when_it_allows_them(
    asterisk: LocalAsterisk,
) -> None:
    """Asterisk sends a RESTResponse through the application's event filter like an event: with
    a filter that lists only events, a REST call on the websocket is never answered. So the
    router's filter lists RESTResponse (AriChannels.receive_only), and the client probes before
    it sends anything there."""
    app = "rest-filtered"
    ari = asterisk.ari_credentials
    base = f"127.0.0.1:{asterisk.http_port}/ari"
    headers = {"Authorization": ari.basic_auth()}
    ping = {"type": "RESTRequest", "request_id": "1", "method": "GET", "uri": "asterisk/ping"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(f"ws://{base}/events", params={"app": app}) as websocket,
    ):

        async def set_filter(*allowed: str) -> None:
            body = {"allowed": [{"type": kind} for kind in allowed]}
            async with session.put(f"http://{base}/applications/{app}/eventFilter", json=body):
                pass

        await set_filter("StasisStart")
        await websocket.send_str(json.dumps(ping))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(websocket.receive(), 1.0)
        await set_filter("StasisStart", REST_RESPONSE)
        await websocket.send_str(json.dumps({**ping, "request_id": "2"}))
        answer = json.loads((await asyncio.wait_for(websocket.receive(), 2.0)).data)
        assert (answer["type"], answer["request_id"], answer["status_code"]) == (
            REST_RESPONSE, "2", 200
        )  # fmt: skip
