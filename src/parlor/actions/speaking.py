"""Who is speaking, per room: the media plane's changes merged and sent when they change.

The media plane (media/levels.py) reports only changes, per worker; here they are merged
into the room's picture, `{user_id: loudness}` of the people speaking now, and that
picture is published as one `speaking` message when it differs from the last one sent,
at most once per COALESCE_S per room. Silence sends nothing (after the one message that
says everyone stopped). The message is serialized once for all subscribers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parlor import protocol as p
from parlor.actions import batching

if TYPE_CHECKING:
    from parlor.actions.services import Services

COALESCE_S = 0.25


@dataclass
class _Room:
    levels: dict[str, float] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)
    sent_at: float = -1e9
    timer: asyncio.TimerHandle | None = None


@dataclass
class SpeakingBoard:
    rooms: dict[str, _Room] = field(default_factory=dict)

    def update(self, room_id: str, changes: dict[str, float], audible: frozenset[str]) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = _Room()
        for user_id, level in changes.items():
            if level > 0 and user_id in audible:
                room.levels[user_id] = level
            else:
                room.levels.pop(user_id, None)
        # Someone who left the stage or was muted meanwhile is not speaking.
        for user_id in [u for u in room.levels if u not in audible]:
            del room.levels[user_id]

    def drop_user(self, room_id: str, user_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.levels.pop(user_id, None)

    def forget(self, room_id: str) -> None:
        room = self.rooms.pop(room_id, None)
        if room is not None and room.timer is not None:
            room.timer.cancel()

    def due(self, room_id: str, now: float) -> tuple[dict[str, float] | None, float]:
        """(the picture to send now, or None) and, if it must wait, how long."""
        room = self.rooms.get(room_id)
        if room is None or room.levels == room.sent:
            return None, 0.0
        wait = room.sent_at + COALESCE_S - now
        if wait > 0:
            return None, wait
        room.sent = dict(room.levels)
        room.sent_at = now
        return room.sent, 0.0


    def current(self, room_id: str) -> dict[str, float]:
        """The picture last sent for the room (what a new subscriber needs)."""
        room = self.rooms.get(room_id)
        return dict(room.sent) if room is not None else {}


def message(room_id: str, levels: dict[str, float]) -> dict[str, Any]:
    """The bus message: `text` is the socket message, serialized once for every subscriber."""
    data = {"room_id": room_id, "levels": levels}
    return {"name": "speaking", "data": data, "text": p.Speaking(room_id=room_id, levels=levels).to_json()}


def current_text(s: Services, room_id: str) -> str | None:
    """The socket message telling a (re)subscribing client who is speaking, if anyone is."""
    levels = s.speaking.current(room_id)
    return p.Speaking(room_id=room_id, levels=levels).to_json() if levels else None


def do_levels(s: Services, room_id: str, changes: dict[str, float]) -> None:
    """Media callback (synchronous, on the event loop): some speakers' levels changed."""
    room = s.live.get(room_id)
    if room is None:
        s.speaking.forget(room_id)
        return
    s.speaking.update(room_id, changes, room.audible_speakers)
    _flush(s, room_id)


def do_forget_user(s: Services, room_id: str, user_id: str) -> None:
    """The user's media is gone (e.g. its worker died): they are not speaking."""
    s.speaking.drop_user(room_id, user_id)
    if s.live.get(room_id) is not None:
        _flush(s, room_id)


def _flush(s: Services, room_id: str) -> None:
    batching.flush(s, room_id, s.speaking, lambda levels: message(room_id, levels))
