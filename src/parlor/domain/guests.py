"""Guests: people without an account, in guest rooms and in members' rooms that let
"anyone with the link" in (DESIGN §1). Pure rules, like domain/rooms.py.

A guest room is opened by a name (`/r/<name>`): the first to arrive moderates, and
everyone who comes in is on stage (muted, as every newcomer to a stage) until a
moderator turns the stage on; then newcomers listen and raise a hand. A guest in a
members' room listens, raises a hand and may be invited to speak, but never
moderates it (rooms.make_moderator, rooms._succession).
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

from parlor.domain.clubs import members_only_refusal
from parlor.domain.rooms import (
    GUEST_PREFIX,
    HandRaise,
    Participant,
    Role,
    Room,
    RoomKind,
    _live,
    _moderator,
    _refuse,
    _with,
    is_guest,
)
from parlor.domain.text import clean_text
from parlor.errors import Code, ParlorError

__all__ = ["GUEST_PREFIX", "is_guest"]

NAME_MIN, NAME_MAX = 4, 64
DISPLAY_NAME_MAX = 40
_NAME = re.compile(rf"[A-Za-z0-9_-]{{{NAME_MIN},{NAME_MAX}}}")


def room_key(name: str) -> str:
    """The guest room a name opens (names are case-insensitive), or a 400."""
    if not _NAME.fullmatch(name):
        raise ParlorError(
            400,
            Code.INVALID_ROOM_NAME,
            f"A guest room's name is {NAME_MIN} to {NAME_MAX} letters, digits, '-' or '_'.",
        )
    return name.lower()


def clean_display_name(name: str) -> str:
    return clean_text(name, "A display name", min_len=1, max_len=DISPLAY_NAME_MAX)


def create_guest_room(
    room_id: str, name: str, creator: str, now: float, *, capacity: int = 5000, encrypted: bool = False
) -> Room:
    """A guest room, with its first arrival (a guest) as its moderator, on stage muted;
    `encrypted`: end-to-end, with the key in the link's fragment or from a passphrase
    (docs/E2EE.md §1), for as long as the room lives."""
    room_key(name)
    first = Participant(creator, Role.MODERATOR, joined_at=now, stage_since=now, self_muted=True)
    return Room(
        id=room_id,
        title=name,
        created_by=creator,
        created_at=now,
        kind=RoomKind.OPEN,
        hand_raise=HandRaise.EVERYONE,
        capacity=capacity,
        participants=MappingProxyType({creator: first}),
        guest_room=True,
        open_stage=True,
        encrypted=encrypted,
        version=1,
    )


def guest_join(room: Room, guest_id: str, now: float) -> Room:
    """A guest comes in: on stage (muted) while the stage is open, else as a listener."""
    _live(room)
    if not is_guest(guest_id):
        raise _refuse(Code.NOT_A_GUEST, "Only guests come in this way.", 400)
    if guest_id in room.participants:
        raise _refuse(Code.ALREADY_IN_ROOM, "You are already in this room.", 409)
    if not (room.guest_room or room.guests_allowed):
        raise _refuse(Code.GUESTS_NOT_ALLOWED, "This room is for members only: sign in to join it.")
    if guest_id in room.blocked:
        raise _refuse(Code.ROOM_NOT_FOUND, "There is no such room.", 404)
    if len(room.participants) >= room.capacity:
        raise _refuse(Code.ROOM_FULL, "This room is full.", 409)
    if room.open_stage:
        person = Participant(guest_id, Role.SPEAKER, joined_at=now, stage_since=now, self_muted=True)
    else:
        person = Participant(guest_id, Role.LISTENER, joined_at=now)
    return _with(room, person)


def set_guests_allowed(room: Room, actor: str, allowed: bool) -> Room:
    """A moderator lets "anyone with the link" in as a guest, or not: then every guest
    in the room is out at once."""
    _moderator(room, actor)
    if room.guest_room:
        raise _refuse(Code.IS_GUEST_ROOM, "Everyone in a guest room is a guest.", 409)
    if allowed and room.members_only:
        raise members_only_refusal(room.club_name)
    if room.guests_allowed == allowed:
        return room
    changed = replace(room, guests_allowed=allowed)
    if allowed:
        return replace(changed, version=room.version + 1)
    guests = tuple(user_id for user_id in room.participants if is_guest(user_id))
    # Guests never moderate a members' room, so none of them leaves it without a moderator.
    return _with(changed, removed=guests)


def set_open_stage(room: Room, actor: str, open_stage: bool, now: float) -> Room:
    """A guest room's moderator turns the stage on (`open_stage` False: newcomers listen,
    and everyone else on stage who is not a moderator goes to the audience) or off
    (everyone comes up, muted)."""
    moderator = _moderator(room, actor)
    if not room.guest_room:
        raise _refuse(Code.NOT_GUEST_ROOM, "Only a guest room has an open stage.", 409)
    if room.open_stage == open_stage:
        return room
    changed = replace(room, open_stage=open_stage)
    people: list[Participant] = []
    for p in room.participants.values():
        if p.role is Role.MODERATOR or p.user_id == moderator.user_id:
            continue
        if open_stage and p.role is Role.LISTENER:
            people.append(
                replace(
                    p,
                    role=Role.SPEAKER,
                    stage_since=now,
                    self_muted=True,
                    mute_locked=False,
                    hand_raised=False,
                    speak_invite=False,
                )
            )
        elif not open_stage and p.role is Role.SPEAKER:
            down = replace(p, role=Role.LISTENER, stage_since=None, self_muted=False, mute_locked=False)
            people.append(replace(down, speak_invite=False))
    return _with(changed, *people)
