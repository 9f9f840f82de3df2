"""What chat and reactions keep per live room, in this node's memory only.

The actions (actions/chat.py, actions/reactions.py) hold the rules of when and how;
these are the stores, built once with the other services.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from parlor.domain.chat import Chat

# Reactions: at most one `reactions` message per room per INTERVAL_S, naming at most
# BY_MAX senders (the rest are in the counts only).
INTERVAL_S = 0.5
BY_MAX = 50


@dataclass
class ChatBoard:
    """Every live room's chat on this node (rooms not in it have the default chat)."""

    rooms: dict[str, Chat] = field(default_factory=dict)
    # The recent lines as JSON, built once per change for everyone who subscribes.
    lines_json: dict[str, str] = field(default_factory=dict)

    def get(self, room_id: str) -> Chat:
        return self.rooms.get(room_id) or Chat()

    def put(self, room_id: str, chat: Chat) -> None:
        self.rooms[room_id] = chat
        self.lines_json.pop(room_id, None)

    def forget(self, room_id: str) -> None:
        """The room ended: its chat is gone."""
        self.rooms.pop(room_id, None)
        self.lines_json.pop(room_id, None)



@dataclass
class _Room:
    counts: dict[str, int] = field(default_factory=dict)
    by: dict[str, dict[str, int]] = field(default_factory=dict)
    sent_at: float = -1e9
    timer: asyncio.TimerHandle | None = None


@dataclass
class ReactionBoard:
    rooms: dict[str, _Room] = field(default_factory=dict)

    def add(self, room_id: str, user_id: str, emoji: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = _Room()
        room.counts[emoji] = room.counts.get(emoji, 0) + 1
        mine = room.by.get(user_id)
        if mine is None and len(room.by) < BY_MAX:
            mine = room.by[user_id] = {}
        if mine is not None:
            mine[emoji] = mine.get(emoji, 0) + 1

    def due(self, room_id: str, now: float) -> tuple[tuple[dict[str, int], dict[str, dict[str, int]]] | None, float]:
        """(the batch to send now, or None) and, if it must wait, how long."""
        room = self.rooms.get(room_id)
        if room is None or not room.counts:
            return None, 0.0
        wait = room.sent_at + INTERVAL_S - now
        if wait > 0:
            return None, wait
        batch = (room.counts, room.by)
        room.counts, room.by, room.sent_at = {}, {}, now
        return batch, 0.0

    def forget(self, room_id: str) -> None:
        room = self.rooms.pop(room_id, None)
        if room is not None and room.timer is not None:
            room.timer.cancel()
