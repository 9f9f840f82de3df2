"""The hallway: live rooms as one member sees them (DESIGN §5).

Ranked by how many people the viewer follows are on stage, then in the room at
all, then rooms of the viewer's clubs (member or follower), then rooms on topics
the viewer likes (their interests; more shared topics first), then the rest by
size and recency. `?topic=` keeps only the rooms on that topic. A members-only club
room shows to the club's members only (as only they may join it). A room never shows when its creator or
one of its moderators and the viewer are blocked either way (the viewer could not
join it: `actions.rooms.do_join`), nor a room the viewer was removed from with a
block, nor any room of a moderator who did that (by id too, such a room is 404).
A social room shows to people one of its moderators follows, a closed room to
people invited into it (and to anyone in either): exactly who may join
(`domain.rooms.kind_admits`).

Cheap per request: the rooms are the in-memory live rooms; the database is asked
once for the viewer's follows and blocks (`storage.hallway.viewer_graph`), and, only
when social rooms are live, once more: which of their moderators follow the viewer.

Live updates: every client gets `hallway.changed` (coalesced, ≤1/s) and refetches,
so what a client sees is always this filtered list. A room started by someone you
follow also reaches you as a `room_started` notification on your own channel, on
which the socket sends `hallway.changed` at once (`transport/ws/endpoint.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import events
from parlor.actions.services import Services
from parlor.domain.clubs import ClubRole, is_member
from parlor.domain.rooms import Participant, Room, RoomKind, club_ref, kind_admits
from parlor.domain.topics import check_topics
from parlor.domain.users import User
from parlor.storage import clubs as club_store
from parlor.storage import hallway as store
from parlor.storage import interests as interest_store

# Speakers named on a card; `speaker_count` counts them all.
SPEAKERS_SHOWN = 5


def visible(
    room: Room,
    viewer_id: str,
    blocked: set[str],
    followers: Collection[str],
    clubs: Mapping[str, ClubRole] = MappingProxyType({}),
) -> bool:
    """`followers`: people who follow the viewer (only moderators of live rooms matter);
    `clubs`: the viewer's clubs and roles."""
    if room.ended or viewer_id in room.blocked:
        return False
    if room.created_by in blocked or any(p.user_id in blocked for p in room.moderators):
        return False
    followed_by_moderator = any(p.user_id in followers for p in room.moderators)
    member = room.club_id is not None and is_member(clubs.get(room.club_id))
    return kind_admits(room, viewer_id, followed_by_moderator=followed_by_moderator, club_member=member)


async def moderators_following(conn: AsyncConnection, viewer_id: str, rooms: Collection[Room]) -> set[str]:
    """Moderators of the social rooms the viewer is not already let into who follow them."""
    asked = {
        p.user_id
        for room in rooms
        if room.kind is RoomKind.SOCIAL and viewer_id not in room.participants and viewer_id not in room.invited
        for p in room.moderators
    }
    return await store.followers_among(conn, viewer_id, asked) if asked else set()


def cards(
    rooms: Iterable[Room],
    viewer_id: str,
    followed: set[str],
    blocked: set[str],
    profiles: Mapping[str, User],
    *,
    followers: Collection[str] = (),
    avatars: Mapping[str, str | None] = MappingProxyType({}),
    clubs: Mapping[str, ClubRole] = MappingProxyType({}),
    liked: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The hallway for one viewer, ranked (pure: tested directly and over HTTP)."""
    ranked: list[tuple[tuple[int, int, int, int, int, float, str], dict[str, Any]]] = []
    for room in rooms:
        if not visible(room, viewer_id, blocked, followers, clubs):
            continue
        stage = [p for p in room.participants.values() if p.on_stage]
        on_stage = sum(1 for p in stage if p.user_id in followed)
        in_room = len(followed.intersection(room.participants))
        your_club = room.club_id is not None and room.club_id in clubs
        liked_topics = [t for t in room.topics if t in liked]
        card = {
            "id": room.id,
            "title": room.title,
            "kind": room.kind.value,
            "speakers": _speakers(stage, followed, blocked, profiles, avatars),
            "speaker_count": len(stage),
            "listener_count": len(room.participants) - len(stage),
            "followed_on_stage": on_stage,
            "followed_in_room": in_room,
            "topics": list(room.topics),
            "club": club_ref(room),
            "encrypted": room.encrypted,
            "your_club": your_club,
            "liked_topics": liked_topics,
        }
        key = (
            -on_stage,
            -in_room,
            -int(your_club),
            -len(liked_topics),
            -len(room.participants),
            -room.created_at,
            room.id,
        )
        ranked.append((key, card))
    ranked.sort(key=lambda item: item[0])
    return [card for _, card in ranked]


def _speakers(
    stage: list[Participant],
    followed: set[str],
    blocked: set[str],
    profiles: Mapping[str, User],
    avatars: Mapping[str, str | None],
) -> list[dict[str, str | None]]:
    """A few names for the card: people you follow first, then by time on stage; never
    someone blocked either way with you."""
    shown = sorted(
        (p for p in stage if p.user_id not in blocked and p.user_id in profiles),
        key=lambda p: (p.user_id not in followed, p.stage_since or 0.0, p.user_id),
    )
    return [
        {"id": u.id, "username": u.username, "display_name": u.display_name, "avatar_url": avatars.get(u.id)}
        for u in (profiles[p.user_id] for p in shown[:SPEAKERS_SHOWN])
    ]


def check_topic(s: Services, topic: str | None) -> str | None:
    """A `?topic=` filter: one of the instance's topics (400 unknown_topic otherwise)."""
    if topic is None:
        return None
    return check_topics([topic], s.settings.topics)[0]


async def viewer_tastes(
    conn: AsyncConnection, viewer_id: str, rooms: Collection[Room]
) -> tuple[dict[str, ClubRole], set[str]]:
    """The viewer's clubs and interests, read only when some live room has a club or topics."""
    clubs = await club_store.roles_of(conn, viewer_id) if any(r.club_id for r in rooms) else {}
    liked = set(await interest_store.interests_of(conn, viewer_id)) if any(r.topics for r in rooms) else set()
    return clubs, liked


async def hallway_page(s: Services, viewer: User, *, topic: str | None = None) -> dict[str, Any]:
    """GET /api/rooms: the viewer's hallway (`topic`: only rooms on it), and a few upcoming
    events (hosts the viewer follows and their clubs first; index ranges cut by a LIMIT,
    storage/events.py). One connection for both."""
    wanted = check_topic(s, topic)
    async with s.db.engine.connect() as conn:
        rooms = await hallway(s, conn, viewer, topic=wanted)
        upcoming = await events.upcoming_in(s, conn, viewer)
    return {"rooms": rooms, "events": upcoming}


async def hallway(s: Services, conn: AsyncConnection, viewer: User, *, topic: str | None) -> list[dict[str, Any]]:
    """The viewer's hallway cards (`topic`: already checked; only rooms on it)."""
    # Guest rooms are found by their name only, never listed.
    rooms = [room for room in s.live.rooms.values() if not room.guest_room and (topic is None or topic in room.topics)]
    if not rooms:
        return []
    followed, blocked = await store.viewer_graph(conn, viewer.id)
    followers = await moderators_following(conn, viewer.id, rooms)
    clubs, liked = await viewer_tastes(conn, viewer.id, rooms)
    return cards(
        rooms,
        viewer.id,
        followed,
        blocked,
        s.live.profiles,
        followers=followers,
        avatars=s.live.avatars,
        clubs=clubs,
        liked=liked,
    )
