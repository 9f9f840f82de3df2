"""The bus contract: publish a JSON-able message on a channel; subscribers get it.

Delivery is at-most-once and in order per channel. Subscribers must not block:
their callback is called synchronously and should only enqueue.
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


class Bus(abc.ABC):
    @abc.abstractmethod
    async def publish(self, channel: str, message: Message) -> None: ...

    @abc.abstractmethod
    def subscribe(self, channel: str, callback: Callback) -> Unsubscribe:
        """Start delivering the channel's messages to `callback`; return how to stop."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
