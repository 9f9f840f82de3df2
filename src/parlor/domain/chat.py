"""In-room chat and reactions: the rules, pure (DESIGN §3).

A room's chat lives only beside the live room (actions/chat.py holds it in memory):
its settings, who is timed out until when, when each person last wrote (slow mode),
and the last HISTORY_MAX lines, so that a (re)joining client sees the recent ones.
Every function here either returns the new state or raises a `ParlorError` and
changes nothing (the state is immutable, as rooms are).

Who may write: `everyone` in the room, or only people on stage (`speakers`), or
nobody (`off`). Moderators set that, set slow mode (moderators are exempt from it),
delete any line (an author may delete their own) and time a person out of chat and
reactions for a while. Reactions are a fixed set of emoji.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from parlor.domain.e2ee import is_chat_line
from parlor.domain.rooms import Participant, Role, Room
from parlor.domain.text import bad_text, has_bad_characters
from parlor.errors import Code, ParlorError

MESSAGE_MAX = 500
# An encrypted room's line (docs/E2EE.md §5) as the server relays it: "e2ee:1:", an epoch
# of up to 10 digits and ":" (18 characters), then base64url of the 12-byte nonce, the
# UTF-8 of MESSAGE_MAX characters at 4 bytes each at worst, and the 16-byte tag:
# 18 + ceil((12 + 4 * 500 + 16) / 3) * 4 = 18 + 2704 = 2722.
ENCRYPTED_MESSAGE_MAX = 18 + -(-(12 + 4 * MESSAGE_MAX + 16) // 3) * 4
HISTORY_MAX = 100
SLOW_MODE_MAX_S = 600
TIMEOUT_MAX_S = 24 * 3600
# What a reaction may be; the client shows them in this order.
REACTIONS: tuple[str, ...] = ("👏", "❤️", "😂", "🔥", "👍", "🙌")
_BY_BARE = {e.replace("\ufe0f", ""): e for e in REACTIONS}
# A mention: @ then a username (actions/accounts.py USERNAME), not inside a word or address.
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])")


class ChatMode(StrEnum):
    OFF = "off"
    SPEAKERS = "speakers"
    EVERYONE = "everyone"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: str
    user_id: str
    text: str
    at: float
    # User ids of the people in the room it names with @username.
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chat:
    mode: ChatMode = ChatMode.EVERYONE
    slow_mode_s: int = 0
    history: tuple[ChatMessage, ...] = ()
    last_sent: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    timeouts: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def timed_out_until(self, user_id: str, now: float) -> float | None:
        until = self.timeouts.get(user_id)
        return until if until is not None and until > now else None


def _refuse(code: Code, message: str, status: int = 403, retry_after_s: float | None = None) -> ParlorError:
    wait = None if retry_after_s is None else max(1, math.ceil(retry_after_s))
    return ParlorError(status, code, message, retry_after=wait)


def clean_message(text: str, *, encrypted: bool = False) -> str:
    """The line as shown: the shared text rule (domain/text.py), then the chat's own length.

    In an `encrypted` room only an encrypted line is taken, kept as it came (the server
    cannot read it): `encrypted_chat_only` for anything else."""
    if encrypted:
        if not is_chat_line(text):
            raise _refuse(Code.ENCRYPTED_CHAT_ONLY, "This room is end-to-end encrypted: encrypted lines only.", 400)
        if len(text) > ENCRYPTED_MESSAGE_MAX:
            raise _refuse(Code.CHAT_TOO_LONG, f"A chat message is at most {MESSAGE_MAX} characters.", 400)
        return text
    if has_bad_characters(text):
        raise bad_text("A chat message")
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned:
        raise _refuse(Code.INVALID_INPUT, "Write something first.", 400)
    if len(cleaned) > MESSAGE_MAX:
        raise _refuse(Code.CHAT_TOO_LONG, f"A chat message is at most {MESSAGE_MAX} characters.", 400)
    return cleaned


def mentions(text: str, usernames: Mapping[str, str]) -> tuple[str, ...]:
    """User ids named as @username in `text`, among `usernames` (lower-case name → id), in order."""
    found: list[str] = []
    for match in _MENTION.finditer(text):
        user_id = usernames.get(match.group(1).lower())
        if user_id is not None and user_id not in found:
            found.append(user_id)
    return tuple(found)


def reaction(emoji: str) -> str:
    """The canonical emoji for `emoji` (with or without its variation selector), or a 400."""
    canonical = _BY_BARE.get(emoji.replace("\ufe0f", "")) if len(emoji) <= 8 else None
    if canonical is None:
        raise _refuse(Code.UNKNOWN_EMOJI, f"Reactions are one of {' '.join(REACTIONS)}.", 400)
    return canonical


def _member(room: Room, user_id: str) -> Participant:
    if room.ended:
        raise _refuse(Code.ROOM_ENDED, "This room has ended.", 410)
    p = room.get(user_id)
    if p is None:
        raise _refuse(Code.NOT_IN_ROOM, "You are not in this room.")
    return p


def _moderator(room: Room, user_id: str) -> Participant:
    p = _member(room, user_id)
    if p.role is not Role.MODERATOR:
        raise _refuse(Code.NOT_MODERATOR, "Only a moderator can do that.")
    return p


def _not_timed_out(chat: Chat, user_id: str, now: float) -> None:
    until = chat.timed_out_until(user_id, now)
    if until is not None:
        raise _refuse(Code.CHAT_TIMED_OUT, "A moderator timed you out of the chat for now.", 403, until - now)


def check_send(room: Room, chat: Chat, user_id: str, now: float) -> None:
    """Whether `user_id` may write a line now (the text is checked by `clean_message`)."""
    p = _member(room, user_id)
    _not_timed_out(chat, user_id, now)
    if chat.mode is ChatMode.OFF:
        raise _refuse(Code.CHAT_OFF, "The chat is off in this room.")
    if chat.mode is ChatMode.SPEAKERS and not p.on_stage:
        raise _refuse(Code.CHAT_SPEAKERS_ONLY, "Only people on stage can write in this room's chat.")
    if chat.slow_mode_s and p.role is not Role.MODERATOR:
        last = chat.last_sent.get(user_id)
        if last is not None and now - last < chat.slow_mode_s:
            wait = chat.slow_mode_s - (now - last)
            raise _refuse(
                Code.CHAT_SLOW_MODE, f"Slow mode: one message every {chat.slow_mode_s} seconds.", 429, wait
            )


def post(room: Room, chat: Chat, message: ChatMessage) -> Chat:
    """Add the line (checked first); the history keeps the last HISTORY_MAX."""
    check_send(room, chat, message.user_id, message.at)
    history = (*chat.history[-(HISTORY_MAX - 1) :], message)
    return replace(chat, history=history, last_sent=MappingProxyType({**chat.last_sent, message.user_id: message.at}))


def delete(room: Room, chat: Chat, actor: str, message_id: str) -> tuple[Chat, ChatMessage]:
    """A moderator deletes any line, an author their own: gone for everyone."""
    p = _member(room, actor)
    found = next((m for m in chat.history if m.id == message_id), None)
    if found is None:
        raise _refuse(Code.CHAT_MESSAGE_NOT_FOUND, "There is no such message (deleted, or too old).", 404)
    if p.role is not Role.MODERATOR and found.user_id != actor:
        raise _refuse(Code.NOT_MODERATOR, "Only a moderator can delete someone else's message.")
    return replace(chat, history=tuple(m for m in chat.history if m.id != message_id)), found


def update_settings(room: Room, chat: Chat, actor: str, *, mode: ChatMode | None, slow_mode_s: int | None) -> Chat:
    _moderator(room, actor)
    if slow_mode_s is not None and not 0 <= slow_mode_s <= SLOW_MODE_MAX_S:
        raise _refuse(Code.INVALID_INPUT, f"Slow mode is 0 (off) to {SLOW_MODE_MAX_S} seconds.", 400)
    return replace(
        chat,
        mode=mode if mode is not None else chat.mode,
        slow_mode_s=slow_mode_s if slow_mode_s is not None else chat.slow_mode_s,
    )


def time_out(room: Room, chat: Chat, actor: str, target: str, seconds: int, now: float) -> Chat:
    """Keep `target` out of the chat (and reactions) for `seconds`; 0 lifts it."""
    _moderator(room, actor)
    if not 0 <= seconds <= TIMEOUT_MAX_S:
        raise _refuse(Code.INVALID_INPUT, f"A timeout is 0 (lift it) to {TIMEOUT_MAX_S} seconds.", 400)
    t = room.get(target)
    if t is None:
        raise _refuse(Code.TARGET_NOT_IN_ROOM, "That person is not in this room.", 404)
    if t.role is Role.MODERATOR:
        raise _refuse(Code.INVALID_TARGET, "A moderator cannot be timed out: revoke moderator first.", 409)
    timeouts = {u: until for u, until in chat.timeouts.items() if until > now and u != target}
    if seconds:
        timeouts[target] = now + seconds
    return replace(chat, timeouts=MappingProxyType(timeouts))


def check_react(room: Room, chat: Chat, user_id: str, emoji: str, now: float) -> str:
    """The canonical emoji, if `user_id` may react now."""
    _member(room, user_id)
    canonical = reaction(emoji)
    _not_timed_out(chat, user_id, now)
    return canonical
