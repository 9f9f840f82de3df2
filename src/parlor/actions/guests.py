"""Guests: people without an account (DESIGN §1; domain/guests.py has the rules).

Two ways in, both only while the instance allows guests (the `guest_rooms` instance
setting, actions/instance_settings.py):
- a guest room, opened by its name (`/r/<name>`): the first to arrive opens it and
  moderates; it ends when the last person leaves;
- a members' room whose moderator lets "anyone with the link" in (`guests_allowed`).

Nothing about a guest is written to the database or the logs: a guest is an entry
in the in-memory guest book (actions/guest_book.py), found by the digest of a random
token their browser holds, and gone as soon as they are out of the room. A guest
room itself is never stored either (actions/rooms.py `_transition`). Entries are
rate-limited per address (`guest_join`; opening a room also `guest_room_open`).
"""

from __future__ import annotations

from typing import Any

from parlor.actions import limits
from parlor.actions.guest_book import Guest
from parlor.actions.ids import digest, new_id, new_secret
from parlor.actions.instance_settings import guest_rooms_on
from parlor.actions.room_lookup import check_room
from parlor.actions.rooms import _announce, _transition, room_view
from parlor.actions.services import Services
from parlor.domain import guests as domain
from parlor.domain.rooms import GUEST_PREFIX, Room
from parlor.domain.users import User
from parlor.errors import Code, ParlorError


async def check_guests_on(s: Services) -> None:
    async with s.db.engine.connect() as conn:
        on = await guest_rooms_on(s, conn)
    if not on:
        raise ParlorError(403, Code.GUEST_ROOMS_OFF, "This instance does not let people in without an account.")


async def guests_enabled(s: Services) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        return {"enabled": await guest_rooms_on(s, conn)}


def authenticate(s: Services, token: str | None) -> Guest | None:
    """The guest a browser's token names, while they are in their room."""
    if not token or len(token) > 200:
        return None
    return s.live.guests.by_token_hash(digest(token))


def guest_view(guest: Guest) -> dict[str, Any]:
    return {"id": guest.id, "display_name": guest.display_name, "room_id": guest.room_id, "guest": True}


def entered_view(s: Services, guest: Guest, room: Room) -> dict[str, Any]:
    """The answer to coming in: `{guest, room}` (the room's snapshot)."""
    return {"guest": guest_view(guest), "room": room_view(s, room)}


async def guest_room_status(s: Services, name: str) -> dict[str, Any]:
    """GET /api/guest-rooms/{name}: whether it is live and how many are in it (not who)."""
    key = domain.room_key(name)
    await check_guests_on(s)
    room_id = s.live.guests.rooms_by_name.get(key)
    room = s.live.get(room_id) if room_id else None
    return {
        "name": key,
        "live": room is not None,
        "room_id": room.id if room else None,
        "title": room.title if room else name,
        "count": len(room.participants) if room else 0,
        "encrypted": room.encrypted if room else False,
    }


async def _admit(s: Services, room_id: str, guest: Guest, apply: Any) -> Room:
    """Put the guest in the book, then the room; if the room refuses, forget them again."""
    s.live.guests.add(guest)
    try:
        room = await _transition(s, room_id, guest.id, "guest.join", apply)
    except BaseException:
        s.live.guests.forget(guest.id)
        raise
    s.live.arrived(room_id, guest.id, s.clock())
    return room


def _new_guest(room_id: str, display_name: str) -> tuple[Guest, str]:
    token = new_secret()
    return Guest(new_id(GUEST_PREFIX.rstrip("_")), display_name, room_id, digest(token)), token


async def do_enter_guest_room(
    s: Services, name: str, display_name: str, *, address: str | None, encrypted: bool = False
) -> tuple[Guest, str, Room]:
    """Come into the guest room `name` as a guest, opening it if it is not live.
    Returns the guest, the token their browser keeps, and the room. `encrypted`: the
    room is opened end-to-end encrypted (docs/E2EE.md); said by whoever opens it, and
    ignored for a room already live (it is, or is not, for its whole life)."""
    key = domain.room_key(name)
    shown = domain.clean_display_name(display_name)
    await check_guests_on(s)
    async with s.live.guests.opening:
        room_id = s.live.guests.rooms_by_name.get(key)
        live = s.live.get(room_id) if room_id else None
        if live is None:
            await limits.check(s, "guest_room_open", address=address)
            await limits.check(s, "guest_join", address=address)
            room_id = new_id("r")
            guest, token = _new_guest(room_id, shown)
            now = s.clock()
            room = domain.create_guest_room(
                room_id, name, guest.id, now, capacity=s.settings.room_capacity, encrypted=encrypted
            )
            s.live.guests.add(guest)
            s.live.guests.rooms_by_name[key] = room_id
            s.live.put(room)
            s.live.arrived(room_id, guest.id, now)
            # Told like any change (the creator's room.you, the media plane's stage).
            await _announce(s, None, room)
            return guest, token, room
    await limits.check(s, "guest_join", address=address)
    guest, token = _new_guest(live.id, shown)
    now = s.clock()
    room = await _admit(s, live.id, guest, lambda r: domain.guest_join(r, guest.id, now))
    return guest, token, room


async def member_room_status(s: Services, room_id: str) -> dict[str, Any]:
    """GET /api/guest/rooms/{id}: a members' room, for someone without an account who
    has its link: its title, if its moderators let guests in (else the refusal)."""
    await check_guests_on(s)
    room = await check_room(s, room_id)
    if room.guest_room or not room.guests_allowed:
        raise ParlorError(403, Code.GUESTS_NOT_ALLOWED, "This room is for members only: sign in to join it.")
    return {"id": room.id, "title": room.title, "count": len(room.participants)}


async def do_enter_member_room(
    s: Services, room_id: str, display_name: str, *, address: str | None
) -> tuple[Guest, str, Room]:
    """Come into a members' room open to "anyone with the link", as a guest."""
    shown = domain.clean_display_name(display_name)
    await check_guests_on(s)
    room = await check_room(s, room_id)
    if room.guest_room:
        raise ParlorError(409, Code.IS_GUEST_ROOM, "This is a guest room: open it by its name.")
    if not room.guests_allowed:
        raise ParlorError(403, Code.GUESTS_NOT_ALLOWED, "This room is for members only: sign in to join it.")
    await limits.check(s, "guest_join", address=address)
    guest, token = _new_guest(room_id, shown)
    now = s.clock()
    joined = await _admit(s, room_id, guest, lambda r: domain.guest_join(r, guest.id, now))
    return guest, token, joined


async def do_set_guests_allowed(s: Services, user: User, room_id: str, allowed: bool) -> Room:
    """A moderator of a members' room turns "anyone with the link" on or off (audited);
    off: the guests are out at once (told on their sockets, their media closed)."""
    if allowed:
        await check_guests_on(s)
    return await _transition(
        s,
        room_id,
        user.id,
        "room.guests.on" if allowed else "room.guests.off",
        lambda r: domain.set_guests_allowed(r, user.id, allowed),
    )


async def do_set_open_stage(s: Services, user: User, room_id: str, open_stage: bool) -> Room:
    """A guest room's moderator turns the stage on (`open_stage` False) or off."""
    now = s.clock()
    return await _transition(
        s,
        room_id,
        user.id,
        "stage.open" if open_stage else "stage.on",
        lambda r: domain.set_open_stage(r, user.id, open_stage, now),
    )
