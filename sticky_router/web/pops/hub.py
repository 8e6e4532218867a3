"""In-process publish/subscribe of pops, keyed by agent id.

Each browser websocket of a signed-in agent subscribes for that agent only; a pop published for
agent 7 reaches agent 7's subscriptions and nobody else's. Publishing never blocks: a browser
that does not read has its oldest pops dropped (the page fetches the current pop on reconnect).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

Pop = dict[str, Any]
QUEUE_SIZE = 20


class Subscription:
    def __init__(self, hub: PopHub, agent_id: int) -> None:
        self.agent_id = agent_id
        self._hub = hub
        self._queue: asyncio.Queue[Pop] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, pop: Pop) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(pop)

    async def get(self) -> Pop:
        return await self._queue.get()

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class PopHub:
    def __init__(self) -> None:
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)

    def subscribe(self, agent_id: int) -> Subscription:
        subscription = Subscription(self, agent_id)
        self._subscriptions[agent_id].add(subscription)
        return subscription

    def publish(self, agent_id: int, pop: Pop) -> int:
        """Hand `pop` to every subscription of that agent; how many there were."""
        subscriptions = self._subscriptions.get(agent_id, set())
        for subscription in subscriptions:
            subscription.offer(pop)
        return len(subscriptions)

    def subscribers(self, agent_id: int) -> int:
        return len(self._subscriptions.get(agent_id, ()))

    def _remove(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.agent_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.agent_id]
