"""Reports (docs/API.md, Reports): what can be reported, why, and how a report ends.

Pure rules: each `check_*` returns the parsed value or raises a `ParlorError` with
a stable code, so a refused report stores nothing.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from parlor.domain.text import bad_text, has_bad_characters
from parlor.errors import Code, ParlorError, bad_input

NOTE_MAX = 500


class TargetKind(StrEnum):
    PERSON = "person"  # how someone behaves (in a room, mostly)
    ROOM = "room"
    MESSAGE = "message"  # a line in a live room's chat
    PROFILE = "profile"  # what someone's profile shows (name, bio, picture)
    CLUB = "club"


# Kinds whose feature exists on this version. A kind known but not listed here is
# refused with `unsupported_report_target` (clients can be written against it first).
SUPPORTED = (TargetKind.PERSON, TargetKind.ROOM, TargetKind.MESSAGE, TargetKind.PROFILE, TargetKind.CLUB)
# Kinds that name a person: the report is "against" them (the console's people page).
ABOUT_A_PERSON = (TargetKind.PERSON, TargetKind.PROFILE)
# What a guest may report: what happens in the room they are in (a guest sees no
# profiles or clubs, and has no account to see them with).
BY_A_GUEST = (TargetKind.PERSON, TargetKind.ROOM, TargetKind.MESSAGE)


class Reason(StrEnum):
    HARASSMENT = "harassment"
    HATE = "hate"
    SPAM = "spam"
    IMPERSONATION = "impersonation"
    SEXUAL_CONTENT = "sexual_content"
    VIOLENCE = "violence"  # violence or threats
    SELF_HARM = "self_harm"
    ILLEGAL = "illegal"
    OTHER = "other"


class State(StrEnum):
    OPEN = "open"
    HANDLED = "handled"


class Outcome(StrEnum):
    ACTIONED = "actioned"  # a moderator did something about it
    DISMISSED = "dismissed"  # looked at; nothing to do


def check_target_kind(value: str) -> TargetKind:
    try:
        kind = TargetKind(value)
    except ValueError:
        raise bad_input(f"target.kind is one of {', '.join(k.value for k in TargetKind)}.") from None
    if kind not in SUPPORTED:
        raise ParlorError(400, Code.UNSUPPORTED_REPORT_TARGET, f"This instance cannot take reports on a {kind}.")
    return kind


def check_guest_may_report(kind: TargetKind) -> None:
    if kind not in BY_A_GUEST:
        raise ParlorError(401, Code.NOT_AUTHENTICATED, "Sign in to report a profile or a club.")


def check_reason(value: str) -> Reason:
    try:
        return Reason(value)
    except ValueError:
        raise ParlorError(
            400, Code.UNKNOWN_REASON, f"Pick a reason from the list: {', '.join(r.value for r in Reason)}."
        ) from None


def check_outcome(value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise bad_input("outcome is actioned or dismissed.") from None


def check_state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise bad_input("state is open or handled.") from None


# Line breaks are fine in a note; every other control or format character is refused
# (NUL, bidirectional overrides …), as in bios. Joiners stay: emoji sequences need them.
_ALLOWED = {"\n", "\u200c", "\u200d"}


def check_note(note: str | None, what: str = "A note") -> str | None:
    """Plain text up to NOTE_MAX characters; blank is no note (None)."""
    if note is None:
        return None
    text = unicodedata.normalize("NFC", note.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) > NOTE_MAX:
        raise bad_input(f"{what} is at most {NOTE_MAX} characters.")
    if has_bad_characters(text):  # the one text rule (domain/text.py); newlines are kept
        raise bad_text(what)
    return text or None


def check_not_self(reporter_id: str, reported_user_id: str | None) -> None:
    if reported_user_id == reporter_id:
        raise ParlorError(400, Code.CANNOT_REPORT_SELF, "You cannot report yourself.")
