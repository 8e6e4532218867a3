"""The ARI operations the router uses, each named once (in the spirit of wazo-calld's
`ari_helpers.py`), so no call site builds a request path.

Errors: `ChannelGone` when Asterisk says the channel is not there (404) or not in our
application any more (409): the caller hung up, or the dialplan has them. Every other failure
(an ARI error status, a timeout, a broken connection) is raised as `AriUnavailable`, which the
application's safety net answers by sending the caller to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from sticky_router.ari_app.client import REST_RESPONSE, AriClient, AriError, segment

GONE_STATUSES = frozenset({404, 409})  # no such channel / channel not in a Stasis application


class ChannelGone(Exception):
    """The channel hung up, or left the application."""


class AriUnavailable(Exception):
    """ARI did not do what was asked: an error status, a timeout, a lost connection."""


class Channels(Protocol):
    """What the application does to channels; `AriChannels` over ARI, a fake in unit tests."""

    async def read(self, channel_id: str, expression: str) -> str: ...
    async def device_state(self, endpoint: str) -> str: ...
    async def answer(self, channel_id: str) -> None: ...
    async def play(
        self, channel_id: str, sounds: Sequence[str], *, playback_id: str, language: str
    ) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def hold(self, channel_id: str, on: bool) -> None: ...
    async def set_variables(self, channel_id: str, variables: Mapping[str, str]) -> None: ...
    async def watch(self, channel_id: str) -> None: ...
    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None: ...
    async def hang_up(self, channel_id: str) -> None: ...
    async def originate(self, channel_id: str, ring: Ring) -> None: ...
    async def in_application(self) -> list[dict[str, Any]]: ...
    async def subscribe(self, source: str) -> None: ...
    async def unsubscribe(self, source: str) -> None: ...
    async def receive_only(self, event_types: Sequence[str]) -> None: ...
    async def claim(self, channel_id: str) -> bool: ...
    async def held_by(self, applications: set[str]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Ring:
    """A call the router places: `endpoint` rings for `seconds`; answered, the channel enters
    this application with `app_args`."""

    endpoint: str
    app_args: str
    caller_id: str
    seconds: int
    variables: Mapping[str, str]


class AriChannels:
    def __init__(self, client: AriClient) -> None:
        self._ari = client
        self._subscription = f"/applications/{segment(client.app)}/subscription"

    async def read(self, channel_id: str, expression: str) -> str:
        """A variable or dialplan function evaluated on the channel (`QUEUE_MEMBER_LIST(q)`)."""
        answer = await self._call(
            "GET", f"/channels/{segment(channel_id)}/variable", {"variable": expression}
        )
        return str(answer.get("value", "")) if isinstance(answer, dict) else ""

    async def device_state(self, endpoint: str) -> str:
        try:
            state = await self._call("GET", f"/deviceStates/{segment(endpoint)}")
        except ChannelGone:  # a device Asterisk has never heard of
            return "INVALID"
        return str(state.get("state", "UNKNOWN")) if isinstance(state, dict) else "UNKNOWN"

    async def answer(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{segment(channel_id)}/answer")

    async def play(
        self, channel_id: str, sounds: Sequence[str], *, playback_id: str, language: str
    ) -> None:
        """Sounds one after the other (one playback, `PlaybackFinished` at its end), in
        `language` when they exist in it (empty: the channel's own)."""
        params = {"media": ",".join(f"sound:{sound}" for sound in sounds)}
        if language:
            params["lang"] = language
        await self._call(
            "POST", f"/channels/{segment(channel_id)}/play/{segment(playback_id)}", params
        )

    async def stop_playback(self, playback_id: str) -> None:
        """Stop a playback; one that already ended is not an error."""
        with contextlib.suppress(ChannelGone):
            await self._call("DELETE", f"/playbacks/{segment(playback_id)}")

    async def hold(self, channel_id: str, on: bool) -> None:
        """Music on hold (the channel's class, `default` unless the dialplan set one)."""
        await self._call("POST" if on else "DELETE", f"/channels/{segment(channel_id)}/moh")

    async def set_variables(self, channel_id: str, variables: Mapping[str, str]) -> None:
        path = f"/channels/{segment(channel_id)}/variable"
        await asyncio.gather(
            *(
                self._call("POST", path, {"variable": name, "value": value})
                for name, value in variables.items()
            )
        )

    async def watch(self, channel_id: str) -> None:
        """Keep receiving the channel's events (Dial, hang-up) after it leaves Stasis().

        Asterisk keeps an explicit subscription when the channel continues in the dialplan:
        measured on 22.10, the app then sees the dialplan Dial()'s `Dial` events, with the
        agent's channel as `peer`, and the caller's ChannelHangupRequest/ChannelDestroyed."""
        await self.subscribe(f"channel:{channel_id}")

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None:
        await self._call(
            "POST",
            f"/channels/{segment(channel_id)}/continue",
            {"context": context, "extension": extension, "priority": 1},
        )

    async def hang_up(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{segment(channel_id)}")

    async def originate(self, channel_id: str, ring: Ring) -> None:
        """Ring `ring.endpoint` as channel `channel_id` (ours, so its events are known before
        Asterisk answers the request); the application is subscribed to it from the start."""
        params: dict[str, str | int] = {
            "endpoint": ring.endpoint, "app": self._ari.app, "appArgs": ring.app_args,
            "callerId": ring.caller_id, "timeout": ring.seconds, "channelId": channel_id,
        }  # fmt: skip
        try:
            await self._ari.request(
                "POST", "/channels", params=params, body={"variables": dict(ring.variables)}
            )
        except AriError as error:
            raise AriUnavailable(str(error)) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise AriUnavailable(f"ARI POST /channels: {type(error).__name__}") from error

    async def in_application(self) -> list[dict[str, Any]]:
        """Every channel now in our Stasis() application: entered by Stasis(<our name>), or by a
        StasisBroadcast() we won. Such a channel's dialplan still names the broadcast, not the
        winner (measured on 22.10), so it is ours only if our application holds it."""
        channels = await self._call("GET", "/channels")
        ours: set[str] | None = None
        found = []
        for channel in channels or []:
            dialplan = channel.get("dialplan", {})
            application = dialplan.get("app_name")
            if application == "Stasis":
                if str(dialplan.get("app_data", "")).split(",", 1)[0] == self._ari.app:
                    found.append(channel)
            elif application == "StasisBroadcast":
                if ours is None:
                    ours = await self._held(self._ari.app)
                if str(channel.get("id")) in ours:
                    found.append(channel)
        return found

    async def held_by(self, applications: set[str]) -> list[dict[str, Any]]:
        """The callers other applications won by StasisBroadcast() and still hold (those of
        routers that died: see Sweeper)."""
        held: set[str] = set()
        for application in sorted(applications):
            held |= await self._held(application)
        if not held:
            return []
        channels = await self._call("GET", "/channels")
        return [
            channel
            for channel in channels or []
            if channel.get("dialplan", {}).get("app_name") == "StasisBroadcast"
            and str(channel.get("id")) in held
        ]

    async def subscribe(self, source: str) -> None:
        await self._call("POST", self._subscription, {"eventSource": source})

    async def unsubscribe(self, source: str) -> None:
        await self._call("DELETE", self._subscription, {"eventSource": source})

    async def receive_only(self, event_types: Sequence[str]) -> None:
        """Asterisk sends the application these event types and no others (its event filter,
        kept by Asterisk until it restarts). The answers to REST calls made over the websocket
        pass the same filter, so they are allowed too."""
        body = {"allowed": [{"type": kind} for kind in (*event_types, REST_RESPONSE)]}
        path = f"/applications/{segment(self._ari.app)}/eventFilter"
        try:
            await self._ari.request("PUT", path, body=body)
        except AriError as error:
            raise AriUnavailable(str(error)) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise AriUnavailable(f"ARI PUT {path}: {type(error).__name__}") from error

    async def _held(self, application: str) -> set[str]:
        """The channels an application holds; none when Asterisk does not know it (404: no
        websocket has registered it since Asterisk started)."""
        try:
            held = await self._call("GET", f"/applications/{segment(application)}")
        except ChannelGone:
            return set()
        return {str(channel_id) for channel_id in (held or {}).get("channel_ids", [])}

    async def claim(self, channel_id: str) -> bool:
        """Take a channel StasisBroadcast() offers (CallBroadcast): True when it is ours, False
        when another router took it first (409) or it is gone (404)."""
        params = {"channelId": channel_id, "application": self._ari.app}
        try:
            await self._ari.request("POST", "/events/claim", params=params)
        except AriError as error:
            if error.status in (404, 409):
                return False
            raise AriUnavailable(str(error)) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise AriUnavailable(f"ARI POST /events/claim: {type(error).__name__}") from error
        return True

    async def _call(
        self, method: str, path: str, params: Mapping[str, str | int] | None = None
    ) -> Any:
        try:
            return await self._ari.request(method, path, params=params)
        except AriError as error:
            if error.status in GONE_STATUSES:
                raise ChannelGone(path) from error
            raise AriUnavailable(str(error)) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise AriUnavailable(f"ARI {method} {path}: {type(error).__name__}") from error
