"""In-room chat: lines, settings, deletions and timeouts, held only in this node's memory.

Nothing of a chat line reaches the database or the log: the line lives in the room's
`ChatBoard` entry (the last domain.chat.HISTORY_MAX) and in the events sent to the
people in the room, and is forgotten when the room ends. Moderators' chat actions
(settings, deletions, timeouts) are audited like other room actions: who, what,
whom, when, never the text.

Events on the room channel (each serialized once, queued per client like room events):
`chat.message` (a line), `chat.deleted` ({room_id, message_id}), `chat.settings`
({room_id, mode, slow_mode_s}); on subscribing a client gets `chat.history` (the
settings, the recent lines and its own timeout). A timed-out person is told on
their user channel (`chat.you`: {room_id, timed_out_until}).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from parlor.actions import limits
from parlor.actions.guest_book import audit_id
from parlor.actions.ids import new_id
from parlor.actions.room_lookup import check_room
from parlor.actions.services import Services
from parlor.bus.base import room_channel, user_channel
from parlor.domain import chat as domain
from parlor.domain.chat import Chat, ChatMessage, ChatMode
from parlor.domain.rooms import Role, Room, is_guest
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import rooms as store


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def message_view(s: Services, room_id: str, m: ChatMessage) -> dict[str, Any]:
    profile = s.live.profiles.get(m.user_id) or s.live.guests.user(m.user_id)
    return {
        "id": m.id,
        "room_id": room_id,
        "user_id": m.user_id,
        "guest": is_guest(m.user_id),
        "username": profile.username if profile else "",
        "display_name": profile.display_name if profile else "a former member",
        "text": m.text,
        "at": m.at,
        "mentions": list(m.mentions),
    }


def settings_view(room_id: str, chat: Chat) -> dict[str, Any]:
    return {"room_id": room_id, "mode": chat.mode.value, "slow_mode_s": chat.slow_mode_s}


def _lines_json(s: Services, room_id: str) -> str:
    board = s.chat
    text = board.lines_json.get(room_id)
    if text is None:
        text = board.lines_json[room_id] = _compact(
            [message_view(s, room_id, m) for m in board.get(room_id).history]
        )
    return text


def history_json(s: Services, room_id: str, user_id: str) -> str | None:
    """`chat.history` for a subscribing client, or None when there is nothing to tell
    (no lines, default settings, not timed out): a big room's joiners cost nothing."""
    chat = s.chat.get(room_id)
    until = chat.timed_out_until(user_id, s.clock())
    default = chat.mode is ChatMode.EVERYONE and not chat.slow_mode_s
    if not chat.history and default and until is None:
        return None
    head = _compact({**settings_view(room_id, chat), "timed_out_until": until})
    return head[:-1] + ',"messages":' + _lines_json(s, room_id) + "}"


async def chat_for(s: Services, user: User, room_id: str) -> dict[str, Any]:
    """GET /api/rooms/{id}/chat: what `chat.history` says, for someone in the room."""
    room = await check_room(s, room_id)
    if user.id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "Join the room first.")
    chat = s.chat.get(room_id)
    return {
        **settings_view(room_id, chat),
        "timed_out_until": chat.timed_out_until(user.id, s.clock()),
        "messages": [message_view(s, room_id, m) for m in chat.history],
    }


async def _publish(s: Services, room_id: str, name: str, data: dict[str, Any]) -> None:
    await s.bus.publish(room_channel(room_id), {"name": name, "data": data, "data_json": _compact(data)})


def _usernames(s: Services, room: Room) -> dict[str, str]:
    names: dict[str, str] = {}
    for user_id in room.participants:
        profile = s.live.profiles.get(user_id)
        if profile is not None:
            names[profile.username.lower()] = user_id
    return names


async def do_send(s: Services, user: User, room_id: str, text: str) -> dict[str, Any]:
    """Write a line in the room's chat; everyone in it gets `chat.message`."""
    # An encrypted room takes only encrypted lines (a room not live here is refused next).
    live = s.live.get(room_id)
    cleaned = domain.clean_message(text, encrypted=live is not None and live.encrypted)
    room = await check_room(s, room_id)
    # Refusals first (nothing counted), then the rate limit, then again: the room or
    # its chat may have changed while the limiter answered.
    domain.check_send(room, s.chat.get(room_id), user.id, s.clock())
    await limits.check(s, "chat", account=user.id)
    room = await check_room(s, room_id)
    now = s.clock()
    message = ChatMessage(new_id("m"), user.id, cleaned, now, domain.mentions(cleaned, _usernames(s, room)))
    s.chat.put(room_id, domain.post(room, s.chat.get(room_id), message))
    view = message_view(s, room_id, message)
    await _publish(s, room_id, "chat.message", view)
    return view


async def _moderate(
    s: Services,
    user: User,
    room_id: str,
    action: str,
    apply: Callable[[Room, Chat], Chat],
    *,
    target_id: str | None = None,
) -> Chat:
    """A moderator's chat action: checked, audited, then applied to the chat as it is
    after the commit (lines written meanwhile are kept)."""
    async with s.live.lock(room_id):
        room = await check_room(s, room_id)
        apply(room, s.chat.get(room_id))  # refuses, changing nothing
        if not room.guest_room:  # nothing of a guest room is stored (actions/guests.py)
            async with s.db.engine.begin() as conn:
                await store.audit(
                    conn,
                    now=s.clock(),
                    actor_id=audit_id(user.id),
                    action=action,
                    room_id=room_id,
                    target_id=audit_id(target_id),
                )
        room = await check_room(s, room_id)
        new = apply(room, s.chat.get(room_id))
        s.chat.put(room_id, new)
    return new


async def do_update_settings(
    s: Services, user: User, room_id: str, mode: ChatMode | None, slow_mode_s: int | None
) -> dict[str, Any]:
    chat = await _moderate(
        s,
        user,
        room_id,
        "chat.settings",
        lambda r, c: domain.update_settings(r, c, user.id, mode=mode, slow_mode_s=slow_mode_s),
    )
    view = settings_view(room_id, chat)
    await _publish(s, room_id, "chat.settings", view)
    return view


async def do_delete(s: Services, user: User, room_id: str, message_id: str) -> None:
    """Delete a line for everyone (a moderator: any line, audited; an author: their own)."""
    room = await check_room(s, room_id)
    _, found = domain.delete(room, s.chat.get(room_id), user.id, message_id)
    actor = room.get(user.id)
    mine = found.user_id == user.id and actor is not None and actor.role is not Role.MODERATOR

    def apply(r: Room, c: Chat) -> Chat:
        return domain.delete(r, c, user.id, message_id)[0]

    if mine:
        s.chat.put(room_id, apply(room, s.chat.get(room_id)))
    else:
        await _moderate(s, user, room_id, "chat.delete", apply, target_id=found.user_id)
    await _publish(s, room_id, "chat.deleted", {"room_id": room_id, "message_id": message_id})


async def do_time_out(s: Services, user: User, room_id: str, target: str, seconds: int) -> dict[str, Any]:
    """Keep someone out of the chat for `seconds` (0 lifts it); they are told."""
    now = s.clock()
    chat = await _moderate(
        s,
        user,
        room_id,
        "chat.timeout" if seconds else "chat.timeout.lift",
        lambda r, c: domain.time_out(r, c, user.id, target, seconds, now),
        target_id=target,
    )
    you = {"room_id": room_id, "timed_out_until": chat.timed_out_until(target, now)}
    await s.bus.publish(user_channel(target), {"name": "chat.you", "data": you})
    return {**you, "user_id": target}
