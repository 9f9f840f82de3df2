"""Client-facing errors: an HTTP status, a stable code and a message.

Anything raised as a `ParlorError` is the client's fault and safe to show them;
everything else is a bug and becomes a 500 (or a socket close 1011).
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Stable error codes. Never rename one: clients match on them."""

    BAD_REQUEST = "bad_request"
    INVALID_INPUT = "invalid_input"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    CROSS_ORIGIN = "cross_origin"
    NOT_FOUND = "not_found"
    # accounts
    BAD_CREDENTIALS = "bad_credentials"
    INVALID_INVITE = "invalid_invite"
    USERNAME_TAKEN = "username_taken"
    SETUP_DONE = "setup_done"
    INVALID_SETUP_TOKEN = "invalid_setup_token"
    # rooms
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_ENDED = "room_ended"
    ROOM_FULL = "room_full"
    NOT_IN_ROOM = "not_in_room"
    ALREADY_IN_ROOM = "already_in_room"
    NOT_MODERATOR = "not_moderator"
    NOT_SPEAKER = "not_speaker"
    NOT_LISTENER = "not_listener"
    BLOCKED_FROM_ROOM = "blocked_from_room"
    HANDS_DISABLED = "hands_disabled"
    NO_SPEAK_INVITE = "no_speak_invite"
    MUTE_LOCKED = "mute_locked"
    TARGET_NOT_IN_ROOM = "target_not_in_room"
    INVALID_TARGET = "invalid_target"
    # media / socket
    INVALID_SDP = "invalid_sdp"
    MEDIA_UNAVAILABLE = "media_unavailable"
    BAD_MESSAGE = "bad_message"
    RATE_LIMITED = "rate_limited"
    # people (follows, blocks, search)
    USER_NOT_FOUND = "user_not_found"
    CANNOT_FOLLOW_SELF = "cannot_follow_self"
    CANNOT_BLOCK_SELF = "cannot_block_self"
    BLOCKED_BY_USER = "blocked_by_user"
    USER_BLOCKED = "user_blocked"
    INVALID_CURSOR = "invalid_cursor"
    # growth (invites, waitlist, sign-up mode)
    # profiles and avatars
    # contact matching
    # notifications and pings
    # your data (export, deletion)


class ParlorError(Exception):
    """An error the client caused and should be told about."""

    def __init__(self, status: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


def bad_input(message: str) -> ParlorError:
    return ParlorError(400, Code.INVALID_INPUT, message)


def not_found(code: Code, message: str) -> ParlorError:
    return ParlorError(404, code, message)


def forbidden(code: Code, message: str) -> ParlorError:
    return ParlorError(403, code, message)
