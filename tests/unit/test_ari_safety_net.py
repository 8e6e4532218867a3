"""No caller is stranded in the application: moving a caller survives an ARI stumble, and the
sweep hands back whoever nothing drives, without taking a call that is merely arriving.

A typed in-memory fake of `ari_app.channels.Channels` stands in for ARI here; the same
operations run against the real Asterisk in tests/e2e.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from structlog.testing import capture_logs

from sticky_router.ari_app.app import StickyRouterApp
from sticky_router.ari_app.attempt import Attempt, DialplanTargets
from sticky_router.ari_app.availability import DeviceWatch
from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Ring
from sticky_router.ari_app.resync import Sweeper
from sticky_router.ari_app.watch import HandedOverCalls


class FakeChannels:
    """Channels in the application, and what was done to them; `failures` makes the next N
    continues fail as ARI would (timeout, 5xx)."""

    def __init__(self, in_app: list[str]) -> None:
        self.in_app = list(in_app)
        self.moved: list[tuple[str, str]] = []
        self.variables: dict[str, dict[str, str]] = {}
        self.failures = 0
        self.claimed: list[str] = []

    async def read(self, channel_id: str, expression: str) -> str:
        return ""

    async def device_state(self, endpoint: str) -> str:
        return "NOT_INUSE"

    async def answer(self, channel_id: str) -> None:
        return None

    async def play(
        self, channel_id: str, sounds: Sequence[str], *, playback_id: str, language: str
    ) -> None:
        return None

    async def stop_playback(self, playback_id: str) -> None:
        return None

    async def hold(self, channel_id: str, on: bool) -> None:
        return None

    async def originate(self, channel_id: str, ring: Ring) -> None:
        return None

    async def set_variables(self, channel_id: str, variables: Mapping[str, str]) -> None:
        self._present(channel_id)
        self.variables.setdefault(channel_id, {}).update(variables)

    async def watch(self, channel_id: str) -> None:
        return None

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None:
        self._present(channel_id)
        if self.failures:
            self.failures -= 1
            raise AriUnavailable("ARI POST /continue: TimeoutError")
        self.in_app.remove(channel_id)
        self.moved.append((channel_id, context))

    async def hang_up(self, channel_id: str) -> None:
        self.in_app.remove(channel_id)

    async def in_application(self) -> list[dict[str, Any]]:
        return [{"id": channel_id} for channel_id in self.in_app]

    async def subscribe(self, source: str) -> None:
        return None

    async def unsubscribe(self, source: str) -> None:
        return None

    async def receive_only(self, event_types: Sequence[str]) -> None:
        return None

    async def claim(self, channel_id: str) -> bool:
        self.claimed.append(channel_id)
        return True

    async def held_by(self, applications: set[str]) -> list[dict[str, Any]]:
        return []

    def _present(self, channel_id: str) -> None:
        if channel_id not in self.in_app:
            raise ChannelGone(channel_id)


def attempt_over(channels: FakeChannels) -> Attempt:
    """Moving a caller never touches the database: no routing service or recorder is given."""
    no_database: Any = None
    handed_over = HandedOverCalls(channels, no_database, no_database)
    return Attempt(
        channels, no_database, no_database, DialplanTargets(), DeviceWatch(), handed_over
    )


async def test_a_move_that_ari_fails_once_is_tried_again() -> None:
    channels = FakeChannels(["c1"])
    channels.failures = 1
    assert await attempt_over(channels).to_queue("c1", "router_error")
    assert channels.moved == [("c1", "sticky-queue")]
    assert channels.variables["c1"] == {"STICKY_PACK": "__STICKY_REASON=router_error|"}


async def test_a_move_that_keeps_failing_gives_up_and_leaves_the_caller_to_the_sweep() -> None:
    channels = FakeChannels(["c1"])
    channels.failures = 5
    assert not await attempt_over(channels).to_queue("c1", "router_error")
    assert channels.in_app == ["c1"]
    channels.failures = 0
    sweeper = Sweeper(channels, "sticky-queue", "s", lambda _: False)
    assert await sweeper.sweep() == ["c1"]
    assert channels.moved == [("c1", "sticky-queue")]


async def test_a_caller_who_hung_up_is_not_moved_and_not_retried() -> None:
    channels = FakeChannels([])
    assert not await attempt_over(channels).to_queue("gone", "router_error")
    assert channels.moved == []


async def test_the_periodic_sweep_takes_only_callers_undriven_twice_in_a_row() -> None:
    channels = FakeChannels(["arriving", "driven"])
    driven = {"driven"}
    sweeper = Sweeper(channels, "sticky-queue", "s", driven.__contains__)
    # "arriving" has no worker yet: its StasisStart may still be on its way. Not moved.
    assert await sweeper.sweep(grace=True) == []
    driven.add("arriving")  # its StasisStart came: now it is driven, and never moved
    assert await sweeper.sweep(grace=True) == []
    channels.in_app.append("lost")
    assert await sweeper.sweep(grace=True) == []
    assert await sweeper.sweep(grace=True) == ["lost"]
    assert channels.moved == [("lost", "sticky-queue")]


async def test_a_sweep_that_cannot_list_the_channels_moves_nobody() -> None:
    class Failing(FakeChannels):
        async def in_application(self) -> list[dict[str, Any]]:
            raise AriUnavailable("ARI GET /channels: ClientConnectorError")

    assert await Sweeper(Failing(["c1"]), "sticky-queue", "s", lambda _: False).sweep() == []


@pytest.mark.parametrize("agent_name", ["101", "agent2"])
async def test_after_a_reconnect_every_undriven_channel_goes_to_the_queue(agent_name: str) -> None:
    """No channel of ours is an agent leg any more (agents are rung by Dial()), so a caller id
    or an agent named in digits is never mistaken for the other."""
    channels = FakeChannels(["1796000000.1", f"1796000000.1-{agent_name}"])
    moved = await Sweeper(channels, "sticky-queue", "s", lambda _: False).sweep()
    assert moved == sorted(["1796000000.1", f"1796000000.1-{agent_name}"])


async def test_the_periodic_sweep_outlives_an_asterisk_restart() -> None:
    """While Asterisk restarts its HTTP server answers 404 for ARI's paths (res_ari not loaded
    yet: seen in the fault table), and anything may go wrong once: the safety net must keep
    sweeping afterwards, not die with its first error."""

    class Restarting(FakeChannels):
        def __init__(self, in_app: list[str]) -> None:
            super().__init__(in_app)
            self.listings = 0

        async def in_application(self) -> list[dict[str, Any]]:
            self.listings += 1
            if self.listings == 1:
                raise ChannelGone("/channels")  # 404 from a half-started Asterisk
            if self.listings == 2:
                raise RuntimeError("anything else, once")
            return await super().in_application()

    channels = Restarting(["lost"])
    sweeping = asyncio.create_task(
        Sweeper(channels, "sticky-queue", "s", lambda _: False).run(0.01)
    )
    for _ in range(200):
        if channels.moved:
            break
        await asyncio.sleep(0.01)
    assert not sweeping.done(), sweeping
    sweeping.cancel()
    assert channels.moved == [("lost", "sticky-queue")]


async def test_a_broadcast_caller_is_claimed_unless_the_router_is_shutting_down() -> None:
    """Several routers for one Asterisk (StasisBroadcast): each claims what it is offered, the
    first wins; a router draining for shutdown leaves the caller to the others."""
    channels = FakeChannels([])
    no_ari: Any = None
    app = StickyRouterApp(no_ari, no_ari, no_ari, channels=channels)
    await app.on_event({"type": "CallBroadcast", "channel": {"id": "node-a-1.1"}})
    await app.drain(1)
    await app.on_event({"type": "CallBroadcast", "channel": {"id": "node-a-1.2"}})
    await app.drain(1)
    assert channels.claimed == ["node-a-1.1"]


async def test_a_dead_routers_callers_are_swept_with_ours_and_a_failed_search_spares_ours() -> None:
    channels = FakeChannels(["ours"])

    async def orphans() -> list[dict[str, Any]]:
        return [{"id": "theirs"}]

    async def no_database() -> list[dict[str, Any]]:
        raise OSError("connection refused")

    assert await Sweeper(channels, "sticky-queue", "s", lambda _: False, orphans).sweep() == [
        "ours", "theirs",
    ]  # fmt: skip
    channels = FakeChannels(["ours"])
    assert await Sweeper(channels, "sticky-queue", "s", lambda _: False, no_database).sweep() == [
        "ours"
    ]


async def test_a_failing_orphan_search_is_said_once_per_outage_and_its_end_too() -> None:
    """A database outage lasts many sweeps (one every 5 s): one warning, not one per sweep."""
    failing = True

    async def orphans() -> list[dict[str, Any]]:
        if failing:
            raise OSError("connection refused")
        return []

    sweeper = Sweeper(FakeChannels([]), "sticky-queue", "s", lambda _: False, orphans)
    with capture_logs() as logs:
        for _ in range(3):
            await sweeper.sweep()
        failing = False
        await sweeper.sweep()
        await sweeper.sweep()
    assert [entry["event"] for entry in logs] == ["orphan_search_failed", "orphan_search_back"]
