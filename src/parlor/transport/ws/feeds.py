"""One bus subscription per channel per node, shared by every socket that follows it.

A room of 5,000 listeners on one node used to be 5,000 bus subscriptions: each join's
snapshot was handed to 5,000 callbacks, each with its own merge timer, so a join cost
O(listeners) and the 5,000th join was a thousand times dearer than the fifth (docs/
BENCHMARKS.md, "Presence at scale"). Here a channel has one subscription and one merge
timer: a message that may be merged (an audience-only room snapshot, "the hallway
changed") only replaces what is held back, and the whole channel is visited once per
interval, not once per message. Messages that must go out at once are handed to every
follower as they come, as before.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

from parlor.bus.base import Bus, Unsubscribe

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
# How long a message may be held back to be merged with later ones (seconds, given how
# many sockets follow the channel), or None: it goes out at once.
MergeRule = Callable[[dict[str, Any], int], float | None]


class Feed:
    """A channel's followers on this node, and what is held back for them."""

    def __init__(self, bus: Bus, channel: str, merge: MergeRule, on_empty: Callable[[], None]) -> None:
        self.channel = channel
        self._merge = merge
        self._on_empty = on_empty
        self._handlers: dict[int, Handler] = {}
        self._next_key = 0
        self._last: dict[str, float] = {}  # message name -> when one last went out
        self._pending: dict[str, dict[str, Any]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._unsubscribe = bus.subscribe(channel, self._on_message)

    def __len__(self) -> int:
        return len(self._handlers)

    def follow(self, handler: Handler) -> Unsubscribe:
        key = self._next_key
        self._next_key += 1
        self._handlers[key] = handler

        def unfollow() -> None:
            if self._handlers.pop(key, None) is not None and not self._handlers:
                self.close()
                self._on_empty()

        return unfollow

    def close(self) -> None:
        self._unsubscribe()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()

    def _on_message(self, message: dict[str, Any]) -> None:
        name = message["name"]
        hold = self._merge(message, len(self._handlers))
        if hold is None:
            # Goes out now; what was held back under the same name is older: drop it.
            self._pending.pop(name, None)
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()
            self._deliver(message)
            return
        loop = asyncio.get_running_loop()
        wait = self._last.get(name, -math.inf) + hold - loop.time()
        if wait <= 0 and name not in self._timers:
            self._deliver(message)
            return
        self._pending[name] = message
        if name not in self._timers:
            self._timers[name] = loop.call_later(max(wait, 0.0), self._flush, name)

    def _flush(self, name: str) -> None:
        self._timers.pop(name, None)
        message = self._pending.pop(name, None)
        if message is not None:
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        self._last[message["name"]] = asyncio.get_running_loop().time()
        # Copy: a handler may unfollow (a `room.ended` stops its socket's subscription).
        for handler in list(self._handlers.values()):
            try:
                handler(message)
            except Exception:  # one socket's fault must not starve the others
                logger.exception("feed follower failed on %s", self.channel)


class Feeds:
    """This node's feeds, made on first follow and dropped with the last follower."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._feeds: dict[str, Feed] = {}

    def follow(self, channel: str, merge: MergeRule, handler: Handler) -> Unsubscribe:
        feed = self._feeds.get(channel)
        if feed is None:

            def forget() -> None:
                self._feeds.pop(channel, None)

            feed = Feed(self._bus, channel, merge, forget)
            self._feeds[channel] = feed
        return feed.follow(handler)

    def count(self) -> int:
        return len(self._feeds)
