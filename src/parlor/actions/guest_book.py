"""Who the guests are: held in memory only, never stored or logged (DESIGN §1).

A guest is an ephemeral id, a display name and the one room they are in, found by
the digest of a random token their browser holds (a cookie). Each entry into a room
as a guest makes a new guest; the entry is forgotten as soon as they are out of that
room (LiveRooms.put), and with it every way to act as them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from parlor.domain.rooms import is_guest
from parlor.domain.users import User

# What the audit log holds of a guest (actions/rooms.py, actions/chat.py): that it was one.
GUEST_ACTOR = "guest"


def audit_id(user_id: str | None) -> str | None:
    """A participant as the audit log may name them: a member by id, a guest only as "guest"."""
    return GUEST_ACTOR if user_id is not None and is_guest(user_id) else user_id


@dataclass(frozen=True)
class Guest:
    id: str
    display_name: str
    room_id: str
    token_hash: str

    def as_user(self) -> User:
        """The guest as the room actions' actor (no username: they have no account)."""
        return User(id=self.id, username="", display_name=self.display_name, is_admin=False, created_at=0.0)


@dataclass
class GuestBook:
    by_id: dict[str, Guest] = field(default_factory=dict)
    by_token: dict[str, Guest] = field(default_factory=dict)
    # Live guest rooms by name (lower case) → room id.
    rooms_by_name: dict[str, str] = field(default_factory=dict)
    # Opening a guest room by name: one at a time, so two first arrivals make one room.
    opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add(self, guest: Guest) -> None:
        self.by_id[guest.id] = guest
        self.by_token[guest.token_hash] = guest

    def get(self, guest_id: str) -> Guest | None:
        return self.by_id.get(guest_id)

    def user(self, guest_id: str) -> User | None:
        guest = self.by_id.get(guest_id)
        return guest.as_user() if guest else None

    def by_token_hash(self, token_hash: str) -> Guest | None:
        return self.by_token.get(token_hash)

    def forget(self, guest_id: str) -> None:
        guest = self.by_id.pop(guest_id, None)
        if guest is not None:
            self.by_token.pop(guest.token_hash, None)

    def room_gone(self, room_id: str) -> None:
        for name in [n for n, rid in self.rooms_by_name.items() if rid == room_id]:
            del self.rooms_by_name[name]
