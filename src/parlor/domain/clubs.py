"""Clubs (DESIGN §5): who may found one, roles, membership modes, club rooms.

Pure rules, no I/O: each `check_*` takes the facts the caller read (a role, a count)
and either returns what happens or raises a `ParlorError` with a stable code; the
caller writes nothing when it raises. Roles rank admin > leader > member > follower;
a follower is not a member (members-only rooms refuse them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from parlor.domain.text import clean_text
from parlor.errors import Code, ParlorError

NAME_MAX = 50
DESCRIPTION_MAX = 500
RULES_MAX = 1000


class ClubRole(StrEnum):
    ADMIN = "admin"
    LEADER = "leader"
    MEMBER = "member"
    FOLLOWER = "follower"


class Mode(StrEnum):
    OPEN = "open"  # anyone joins directly
    APPROVAL = "approval"  # a request, approved by an admin or a leader
    INVITE = "invite"  # only people an admin or a leader invited


class Pending(StrEnum):
    """What waits on a person's way into a club (one at a time per person and club)."""

    REQUEST = "request"  # they asked to join (approval mode): admins and leaders answer
    NOMINATION = "nomination"  # a member put them forward: admins answer (then it is an invite)
    INVITE = "invite"  # an admin or a leader invited them: they answer


# The roles that make someone a member (not a follower).
MEMBER_ROLES = frozenset({ClubRole.ADMIN, ClubRole.LEADER, ClubRole.MEMBER})
LEADING = frozenset({ClubRole.ADMIN, ClubRole.LEADER})
# Roles an admin may give a member (a follower is who follows, not a role one is given).
ASSIGNABLE = (ClubRole.ADMIN, ClubRole.LEADER, ClubRole.MEMBER)
# Who may found a club (actions/instance_settings.py `clubs_rule`).
FOUNDING_RULES = ("members", "hosts", "admins", "off")


def _refuse(status: int, code: Code, message: str) -> ParlorError:
    return ParlorError(status, code, message)


# -- input ------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    return clean_text(name, "A club name", min_len=2, max_len=NAME_MAX)


def name_key(name: str) -> str:
    """What makes two names the same club name (case-insensitive)."""
    return name.casefold()


def clean_description(text: str) -> str:
    return clean_text(text, "A club description", max_len=DESCRIPTION_MAX)


def clean_rules(text: str) -> str:
    return clean_text(text, "A club's rules", max_len=RULES_MAX)


def parse_mode(raw: object) -> Mode:
    if isinstance(raw, str) and raw in tuple(Mode):
        return Mode(raw)
    raise _refuse(400, Code.INVALID_CLUB_MODE, "Membership is open, approval or invite.")


def parse_role(raw: object) -> ClubRole:
    if isinstance(raw, str) and raw in ASSIGNABLE:
        return ClubRole(raw)
    raise _refuse(400, Code.INVALID_CLUB_ROLE, "A member's role is admin, leader or member.")


# -- founding -------------------------------------------------------------------------------


def check_can_found(rule: str, *, is_admin: bool, hosted: int, min_hosted: int) -> None:
    """Instance admins may always found; others as the instance's rule says."""
    if is_admin or rule == "members":
        return
    if rule == "hosts":
        if hosted < min_hosted:
            left = min_hosted - hosted
            raise _refuse(
                403,
                Code.CANNOT_FOUND_CLUB,
                f"Host {left} more room{'s' if left != 1 else ''} to found a club "
                f"(members who hosted {min_hosted} may).",
            )
        return
    if rule == "admins":
        raise _refuse(403, Code.CANNOT_FOUND_CLUB, "On this server only admins found clubs.")
    raise _refuse(403, Code.CANNOT_FOUND_CLUB, "Founding clubs is turned off on this server.")


# -- membership -------------------------------------------------------------------------------


def is_member(role: ClubRole | None) -> bool:
    return role in MEMBER_ROLES


def _live(archived: bool) -> None:
    if archived:
        raise _refuse(409, Code.CLUB_ARCHIVED, "This club is archived: nobody runs it any more.")


def join_outcome(mode: Mode, role: ClubRole | None, pending: Pending | None, *, archived: bool = False) -> str:
    """What "Join" does: "member" (joined now) or "request" (asked; an admin or a leader answers)."""
    _live(archived)
    if is_member(role):
        raise _refuse(409, Code.ALREADY_IN_CLUB, "You are already a member of this club.")
    if pending is Pending.INVITE or mode is Mode.OPEN:
        return "member"
    if pending is not None:
        raise _refuse(409, Code.CLUB_REQUEST_PENDING, "You already asked: an admin or a leader will answer.")
    if mode is Mode.APPROVAL:
        return "request"
    raise _refuse(403, Code.CLUB_INVITE_ONLY, "This club is invite-only: a leader or an admin has to invite you.")


