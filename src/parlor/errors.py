"""Client-facing errors: an HTTP status, a stable code and a message.

Anything raised as a `ParlorError` is the client's fault and safe to show them;
everything else is a bug and becomes a 500 (or a socket close 1011).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Stable error codes. Never rename one: clients match on them."""

    BAD_REQUEST = "bad_request"
    INVALID_INPUT = "invalid_input"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    CROSS_ORIGIN = "cross_origin"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    # accounts
    BAD_CREDENTIALS = "bad_credentials"
    INVALID_INVITE = "invalid_invite"
    USERNAME_TAKEN = "username_taken"
    SETUP_DONE = "setup_done"
    INVALID_SETUP_TOKEN = "invalid_setup_token"
    SESSION_NOT_FOUND = "session_not_found"
    TOKEN_NOT_FOUND = "token_not_found"
    # single sign-on (OpenID Connect)
    SSO_ONLY = "sso_only"
    SSO_OFF = "sso_off"
    SSO_BAD_STATE = "sso_bad_state"
    SSO_PROVIDER_ERROR = "sso_provider_error"
    SSO_INVALID_TOKEN = "sso_invalid_token"
    # rooms
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_ENDED = "room_ended"
    ROOM_MOVING = "room_moving"
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
    ROOM_CLOSED = "room_closed"
    NOT_FOLLOWED_BY_MODERATOR = "not_followed_by_moderator"
    ROOM_IS_OPEN = "room_is_open"
    # guests (people without an account)
    GUEST_ROOMS_OFF = "guest_rooms_off"
    INVALID_ROOM_NAME = "invalid_room_name"
    GUESTS_NOT_ALLOWED = "guests_not_allowed"
    GUEST_CANNOT_MODERATE = "guest_cannot_moderate"
    IS_GUEST_ROOM = "is_guest_room"
    NOT_GUEST_ROOM = "not_guest_room"
    NOT_A_GUEST = "not_a_guest"
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
    NOT_ADMIN = "not_admin"
    SIGNUPS_CLOSED = "signups_closed"
    INVITE_REQUIRED = "invite_required"
    OUT_OF_INVITES = "out_of_invites"
    INVITE_USED = "invite_used"
    INVITE_REVOKED = "invite_revoked"
    INVITE_NOT_FOUND = "invite_not_found"
    NOT_ON_WAITLIST = "not_on_waitlist"
    INVALID_WAITLIST_TOKEN = "invalid_waitlist_token"
    NOT_ADMITTED = "not_admitted"
    # profiles and avatars
    NOT_AN_IMAGE = "not_an_image"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_BIG = "image_too_big"
    NO_AVATAR = "no_avatar"
    # contact matching
    INVALID_CONTACT_KIND = "invalid_contact_kind"
    INVALID_CONTACT_HASH = "invalid_contact_hash"
    TOO_MANY_IDENTIFIERS = "too_many_identifiers"
    IDENTIFIER_NOT_FOUND = "identifier_not_found"
    INVALID_PREFIX = "invalid_prefix"
    TOO_MANY_PREFIXES = "too_many_prefixes"
    CONTACT_PARAMS_CHANGED = "contact_params_changed"
    CONTACT_NOT_MATCHED = "contact_not_matched"
    # notifications and pings
    NOTIFICATION_NOT_FOUND = "notification_not_found"
    NOT_A_FOLLOWER = "not_a_follower"
    ALREADY_IN_THAT_ROOM = "already_in_that_room"
    # your data (export, deletion)
    WRONG_PASSWORD = "wrong_password"
    LAST_ADMIN = "last_admin"
    SIGN_IN_AGAIN = "sign_in_again"
    # embedding rooms on other sites
    EMBEDDING_OFF = "embedding_off"
    ROOM_NOT_EMBEDDABLE = "room_not_embeddable"
    # reports
    UNKNOWN_REASON = "unknown_reason"
    UNSUPPORTED_REPORT_TARGET = "unsupported_report_target"
    REPORT_TARGET_NOT_FOUND = "report_target_not_found"
    CANNOT_REPORT_SELF = "cannot_report_self"
    ALREADY_REPORTED = "already_reported"
    REPORT_NOT_FOUND = "report_not_found"
    REPORT_ALREADY_HANDLED = "report_already_handled"
    # admins: sanctions and the console
    SUSPENDED = "suspended"
    BANNED = "banned"
    CANNOT_SANCTION_SELF = "cannot_sanction_self"
    CANNOT_SANCTION_ADMIN = "cannot_sanction_admin"
    ALREADY_BANNED = "already_banned"
    NOT_SANCTIONED = "not_sanctioned"
    # in-room chat and reactions
    CHAT_OFF = "chat_off"
    CHAT_SPEAKERS_ONLY = "chat_speakers_only"
    CHAT_TOO_LONG = "chat_too_long"
    CHAT_SLOW_MODE = "chat_slow_mode"
    CHAT_TIMED_OUT = "chat_timed_out"
    CHAT_MESSAGE_NOT_FOUND = "chat_message_not_found"
    UNKNOWN_EMOJI = "unknown_emoji"
    # end-to-end encrypted rooms (docs/E2EE.md §7)
    NOT_ENCRYPTED = "not_encrypted"
    BAD_KEY = "bad_key"
    ENCRYPTED_CHAT_ONLY = "encrypted_chat_only"
    # topics (rooms, events, clubs, interests)
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_MANY_TOPICS = "too_many_topics"
    # events and reminders
    EVENT_NOT_FOUND = "event_not_found"
    INVALID_TIME = "invalid_time"
    TIME_IN_PAST = "time_in_past"
    END_BEFORE_START = "end_before_start"
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    TOO_MANY_COHOSTS = "too_many_cohosts"
    NOT_EVENT_HOST = "not_event_host"
    EVENT_NOT_SCHEDULED = "event_not_scheduled"
    EVENT_NOT_STARTABLE_YET = "event_not_startable_yet"
    CALENDAR_FEED_NOT_FOUND = "calendar_feed_not_found"
    # clubs
    CLUB_NOT_FOUND = "club_not_found"
    CLUB_NAME_TAKEN = "club_name_taken"
    CANNOT_FOUND_CLUB = "cannot_found_club"
    CLUB_ARCHIVED = "club_archived"
    INVALID_CLUB_MODE = "invalid_club_mode"
    INVALID_CLUB_ROLE = "invalid_club_role"
    NOT_CLUB_MEMBER = "not_club_member"
    NOT_CLUB_LEADER = "not_club_leader"
    NOT_CLUB_ADMIN = "not_club_admin"
    ALREADY_IN_CLUB = "already_in_club"
    CLUB_INVITE_ONLY = "club_invite_only"
    CLUB_REQUEST_PENDING = "club_request_pending"
    CLUB_REQUEST_NOT_FOUND = "club_request_not_found"
    NO_CLUB_INVITE = "no_club_invite"
    LAST_CLUB_ADMIN = "last_club_admin"
    TARGET_NOT_IN_CLUB = "target_not_in_club"
    CLUB_MEMBERS_ONLY = "club_members_only"


class ParlorError(Exception):
    """An error the client caused and should be told about."""

    def __init__(self, status: int, code: Code, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Seconds before trying again is worth it (HTTP `Retry-After`), for 429s.
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message}


class SanctionedError(ParlorError):
    """Sign-in refused: the account is suspended (until a time) or banned (`until` None)."""

    def __init__(self, code: Code, message: str, until: float | None) -> None:
        super().__init__(403, code, message)
        self.until = until

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "until": self.until}


def bad_input(message: str) -> ParlorError:
    return ParlorError(400, Code.INVALID_INPUT, message)


def not_found(code: Code, message: str) -> ParlorError:
    return ParlorError(404, code, message)


def forbidden(code: Code, message: str) -> ParlorError:
    return ParlorError(403, code, message)


def rate_limited(wait_s: float, message: str) -> ParlorError:
    """429 with `Retry-After`: whole seconds, rounded up, at least 1."""
    return ParlorError(429, Code.RATE_LIMITED, message, retry_after=max(1, math.ceil(wait_s)))
