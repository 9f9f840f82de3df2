"""Who is speaking now: each room's loudest level per audible speaker, a few times a second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from parlor.media.base import LevelsCallback
from parlor.media.rtp import level_to_loudness

logger = logging.getLogger(__name__)

LEVELS_INTERVAL_S = 0.25


class LevelRoom(Protocol):
    # loudest RFC 6464 level (0 loud .. 127 silent) seen per speaker since the last report
    levels: dict[str, int]

    @property
    def room_id(self) -> str: ...

    @property
    def audible(self) -> frozenset[str]: ...

    @property
    def peers(self) -> Mapping[str, object]: ...


def take_report(room: LevelRoom) -> dict[str, float] | None:
    """The room's loudness per connected audible speaker (0 for silent ones); resets the window."""
    speakers = [u for u in room.audible if u in room.peers]
    if not speakers:
        return None
    levels, room.levels = room.levels, {}
    return {u: level_to_loudness(levels[u]) if u in levels else 0.0 for u in speakers}


async def report_forever(rooms: Callable[[], Iterable[LevelRoom]], callback: LevelsCallback) -> None:
    while True:
        await asyncio.sleep(LEVELS_INTERVAL_S)
        for room in list(rooms()):
            report = take_report(room)
            if report is None:
                continue
            try:
                callback(room.room_id, report)
            except Exception:
                logger.exception("levels callback failed for room %s", room.room_id)
