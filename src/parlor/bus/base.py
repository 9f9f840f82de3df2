"""The bus contract: publish a JSON-able message on a channel; subscribers get it.

Delivery is at-most-once and in order per publisher and channel; a subscriber on the
publisher's own node gets it before `publish` returns. Subscribers must not block:
their callback is called synchronously and should only enqueue. A bus that may miss
messages (Redis went away for a while: bus/redis.py) never misses them silently: it
hands each affected channel's subscribers a `RESYNC` message, after which they must
fetch the state again instead of trusting what they hold.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]
Callback = Callable[[Message], None]
Unsubscribe = Callable[[], None]


def room_channel(room_id: str) -> str:
    return f"room:{room_id}"


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


HALLWAY = "hallway"

# {"name": RESYNC, "data": {}}: messages of this channel may have been lost.
RESYNC = "bus.resync"


class Bus(abc.ABC):
    @abc.abstractmethod
    async def publish(self, channel: str, message: Message) -> None: ...

    @abc.abstractmethod
    def subscribe(self, channel: str, callback: Callback) -> Unsubscribe:
        """Start delivering the channel's messages to `callback`; return how to stop."""

    async def ready(self) -> None:  # noqa: B027 - optional hook
        """Wait until the channels subscribed so far also hear other nodes (a cluster)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
