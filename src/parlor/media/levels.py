"""Who is speaking now: reported only when it changes, never in silence.

Every LEVELS_INTERVAL_S the loudest RFC 6464 level of each audible speaker with a peer
here is read (and the window reset). `SpeakingTracker` turns those into a quantized
"who is speaking, how loud" map with hysteresis, so a steady voice or a room in silence
produces no report at all; the callback gets only the changes: the speakers whose
quantized level changed, with 0.0 for those who stopped (or went: muted, off stage,
disconnected). Each speaker's peer is on one worker, so a room's reports from several
workers never overlap; the actions layer merges them (actions/speaking.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from parlor.media.base import LevelsCallback
from parlor.media.rtp import level_to_loudness

logger = logging.getLogger(__name__)

LEVELS_INTERVAL_S = 0.25
# Loudness (0..1) is reported in steps of LEVEL_STEP; a speaker's level moves only when
# the window's loudness is a whole step away from it (no flapping on a step's edge).
LEVEL_STEP = 0.1
# Below this a speaker is silent (about -120 dBov: comfort noise and up count as speech,
# as the web client's ring always did).
SPEAKING_MIN = 0.05
# Windows of silence before a speaker stops counting as speaking: the gaps between words
# do not toggle the ring.
HOLD_WINDOWS = 2


class LevelRoom(Protocol):
    # loudest RFC 6464 level (0 loud .. 127 silent) seen per speaker since the last report
    levels: dict[str, int]

    @property
    def room_id(self) -> str: ...

    @property
    def audible(self) -> frozenset[str]: ...

    @property
    def peers(self) -> Mapping[str, object]: ...


def take_report(room: LevelRoom) -> dict[str, float]:
    """The room's loudness per connected audible speaker (0 for silent ones); resets the window."""
    speakers = [u for u in room.audible if u in room.peers]
    levels, room.levels = room.levels, {}
    return {u: level_to_loudness(levels[u]) if u in levels else 0.0 for u in speakers}


def quantize(loudness: float) -> float:
    return round(round(loudness / LEVEL_STEP) * LEVEL_STEP, 3)


class SpeakingTracker:
    """One room's speakers on this worker: who is speaking and how loud, quantized."""

    def __init__(self) -> None:
        self.speaking: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def update(self, window: Mapping[str, float]) -> dict[str, float]:
        """Take one window's loudness per speaker; return what changed (0.0: stopped)."""
        changes: dict[str, float] = {}
        for user_id in [u for u in self.speaking if u not in window]:
            # gone from the stage or from this worker: stops at once
            del self.speaking[user_id]
            self._quiet.pop(user_id, None)
            changes[user_id] = 0.0
        for user_id, loudness in window.items():
            current = self.speaking.get(user_id)
            if loudness < SPEAKING_MIN:
                if current is None:
                    continue
                quiet = self._quiet[user_id] = self._quiet.get(user_id, 0) + 1
                if quiet >= HOLD_WINDOWS:
                    del self.speaking[user_id]
                    del self._quiet[user_id]
                    changes[user_id] = 0.0
                continue
            self._quiet.pop(user_id, None)
            if current is not None and abs(loudness - current) < LEVEL_STEP:
                continue
            level = max(LEVEL_STEP, quantize(loudness))
            if level != current:
                self.speaking[user_id] = level
                changes[user_id] = level
        return changes


async def report_forever(rooms: Callable[[], Iterable[LevelRoom]], callback: LevelsCallback) -> None:
    trackers: dict[str, SpeakingTracker] = {}
    while True:
        await asyncio.sleep(LEVELS_INTERVAL_S)
        live: set[str] = set()
        for room in list(rooms()):
            live.add(room.room_id)
            tracker = trackers.get(room.room_id)
            if tracker is None:
                tracker = trackers[room.room_id] = SpeakingTracker()
            changes = tracker.update(take_report(room))
            if not changes:
                continue
            try:
                callback(room.room_id, changes)
            except Exception:
                logger.exception("levels callback failed for room %s", room.room_id)
        for room_id in [r for r in trackers if r not in live]:
            del trackers[room_id]
