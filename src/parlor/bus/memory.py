"""The in-process bus: the default, for one node."""

from __future__ import annotations

import logging

from parlor.bus.base import Bus, Callback, Message, Unsubscribe

logger = logging.getLogger(__name__)


class MemoryBus(Bus):
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callback]] = {}

    async def publish(self, channel: str, message: Message) -> None:
        # Copy: a callback may unsubscribe while we deliver.
        for callback in list(self._subscribers.get(channel, ())):
            try:
                callback(message)
            except Exception:  # one bad subscriber must not starve the others
                logger.exception("bus subscriber failed on %s", channel)

    def subscribe(self, channel: str, callback: Callback) -> Unsubscribe:
        self._subscribers.setdefault(channel, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(channel)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._subscribers[channel]

        return unsubscribe

    def channel_count(self) -> int:
        return len(self._subscribers)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))
