"""Notifications and pings (DESIGN §5): the inbox, per-kind mutes, live delivery.

Kinds: `ping` (a member in a live room asks one of their followers to join them),
`room_started` (someone you follow started a room), `new_follower`,
`waitlist_joined` (someone you let in from the waitlist finished signing up),
`room_invite` (a moderator invited you into a social or closed room), `club_invite`
(an admin or leader of a club invited you into it: `club` names it),
`report_handled` (a report you made was handled: its outcome, never who handled it
nor what happened to anyone) and `warned` (an admin's warning, with their message as
`text`). The last two cannot be muted. The `event_*` kinds (EVENT_KINDS, actions/events.py)
go only to people who asked to be told about that event: "notify me" is their switch.

Rules: a muted kind is neither stored nor delivered; nothing is stored or
delivered about someone blocked either way with you, and the inbox hides what
was stored about them before the block. Every stored notification is published
after its transaction commits, as an event `notification` on the recipient's
own channel (every socket of theirs gets it).
"""

from __future__ import annotations

import logging
from typing import Any

from parlor.actions import limits
from parlor.actions.paging import check_limit
from parlor.actions.room_lookup import check_room
from parlor.actions.services import Services
from parlor.bus.base import user_channel
from parlor.domain.rooms import Room, RoomKind
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.limits.policies import DEFAULTS
from parlor.storage import accounts as account_store
from parlor.storage import notifications as store
from parlor.storage import social as social_store

logger = logging.getLogger(__name__)

KINDS = ("ping", "room_started", "new_follower", "waitlist_joined", "room_invite", "club_invite")
# Kinds nobody can mute: what the instance's admins and moderators have to tell a member.
UNMUTABLE = ("report_handled", "warned")
# About one event, to the people who asked to be told (actions/events.py): reminders before
# and at the start, the host opened its room, it changed, it was cancelled.
EVENT_KINDS = ("event_reminder", "event_starting", "event_live", "event_changed", "event_cancelled")
PAGE_DEFAULT, PAGE_MAX = 30, 100
# One ping per pinger and target per this many seconds (the "ping" limit's default).
PING_INTERVAL_S = DEFAULTS["ping"].window_s


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise bad_input(f"Unknown notification kind: choose from {', '.join(KINDS)}.")
    return kind


def item(row: store.Row, s: Services) -> dict[str, Any]:
    """One notification as the inbox and the `notification` event show it."""
    actor = None
    if row.actor_id is not None and row.actor_username is not None:
        actor = {"id": row.actor_id, "username": row.actor_username, "display_name": row.actor_display_name}
    room = None
    if row.room_id is not None:
        room = {"id": row.room_id, "title": row.room_title or "", "live": row.room_id in s.live.rooms}
    out: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "actor": actor,
        "room": room,
        "created_at": row.created_at,
        "read": row.read_at is not None,
        "text": row.text,
    }
    if row.kind == "report_handled":
        out["report"] = _report_ref(row)
    if row.club_id is not None:
        out["club"] = {"id": row.club_id, "name": row.club_name or ""}
    if row.event_id is not None:
        out["event"] = {
            "id": row.event_id,
            "title": row.event_title or "",
            "starts_at": row.event_starts_at,
            "state": row.event_state,
        }
    return out


def _report_ref(row: store.Row) -> dict[str, Any] | None:
    """What a reporter is told of their handled report: the outcome, nothing of who or how."""
    if row.report_id is None or row.report_outcome is None:
        return None
    return {
        "id": row.report_id,
        "target": {"kind": row.report_target_kind, "label": row.report_target_label},
        "reason": row.report_reason,
        "outcome": row.report_outcome,
    }


async def _publish(s: Services, user_id: str, data: dict[str, Any]) -> None:
    await s.bus.publish(user_channel(user_id), {"name": "notification", "data": data})


# -- producing -------------------------------------------------------------------------------


async def notify(
    s: Services,
    user_id: str,
    kind: str,
    *,
    actor_id: str | None = None,
    room_id: str | None = None,
    report_id: str | None = None,
    text: str | None = None,
    club_id: str | None = None,
) -> None:
    """Tell `user_id` something: store it in their inbox and deliver it live.

    For other actions to call after their own transaction has committed (e.g. the
    waitlist: `notify(s, inviter_id, "waitlist_joined", actor_id=new_user_id)`).
    Does nothing when the kind is muted by the user or when the actor and the user
    are blocked either way; a repeated unread `new_follower` from one actor is kept
    once. `kind` must be one of KINDS or UNMUTABLE (anything else is a programming error).
    """
    if kind not in KINDS and kind not in UNMUTABLE and kind not in EVENT_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    async with s.db.engine.begin() as conn:
        notification_id = await store.insert(
            conn,
            user_id=user_id,
            kind=kind,
            actor_id=actor_id,
            room_id=room_id,
            now=s.clock(),
            once_unread=kind == "new_follower",
            report_id=report_id,
            text=text,
            club_id=club_id,
        )
        row = await store.get(conn, user_id, notification_id) if notification_id is not None else None
    if row is not None:
        await _publish(s, user_id, item(row, s))


