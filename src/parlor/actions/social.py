"""People: profiles, follows, blocks, and search over people and live rooms.

Rules (DESIGN §5): you cannot follow yourself; someone who blocked you, or whom
you blocked, cannot be followed; blocking removes follows both ways; people
blocked either way never appear to each other in search or in follow lists.
Joining rooms across a block is refused in `actions.rooms.do_join`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from parlor.actions import clubs, growth, hallway, ids, notifications, profiles
from parlor.actions.accounts import USERNAME
from parlor.actions.paging import check_limit, decode_cursor, encode_cursor
from parlor.actions.services import Services
from parlor.domain.clubs import ClubRole
from parlor.domain.rooms import Room, club_ref
from parlor.domain.text import clean_text
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import accounts as account_store
from parlor.storage import clubs as club_store
from parlor.storage import profiles as profile_store
from parlor.storage import rooms as room_store
from parlor.storage import social as store

logger = logging.getLogger(__name__)

PAGE_DEFAULT, PAGE_MAX = 50, 100
SEARCH_DEFAULT, SEARCH_MAX = 20, 50
SEARCH_QUERY_MAX = 50
SEARCH_ROOMS_MAX = 10


@dataclass(frozen=True)
class UserRef:
    """Someone named in a request: by username, or by id when `by_id`."""

    value: str
    by_id: bool = False


def _not_found() -> ParlorError:
    return ParlorError(404, Code.USER_NOT_FOUND, "There is no such user.")


async def check_user(s: Services, ref: UserRef) -> User:
    async with s.db.engine.connect() as conn:
        if ref.by_id:
            user = await account_store.user_by_id(conn, ref.value) if ids.looks_like_id(ref.value) else None
        else:
            name = ref.value.strip().lower()
            user = await store.user_by_username(conn, name) if USERNAME.match(name) else None
    if user is None:
        raise _not_found()
    return user


# -- profiles ---------------------------------------------------------------------------------


async def my_profile(s: Services, user: User) -> dict[str, Any]:
    """Your own profile (what the profile-editing routes answer)."""
    return await profile(s, user, UserRef(user.id, by_id=True))


async def profile(s: Services, viewer: User, ref: UserRef) -> dict[str, Any]:
    """A profile summary as the viewer sees it (docs/API.md, People)."""
    target = await check_user(s, ref)
    return await _profile(s, viewer, target)


async def _profile(s: Services, viewer: User, target: User) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        followers, following = await store.counts(conn, target.id)
        rel = await store.relation(conn, viewer.id, target.id)
        shown = await profile_store.profile_row(conn, target.id)
        nominator = await growth.nominated_by(conn, target.id)
        member_of = await club_store.clubs_of(conn, target.id)
    return {
        "id": target.id,
        "username": target.username,
        "display_name": target.display_name,
        "joined_at": target.created_at,
        "follower_count": followers,
        "following_count": following,
        "is_you": viewer.id == target.id,
        **rel,
        "nominated_by": nominator,  # {id, username, display_name} or None
        # Clubs they are a member of (as each club's page lists them): not ones they only
        # follow, nor archived ones.
        "clubs": [
            {**clubs.summary(club), "role": role.value}
            for club, role, _since in member_of
            if role is not ClubRole.FOLLOWER and not club.archived
        ],
        # bio, avatar_url; last, so "nominated by a former member" wins when it applies
        **profiles.profile_fields(target.id, shown),
    }


# -- follows and blocks --------------------------------------------------------------------


async def do_follow(s: Services, viewer: User, ref: UserRef) -> dict[str, Any]:
    """Follow (idempotent). Answers the target's profile."""
    target = await check_user(s, ref)
    if target.id == viewer.id:
        raise ParlorError(400, Code.CANNOT_FOLLOW_SELF, "You cannot follow yourself.")
    async with s.db.engine.begin() as conn:
        await store.lock_pair(conn, viewer.id, target.id)
        # Write, then check: on SQLite the write takes the database lock, so a block
        # committed concurrently is either seen here or deletes this follow.
        made = await store.follow(conn, viewer.id, target.id, s.clock())
        rel = await store.relation(conn, viewer.id, target.id)
        if rel["blocks_you"]:
            raise ParlorError(403, Code.BLOCKED_BY_USER, "This person has blocked you.")
        if rel["blocked_by_you"]:
            raise ParlorError(403, Code.USER_BLOCKED, "You blocked this person: unblock them first.")
    if made:
        await notifications.notify(s, target.id, "new_follower", actor_id=viewer.id)
    return await _profile(s, viewer, target)


async def do_unfollow(s: Services, viewer: User, ref: UserRef) -> dict[str, Any]:
    """Stop following (idempotent). Answers the target's profile."""
    target = await check_user(s, ref)
    async with s.db.engine.begin() as conn:
        await store.unfollow(conn, viewer.id, target.id)
    return await _profile(s, viewer, target)


