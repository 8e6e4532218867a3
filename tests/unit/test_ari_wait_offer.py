"""The wait offer on a channel in the application, against a fake ARI: the races a real call
rarely shows (checked on real calls by tests/e2e/test_wait_offer.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sticky_router.ari_app import wait_offer as offering
from sticky_router.ari_app.channels import ChannelGone
from sticky_router.ari_app.wait_offer import CallerKeys, ask_to_wait
from sticky_router.routing_core.wait_offer import WaitChoice, WaitOffer

OFFER = WaitOffer(("sticky-router/agent-on-another-call",), answer_seconds=0.3, wait_seconds=60)


class FakePrompts:
    """Answers and plays; what was asked is kept. `gone` makes the channel vanish."""

    def __init__(self, gone: bool = False) -> None:
        self.gone = gone
        self.asked: list[str] = []

    async def answer(self, channel_id: str) -> None:
        if self.gone:
            raise ChannelGone(channel_id)
        self.asked.append("answer")

    async def play(
        self, channel_id: str, sounds: Sequence[str], *, playback_id: str, language: str
    ) -> None:
        self.asked.append(f"play {','.join(sounds)} {language} as {playback_id}")

    async def stop_playback(self, playback_id: str) -> None:
        self.asked.append(f"stop {playback_id}")


async def ask(prompts: FakePrompts, keys: CallerKeys, gone: asyncio.Event) -> WaitChoice:
    return await ask_to_wait(prompts, "c1", keys, gone, OFFER, "ru")  # type: ignore[arg-type]


async def test_a_key_during_the_prompts_stops_them_and_decides_at_once() -> None:
    prompts, keys, gone = FakePrompts(), CallerKeys(), asyncio.Event()
    asking = asyncio.create_task(ask(prompts, keys, gone))
    await asyncio.sleep(0.05)
    keys.key("1")
    assert await asyncio.wait_for(asking, 0.2) is WaitChoice.WAIT  # no waiting for the prompt
    assert prompts.asked == [
        "answer",
        "play sticky-router/agent-on-another-call ru as sticky-offer-c1",
        "stop sticky-offer-c1",
    ]


async def test_the_answer_time_counts_from_the_end_of_the_prompts() -> None:
    prompts, keys, gone = FakePrompts(), CallerKeys(), asyncio.Event()
    asking = asyncio.create_task(ask(prompts, keys, gone))
    await asyncio.sleep(0.5)  # longer than the answer time, but the prompt still plays
    assert not asking.done()
    keys.playback_finished("another-callers-playback")
    await asyncio.sleep(0.1)
    assert not asking.done()
    keys.playback_finished("sticky-offer-c1")
    await asyncio.sleep(0.1)
    keys.key("2")
    assert await asyncio.wait_for(asking, 0.2) is WaitChoice.DECLINED
    assert prompts.asked[-1] == "stop sticky-offer-c1"  # harmless on a finished playback


async def test_no_key_after_the_prompts_is_the_next_free_agent() -> None:
    prompts, keys, gone = FakePrompts(), CallerKeys(), asyncio.Event()
    keys.playback_finished("sticky-offer-c1")
    started = asyncio.get_running_loop().time()
    assert await ask(prompts, keys, gone) is WaitChoice.NO_KEY
    assert asyncio.get_running_loop().time() - started == pytest.approx(0.3, abs=0.1)
    assert not any(step.startswith("stop") for step in prompts.asked)


async def test_a_caller_who_hangs_up_during_the_offer_is_gone_with_no_choice() -> None:
    prompts, keys, gone = FakePrompts(), CallerKeys(), asyncio.Event()
    asking = asyncio.create_task(ask(prompts, keys, gone))
    await asyncio.sleep(0.05)
    gone.set()
    assert await asyncio.wait_for(asking, 0.2) is WaitChoice.NO_KEY
    vanished, gone_before = FakePrompts(gone=True), asyncio.Event()
    assert await ask(vanished, CallerKeys(), gone_before) is WaitChoice.NO_KEY
    assert gone_before.is_set()  # the attempt then records an abandoned call


async def test_a_playback_that_never_reports_its_end_still_gives_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offering, "LONGEST_PROMPTS", 0.2)
    prompts, keys, gone = FakePrompts(), CallerKeys(), asyncio.Event()
    assert await asyncio.wait_for(ask(prompts, keys, gone), 1.0) is WaitChoice.NO_KEY