async def do_room_started(s: Services, creator: User, room: Room, *, except_event: str | None = None) -> None:
    """Fan out `room_started` to the creator's followers who may join: all of them for an
    open room, those the creator follows back for a social room, nobody for a closed one.
    One INSERT … SELECT, then one publish per recipient (no per-row query). `except_event`:
    not to people who asked to be told about that event (they get `event_live` instead)."""
    if room.kind is RoomKind.CLOSED:
        return
    now = s.clock()
    async with s.db.engine.begin() as conn:
        made = await store.insert_for_followers(
            conn,
            followee_id=creator.id,
            kind="room_started",
            room_id=room.id,
            now=now,
            followed_back=room.kind is RoomKind.SOCIAL,
            except_event=except_event,
        )
    actor = {"id": creator.id, "username": creator.username, "display_name": creator.display_name}
    room_ref = {"id": room.id, "title": room.title, "live": True}
    for notification_id, user_id in made:
        data = {
            "id": notification_id,
            "kind": "room_started",
            "actor": actor,
            "room": room_ref,
            "created_at": now,
            "read": False,
            "text": None,
        }
        await _publish(s, user_id, data)


async def do_ping(s: Services, pinger: User, room_id: str, target_id: str) -> None:
    """Ask a follower to join the room you are in.

    Refused unless you are in that live room, the target follows you, neither has
    blocked the other and the target is not in the room already; at most one ping
    to the same person per PING_INTERVAL_S. A target who muted pings gets nothing,
    and the pinger is not told (mutes are private).
    """
    room = await check_room(s, room_id)
    if pinger.id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "Join the room before you ping someone into it.")
    async with s.db.engine.connect() as conn:
        target = await account_store.user_by_id(conn, target_id) if len(target_id) <= 32 else None
        if target is None:
            raise ParlorError(404, Code.USER_NOT_FOUND, "There is no such user.")
        rel = await social_store.relation(conn, pinger.id, target.id)
    if rel["blocks_you"]:
        raise ParlorError(403, Code.BLOCKED_BY_USER, "This person has blocked you.")
    if rel["blocked_by_you"]:
        raise ParlorError(403, Code.USER_BLOCKED, "You blocked this person: unblock them first.")
    if not rel["follows_you"]:
        raise ParlorError(403, Code.NOT_A_FOLLOWER, "You can only ping people who follow you.")
    if target.id in room.participants:
        raise ParlorError(409, Code.ALREADY_IN_THAT_ROOM, "They are already in this room.")
    await limits.check(s, "ping", account=f"{pinger.id}>{target.id}")
    await notify(s, target.id, "ping", actor_id=pinger.id, room_id=room.id)


# -- the inbox ---------------------------------------------------------------------------------


async def inbox(s: Services, user: User, limit: int, before: int | None) -> dict[str, Any]:
    """A page of the user's notifications, newest first, and their unread count."""
    check_limit(limit, PAGE_MAX)
    if before is not None and before < 1:
        raise bad_input("before must be a notification id.")
    async with s.db.engine.connect() as conn:
        rows = await store.page(conn, user.id, limit + 1, before)
        unread = await store.unread_count(conn, user.id)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "notifications": [item(row, s) for row in rows],
        "unread_count": unread,
        "next_before": rows[-1].id if more else None,
    }


async def do_mark_read(s: Services, user: User, notification_id: int) -> dict[str, Any]:
    """Mark one of your notifications read (idempotent); 404 for anyone else's."""
    async with s.db.engine.begin() as conn:
        found = await store.mark_read(conn, user.id, notification_id, s.clock())
        row = await store.get(conn, user.id, notification_id) if found else None
        unread = await store.unread_count(conn, user.id)
    if row is None:
        raise ParlorError(404, Code.NOTIFICATION_NOT_FOUND, "There is no such notification.")
    return {"notification": item(row, s), "unread_count": unread}


async def do_mark_all_read(s: Services, user: User, up_to: int | None) -> dict[str, Any]:
    """Mark all your notifications read, or those up to an id (the newest one you saw)."""
    if up_to is not None and up_to < 1:
        raise bad_input("up_to must be a notification id.")
    async with s.db.engine.begin() as conn:
        await store.mark_all_read(conn, user.id, up_to, s.clock())
        unread = await store.unread_count(conn, user.id)
    return {"unread_count": unread}


async def mutes(s: Services, user: User) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        muted = await store.muted_kinds(conn, user.id)
    return {"muted": {kind: kind in muted for kind in KINDS}}


async def do_set_mutes(s: Services, user: User, changes: dict[str, bool]) -> dict[str, Any]:
    """Mute or unmute kinds; kinds not named keep their setting. All or nothing."""
    if not changes:
        raise bad_input("Name at least one kind to mute or unmute.")
    for kind in changes:
        check_kind(kind)
    async with s.db.engine.begin() as conn:
        for kind, muted in sorted(changes.items()):
            await store.set_muted(conn, user.id, kind, muted)
    return await mutes(s, user)