async def do_block(s: Services, viewer: User, ref: UserRef) -> dict[str, Any]:
    """Block (idempotent): removes follows both ways. Answers the target's profile."""
    target = await check_user(s, ref)
    if target.id == viewer.id:
        raise ParlorError(400, Code.CANNOT_BLOCK_SELF, "You cannot block yourself.")
    now = s.clock()
    async with s.db.engine.begin() as conn:
        await store.lock_pair(conn, viewer.id, target.id)
        if await store.block(conn, viewer.id, target.id, now):
            await room_store.audit(conn, now=now, actor_id=viewer.id, action="user.block", target_id=target.id)
    return await _profile(s, viewer, target)


async def do_unblock(s: Services, viewer: User, ref: UserRef) -> dict[str, Any]:
    target = await check_user(s, ref)
    now = s.clock()
    async with s.db.engine.begin() as conn:
        if await store.unblock(conn, viewer.id, target.id):
            await room_store.audit(conn, now=now, actor_id=viewer.id, action="user.unblock", target_id=target.id)
    return await _profile(s, viewer, target)


# -- follow lists --------------------------------------------------------------------------


async def follow_list(
    s: Services, viewer: User, ref: UserRef, which: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of `which` ("followers" | "following"), newest first."""
    check_limit(limit, PAGE_MAX)
    after = decode_cursor(cursor) if cursor else None
    target = await check_user(s, ref)
    page_of = store.followers_page if which == "followers" else store.following_page
    async with s.db.engine.connect() as conn:
        if target.id != viewer.id and (await store.relation(conn, viewer.id, target.id))["blocks_you"]:
            raise ParlorError(403, Code.BLOCKED_BY_USER, "This person has blocked you.")
        rows = await page_of(conn, target.id, viewer.id, limit + 1, after)
        followed = await store.followed_among(conn, viewer.id, [u.id for u, _, _ in rows[:limit]])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "users": [{**_person(user, user.id in followed, avatar), "since": since} for user, since, avatar in rows],
        "next_cursor": encode_cursor((rows[-1][1], rows[-1][0].id)) if more else None,
    }


def _person(user: User, followed: bool, avatar_sha256: str | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": profiles.avatar_url(user.id, avatar_sha256) if avatar_sha256 else None,
        "followed_by_you": followed,
    }


# -- search ---------------------------------------------------------------------------------


def normalize_query(q: str) -> str:
    return clean_text(q, "A search", min_len=1, max_len=SEARCH_QUERY_MAX).lower()


def title_matches(title: str, q: str) -> bool:
    """A prefix of the title or of one of its words, ignoring case."""
    low = title.lower()
    return low.startswith(q) or any(word.startswith(q) for word in low.split())


async def search(
    s: Services, viewer: User, q: str, limit: int = SEARCH_DEFAULT, *, topic: str | None = None
) -> dict[str, Any]:
    """People (username or display name prefix) and live rooms (title), people you follow first;
    `topic`: only rooms on that topic (people are not filtered).

    Nobody blocked either way with the viewer appears, nor a live room one of them moderates,
    nor one whose moderator removed the viewer with a block (it is not there for them).
    """
    check_limit(limit, SEARCH_MAX)
    text = normalize_query(q)
    wanted = hallway.check_topic(s, topic)
    candidates = [
        room
        for room in s.live.rooms.values()
        if not room.guest_room and title_matches(room.title, text) and (wanted is None or wanted in room.topics)
    ]
    async with s.db.engine.connect() as conn:
        people = await store.search_people(conn, viewer.id, text.removeprefix("@"), text, limit)
        hidden: set[str] = set()
        followed: set[str] = set()
        followers: set[str] = set()
        keep_out: set[str] = set()
        clubs: dict[str, ClubRole] = {}
        if candidates:
            clubs, _ = await hallway.viewer_tastes(conn, viewer.id, candidates)
            present = [uid for room in candidates for uid in room.participants]
            followed, hidden = await store.relations_among(conn, viewer.id, present)
            followers = await hallway.moderators_following(conn, viewer.id, candidates)
            keep_out = await room_store.moderators_keeping_out(conn, viewer.id)
    # Only rooms the viewer may join: never a closed or social room that is not for them.
    rooms = [
        room
        for room in candidates
        if not (hidden | keep_out) & {p.user_id for p in room.moderators}
        and hallway.visible(room, viewer.id, keep_out, followers, clubs)
    ]
    rooms.sort(key=lambda r: (-len(followed & set(r.participants)), -len(r.participants), -r.created_at, r.id))
    return {
        "people": [_person(user, is_followed, avatar) for user, is_followed, avatar in people],
        "rooms": [_room_card(s, room, followed, hidden) for room in rooms[:SEARCH_ROOMS_MAX]],
    }


def _room_card(s: Services, room: Room, followed: set[str], hidden: set[str]) -> dict[str, Any]:
    on_stage = sorted((p for p in room.participants.values() if p.on_stage), key=lambda p: p.stage_since or 0.0)
    speakers = [
        s.live.profiles[p.user_id].to_dict()
        for p in on_stage
        if p.user_id in s.live.profiles and p.user_id not in hidden
    ]
    return {
        "id": room.id,
        "title": room.title,
        "topics": list(room.topics),
        "club": club_ref(room),
        "encrypted": room.encrypted,
        "speakers": speakers,
        "listener_count": len(room.participants) - len(on_stage),
        "followed_count": len(followed & set(room.participants)),
    }
