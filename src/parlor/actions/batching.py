"""Room messages that go out at most once per interval ("who is speaking", reactions):
publish what is due now, or set one timer for when it will be."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from parlor.actions import background
from parlor.bus.base import Message, room_channel

if TYPE_CHECKING:
    from parlor.actions.services import Services  # services holds the boards

P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)


class _Timed(Protocol):
    timer: asyncio.TimerHandle | None


class Board(Protocol, Generic[P_co]):
    """Per room: what is held back, and when it may go (`due`), and its timer."""

    @property
    def rooms(self) -> Mapping[str, _Timed]: ...

    def due(self, room_id: str, now: float) -> tuple[P_co | None, float]: ...


def flush(s: Services, room_id: str, board: Board[P], build: Callable[[P], Message]) -> None:
    """Publish the room's held-back message if it is due, else fire once when it is."""
    loop = asyncio.get_running_loop()
    payload, wait = board.due(room_id, loop.time())
    if payload is not None:
        background.spawn(s.bus.publish(room_channel(room_id), build(payload)))
        return
    room = board.rooms.get(room_id)
    if wait > 0 and room is not None and room.timer is None:

        def fire() -> None:
            room.timer = None
            if s.live.get(room_id) is not None:
                flush(s, room_id, board, build)

        room.timer = loop.call_later(wait, fire)

