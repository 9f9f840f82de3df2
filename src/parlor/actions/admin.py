"""Admin actions on rooms and profiles, and the instance-wide admin audit log.

An admin (or the operator, `actor` None) may end any live room and remove anyone's
profile picture; each is written to the admin audit log with its reason. Sanctions
are in actions/sanctions.py, instance settings in actions/instance_settings.py,
removing a club in actions/clubs.py.

The operator's CLI runs in another process, which holds no live rooms: what it does
to one (ending it, a picture gone from its snapshots, a removed club's rooms) is read
back from the admin audit log by every node once a second (`do_apply_operator_actions`),
as recorded sanctions are (actions/sanctions.py).
"""

from __future__ import annotations

import logging
from typing import Any

from parlor.actions import rooms, sanctions
from parlor.actions.growth import check_admin
from parlor.actions.ids import looks_like_id
from parlor.actions.paging import check_limit
from parlor.actions.room_lookup import check_room
from parlor.actions.services import Services
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import admin_audit as store
from parlor.storage import clubs as club_store
from parlor.storage import profiles as profile_store
from parlor.storage import rooms as room_store

logger = logging.getLogger(__name__)

AUDIT_DEFAULT, AUDIT_MAX = 50, 200


def _actor_id(actor: User | None) -> str | None:
    if actor is not None:
        check_admin(actor)
    return actor.id if actor else None


async def do_end_room(s: Services, actor: User | None, room_id: str, reason: str) -> dict[str, Any]:
    """End a live room now, whoever moderates it."""
    actor_id = _actor_id(actor)
    text = sanctions.clean_text(reason, "reason")
    if actor is None and s.live.get(room_id) is None:
        return await _record_end(s, room_id, text)
    room = await check_room(s, room_id)
    ended = await rooms.do_admin_end(s, actor_id, room.id)
    async with s.db.engine.begin() as conn:
        await store.record(conn, now=s.clock(), actor_id=actor_id, action="room.end", room_id=room.id, detail=text)
    logger.info("room %s ended by admin %s", room.id, actor_id or "the operator")
    return {"id": ended.id, "title": ended.title, "ended": ended.ended}


async def _record_end(s: Services, room_id: str, text: str) -> dict[str, Any]:
    """The operator asks for a room live on a node: recorded here, ended there (`ended`
    False until then: the CLI watches for it)."""
    async with s.db.engine.begin() as conn:
        title = await room_store.open_room_title(conn, room_id) if looks_like_id(room_id) else None
        if title is not None:
            await store.record(conn, now=s.clock(), actor_id=None, action="room.end", room_id=room_id, detail=text)
    if title is None:
        await check_room(s, room_id)  # why not: ended (410) or never was (404)
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    logger.info("room %s to be ended by the operator", room_id)
    return {"id": room_id, "title": title, "ended": False}


OPERATOR_ACTIONS = ("room.end", "user.avatar_remove", "club.remove")


async def do_apply_operator_actions(s: Services) -> int:
    """Apply to this node's live rooms what the operator's CLI recorded since the last look.
    The first look only notes where the log stands. Answers how many entries were read."""
    async with s.db.engine.connect() as conn:
        if s.operator_seen is None:
            s.operator_seen = await store.last_id(conn)
            return 0
        entries = await store.by_operator_since(conn, s.operator_seen, OPERATOR_ACTIONS)
        club_rooms = {r.id: r.club_id for r in s.live.rooms.values() if r.club_id}
        gone = set()
        if any(e.action == "club.remove" for e in entries):
            gone = {cid for cid in set(club_rooms.values()) if await club_store.get_club(conn, cid) is None}
    if entries:
        s.operator_seen = entries[-1].id
    ending = {e.room_id for e in entries if e.action == "room.end" and e.room_id}
    ending |= {room_id for room_id, club_id in club_rooms.items() if club_id in gone}
    for room_id in sorted(ending):
        if s.live.get(room_id) is not None:
            try:
                await rooms.do_admin_end(s, None, room_id)
            except ParlorError:
                pass  # it ended meanwhile
    for e in entries:
        if e.action == "user.avatar_remove" and e.target_id:
            s.live.avatar_changed(e.target_id, None)
    return len(entries)


async def do_remove_avatar(s: Services, actor: User | None, user_id: str, reason: str) -> dict[str, Any]:
    """Remove someone's profile picture (`404 no_avatar` when they have none)."""
    actor_id = _actor_id(actor)
    text = sanctions.clean_text(reason, "reason", required=False)
    target = await sanctions.find_user(s, user_id)
    async with s.db.engine.begin() as conn:
        if not await profile_store.delete_avatar(conn, target.id):
            raise ParlorError(404, Code.NO_AVATAR, "This person has no profile picture.")
        await store.record(
            conn, now=s.clock(), actor_id=actor_id, action="user.avatar_remove", target_id=target.id, detail=text
        )
    s.live.avatar_changed(target.id, None)  # room snapshots stop showing it
    logger.info("avatar of %s removed by admin %s", target.id, actor_id or "the operator")
    return {"id": target.id, "avatar_url": None}


def _person(user_id: str | None, names: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    if user_id is None:
        return None
    if user_id not in names:
        return {"id": None, "username": None, "display_name": "a former member"}
    username, display_name = names[user_id]
    return {"id": user_id, "username": username, "display_name": display_name}


async def audit_log(s: Services, actor: User | None, limit: int, before: int | None) -> dict[str, Any]:
    """The admin audit log, newest first, paged by `before` (an entry id)."""
    _actor_id(actor)
    check_limit(limit, AUDIT_MAX)
    if before is not None and before < 1:
        raise bad_input("before must be an entry id.")
    async with s.db.engine.connect() as conn:
        entries = await store.page(conn, limit + 1, before)
        more = len(entries) > limit
        entries = entries[:limit]
        names = await store.people(conn, {x for e in entries for x in (e.actor_id, e.target_id) if x})
    return {
        "entries": [
            {
                "id": e.id,
                "at": e.at,
                "action": e.action,
                "by": _person(e.actor_id, names),
                "by_operator": e.by_operator,
                "target": _person(e.target_id, names),
                "room": {"id": e.room_id, "title": e.room_title} if e.room_id else None,
                "detail": e.detail,
            }
            for e in entries
        ],
        "next_before": entries[-1].id if more else None,
    }
