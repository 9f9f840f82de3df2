"""Live rooms held in memory by this node, and who is connected to them.

A room's transitions are serialized by its lock: read, apply a pure domain
transition, commit the durable side, then swap in the new state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from parlor.actions.guest_book import GuestBook
from parlor.domain.rooms import Room, is_guest
from parlor.domain.users import User


@dataclass
class Presence:
    """Open client queues subscribed to a room for one user, and since when none is."""

    queues: int = 0
    absent_since: float | None = None


@dataclass
class LiveRooms:
    rooms: dict[str, Room] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    presence: dict[tuple[str, str], Presence] = field(default_factory=dict)
    # Names shown in snapshots, for people currently in a live room.
    profiles: dict[str, User] = field(default_factory=dict)
    # Their avatars' URLs (None: initials), kept beside the names.
    avatars: dict[str, str | None] = field(default_factory=dict)
    # Guests (actions/guest_book.py): forgotten here as soon as they are out of their room.
    guests: GuestBook = field(default_factory=GuestBook)

    def lock(self, room_id: str) -> asyncio.Lock:
        lock = self.locks.get(room_id)
        if lock is None:
            lock = self.locks[room_id] = asyncio.Lock()
        return lock

    def avatar_changed(self, user_id: str, url: str | None) -> None:
        """Someone changed their avatar: later snapshots show the new one."""
        if user_id in self.avatars:
            self.avatars[user_id] = url

    def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    def put(self, room: Room) -> None:
        old = self.rooms.get(room.id)
        if old is not None:
            stayed = () if room.ended else room.participants
            for user_id in old.participants:
                if user_id not in stayed and is_guest(user_id):
                    self.guests.forget(user_id)
        if room.ended:
            self.guests.room_gone(room.id)
            self.rooms.pop(room.id, None)
            self.locks.pop(room.id, None)
            for key in [k for k in self.presence if k[0] == room.id]:
                del self.presence[key]
        else:
            self.rooms[room.id] = room
            for key in [k for k in self.presence if k[0] == room.id and k[1] not in room.participants]:
                del self.presence[key]

    def arrived(self, room_id: str, user_id: str, now: float) -> None:
        """A new participant: absent until a client of theirs subscribes."""
        self.presence[(room_id, user_id)] = Presence(absent_since=now)

    def attach(self, room_id: str, user_id: str) -> None:
        p = self.presence.get((room_id, user_id))
        if p is not None:
            p.queues += 1
            p.absent_since = None

    def detach(self, room_id: str, user_id: str, since: float) -> None:
        p = self.presence.get((room_id, user_id))
        if p is not None and p.queues > 0:
            p.queues -= 1
            if p.queues == 0:
                p.absent_since = since

    def unattended(self, room_id: str, user_id: str) -> bool:
        """In the room with no client subscribed to it."""
        p = self.presence.get((room_id, user_id))
        return p is not None and p.queues == 0

    def absent(self, now: float, grace: float) -> list[tuple[str, str]]:
        """(room, user) pairs with no client for longer than `grace` seconds."""
        return [
            key
            for key, p in self.presence.items()
            if p.queues == 0 and p.absent_since is not None and now - p.absent_since > grace
        ]
