"""The hallway: live rooms as one member sees them (DESIGN §5).

Ranked by how many people the viewer follows are on stage, then in the room at
all, then the rest by size and recency. A room never shows when its creator or
one of its moderators and the viewer are blocked either way (the viewer could not
join it: `actions.rooms.do_join`), nor a room the viewer was removed from with a
block. Social rooms show to followers of a speaker, closed rooms to participants.

Cheap per request: the rooms are the in-memory live rooms; the database is asked
once, for the viewer's follows and blocks (`storage.hallway.viewer_graph`).

Live updates: every client gets `hallway.changed` (coalesced, ≤1/s) and refetches,
so what a client sees is always this filtered list. A room started by someone you
follow also reaches you as a `room_started` notification on your own channel, on
which the socket sends `hallway.changed` at once (`transport/ws/endpoint.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from parlor.actions.services import Services
from parlor.domain.rooms import Participant, Room, RoomKind
from parlor.domain.users import User
from parlor.storage import hallway as store

# Speakers named on a card; `speaker_count` counts them all.
SPEAKERS_SHOWN = 5


def visible(room: Room, viewer_id: str, blocked: set[str], followed_on_stage: int) -> bool:
    if room.ended or viewer_id in room.blocked:
        return False
    if room.created_by in blocked or any(p.user_id in blocked for p in room.moderators):
        return False
    if room.kind is RoomKind.CLOSED:
        return viewer_id in room.participants
    if room.kind is RoomKind.SOCIAL:
        return viewer_id in room.participants or followed_on_stage > 0
    return True


def cards(
    rooms: Iterable[Room], viewer_id: str, followed: set[str], blocked: set[str], profiles: Mapping[str, User]
) -> list[dict[str, Any]]:
    """The hallway for one viewer, ranked (pure: tested directly and over HTTP)."""
    ranked: list[tuple[tuple[int, int, int, float, str], dict[str, Any]]] = []
    for room in rooms:
        stage = [p for p in room.participants.values() if p.on_stage]
        on_stage = sum(1 for p in stage if p.user_id in followed)
        if not visible(room, viewer_id, blocked, on_stage):
            continue
        in_room = len(followed.intersection(room.participants))
        card = {
            "id": room.id,
            "title": room.title,
            "speakers": _speakers(stage, followed, blocked, profiles),
            "speaker_count": len(stage),
            "listener_count": len(room.participants) - len(stage),
            "followed_on_stage": on_stage,
            "followed_in_room": in_room,
        }
        ranked.append(((-on_stage, -in_room, -len(room.participants), -room.created_at, room.id), card))
    ranked.sort(key=lambda item: item[0])
    return [card for _, card in ranked]


def _speakers(
    stage: list[Participant], followed: set[str], blocked: set[str], profiles: Mapping[str, User]
) -> list[dict[str, str]]:
    """A few names for the card: people you follow first, then by time on stage; never
    someone blocked either way with you."""
    shown = sorted(
        (p for p in stage if p.user_id not in blocked and p.user_id in profiles),
        key=lambda p: (p.user_id not in followed, p.stage_since or 0.0, p.user_id),
    )
    return [
        {"id": u.id, "username": u.username, "display_name": u.display_name}
        for u in (profiles[p.user_id] for p in shown[:SPEAKERS_SHOWN])
    ]


async def hallway(s: Services, viewer: User) -> list[dict[str, Any]]:
    """GET /api/rooms: the viewer's hallway."""
    if not s.live.rooms:
        return []
    async with s.db.engine.connect() as conn:
        followed, blocked = await store.viewer_graph(conn, viewer.id)
    return cards(list(s.live.rooms.values()), viewer.id, followed, blocked, s.live.profiles)