def check_follow(role: ClubRole | None, *, archived: bool = False) -> None:
    _live(archived)
    if role is ClubRole.FOLLOWER:
        raise _refuse(409, Code.ALREADY_IN_CLUB, "You already follow this club.")
    if role is not None:
        raise _refuse(409, Code.ALREADY_IN_CLUB, "You are a member of this club: members see its rooms already.")


def check_leave(role: ClubRole | None, admins: int) -> None:
    if role is None:
        raise _refuse(409, Code.NOT_CLUB_MEMBER, "You are neither a member nor a follower of this club.")
    if role is ClubRole.ADMIN and admins <= 1:
        raise _refuse(409, Code.LAST_CLUB_ADMIN, "You are this club's only admin: make someone else admin first.")


def check_invite(
    actor: ClubRole | None, target: ClubRole | None, pending: Pending | None, *, archived: bool = False
) -> str:
    """An admin or a leader invites someone: "invite" (they answer) or "member" (they had
    asked to join, so the invitation is the approval)."""
    _live(archived)
    if actor not in LEADING:
        raise _refuse(403, Code.NOT_CLUB_LEADER, "Only the club's admins and leaders invite people.")
    if is_member(target):
        raise _refuse(409, Code.ALREADY_IN_CLUB, "They are already a member of this club.")
    if pending is Pending.REQUEST:
        return "member"
    if pending is not None:
        raise _refuse(409, Code.CLUB_REQUEST_PENDING, "They already have an invitation or a nomination here.")
    return "invite"


def check_nominate(
    actor: ClubRole | None, target: ClubRole | None, pending: Pending | None, *, archived: bool = False
) -> None:
    """A member puts someone forward; the club's admins approve (then it is an invitation)."""
    _live(archived)
    if not is_member(actor):
        raise _refuse(403, Code.NOT_CLUB_MEMBER, "Only members nominate people.")
    if is_member(target):
        raise _refuse(409, Code.ALREADY_IN_CLUB, "They are already a member of this club.")
    if pending is not None:
        raise _refuse(
            409, Code.CLUB_REQUEST_PENDING, "They already have an invitation, a request or a nomination here."
        )


def check_answer(actor: ClubRole | None, kind: Pending) -> None:
    """Who answers what: a join request, admins and leaders; a nomination, admins."""
    if kind is Pending.NOMINATION and actor is not ClubRole.ADMIN:
        raise _refuse(403, Code.NOT_CLUB_ADMIN, "Only the club's admins approve nominations.")
    if kind is Pending.REQUEST and actor not in LEADING:
        raise _refuse(403, Code.NOT_CLUB_LEADER, "Only the club's admins and leaders answer join requests.")
    if kind is Pending.INVITE:
        raise _refuse(404, Code.CLUB_REQUEST_NOT_FOUND, "There is no such request.")


def check_role_change(
    actor: ClubRole | None, target: ClubRole | None, new: ClubRole, admins: int, *, self: bool
) -> None:
    _admin(actor)
    if not is_member(target):
        raise _refuse(404, Code.TARGET_NOT_IN_CLUB, "That person is not a member of this club.")
    if self and target is ClubRole.ADMIN and new is not ClubRole.ADMIN and admins <= 1:
        raise _refuse(409, Code.LAST_CLUB_ADMIN, "You are this club's only admin: make someone else admin first.")


def check_remove(actor: ClubRole | None, target: ClubRole | None, *, self: bool) -> None:
    _admin(actor)
    if self:
        raise _refuse(409, Code.INVALID_TARGET, "Use leave to leave the club.")
    if target is None:
        raise _refuse(404, Code.TARGET_NOT_IN_CLUB, "That person is not in this club.")


def check_manage(actor: ClubRole | None, *, archived: bool = False) -> None:
    """Change the club's settings or avatar: admins."""
    _live(archived)
    _admin(actor)


def _admin(actor: ClubRole | None) -> None:
    if actor is not ClubRole.ADMIN:
        raise _refuse(403, Code.NOT_CLUB_ADMIN, "Only the club's admins can do that.")


# -- club rooms -------------------------------------------------------------------------------


def check_start_room(actor: ClubRole | None, *, archived: bool = False) -> None:
    _live(archived)
    if actor not in LEADING:
        raise _refuse(403, Code.NOT_CLUB_LEADER, "Only the club's admins and leaders start its rooms.")


def members_only_refusal(club_name: str) -> ParlorError:
    return _refuse(
        403,
        Code.CLUB_MEMBERS_ONLY,
        f"This room is for members of the club “{club_name}” only: join the club to come in.",
    )


# -- hand-over ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    user_id: str
    role: ClubRole
    since: float


def successor(people: Iterable[Standing], leaving: str) -> str | None:
    """Who becomes admin when the only admin goes: the longest-standing leader, else the
    longest-standing member; None (the club is archived) when there is neither."""
    for role in (ClubRole.LEADER, ClubRole.MEMBER):
        ranked = sorted((p.since, p.user_id) for p in people if p.role is role and p.user_id != leaving)
        if ranked:
            return ranked[0][1]
    return None
