"""Club rules (domain/clubs.py), table-driven: who may found, join, follow, leave, invite,
nominate, answer, change roles, remove, start a club room; every refusal has its code.

Pure functions: the HTTP tests (tests/test_clubs.py) show the same refusals change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from parlor.domain import clubs as c
from parlor.domain import rooms
from parlor.domain.clubs import ClubRole as R
from parlor.domain.clubs import Mode as M
from parlor.domain.clubs import Pending as P
from parlor.errors import Code, ParlorError

A, L, MEM, F = R.ADMIN, R.LEADER, R.MEMBER, R.FOLLOWER


def outcome(fn: Any, *args: Any, **kwargs: Any) -> object:
    """What the rule answers, or the code it refuses with."""
    try:
        return fn(*args, **kwargs)
    except ParlorError as exc:
        assert exc.message and 400 <= exc.status < 500
        return exc.code


FOUNDING = [
    # rule, instance admin, rooms hosted, rooms needed → refusal code or None
    ("hosts", False, 0, 3, Code.CANNOT_FOUND_CLUB),
    ("hosts", False, 2, 3, Code.CANNOT_FOUND_CLUB),
    ("hosts", False, 3, 3, None),
    ("hosts", False, 9, 3, None),
    ("hosts", True, 0, 3, None),
    ("members", False, 0, 3, None),
    ("admins", False, 99, 3, Code.CANNOT_FOUND_CLUB),
    ("admins", True, 0, 3, None),
    ("off", False, 99, 3, Code.CANNOT_FOUND_CLUB),
    ("off", True, 0, 3, None),
]


@pytest.mark.parametrize(("rule", "admin", "hosted", "needed", "expected"), FOUNDING)
def test_founding_rule(rule: str, admin: bool, hosted: int, needed: int, expected: Code | None) -> None:
    got = outcome(c.check_can_found, rule, is_admin=admin, hosted=hosted, min_hosted=needed)
    assert got == expected


def test_founding_refusal_says_how_many_rooms_are_left() -> None:
    with pytest.raises(ParlorError) as info:
        c.check_can_found("hosts", is_admin=False, hosted=1, min_hosted=3)
    assert "Host 2 more rooms" in info.value.message


JOIN = [
    # mode, your role, what waits for you → "member" / "request" / refusal code
    (M.OPEN, None, None, "member"),
    (M.OPEN, F, None, "member"),
    (M.OPEN, MEM, None, Code.ALREADY_IN_CLUB),
    (M.OPEN, A, None, Code.ALREADY_IN_CLUB),
    (M.APPROVAL, None, None, "request"),
    (M.APPROVAL, F, None, "request"),
    (M.APPROVAL, None, P.REQUEST, Code.CLUB_REQUEST_PENDING),
    (M.APPROVAL, None, P.NOMINATION, Code.CLUB_REQUEST_PENDING),
    (M.APPROVAL, None, P.INVITE, "member"),
    (M.APPROVAL, L, None, Code.ALREADY_IN_CLUB),
    (M.INVITE, None, None, Code.CLUB_INVITE_ONLY),
    (M.INVITE, F, None, Code.CLUB_INVITE_ONLY),
    (M.INVITE, None, P.NOMINATION, Code.CLUB_REQUEST_PENDING),
    (M.INVITE, None, P.INVITE, "member"),
    (M.INVITE, MEM, None, Code.ALREADY_IN_CLUB),
]


@pytest.mark.parametrize(("mode", "role", "pending", "expected"), JOIN)
def test_join_by_membership_mode(mode: M, role: R | None, pending: P | None, expected: object) -> None:
    assert outcome(c.join_outcome, mode, role, pending) == expected


def test_an_archived_club_takes_nobody() -> None:
    assert outcome(c.join_outcome, M.OPEN, None, None, archived=True) == Code.CLUB_ARCHIVED
    assert outcome(c.check_follow, None, archived=True) == Code.CLUB_ARCHIVED
    assert outcome(c.check_invite, A, None, None, archived=True) == Code.CLUB_ARCHIVED
    assert outcome(c.check_start_room, A, archived=True) == Code.CLUB_ARCHIVED
    assert outcome(c.check_manage, A, archived=True) == Code.CLUB_ARCHIVED


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, None), (F, Code.ALREADY_IN_CLUB), (MEM, Code.ALREADY_IN_CLUB), (A, Code.ALREADY_IN_CLUB)],
)
def test_anyone_may_follow_once(role: R | None, expected: Code | None) -> None:
    assert outcome(c.check_follow, role) == expected


LEAVE = [
    # your role, admins in the club → refusal code or None
    (None, 1, Code.NOT_CLUB_MEMBER),
    (F, 1, None),
    (MEM, 1, None),
    (L, 1, None),
    (A, 1, Code.LAST_CLUB_ADMIN),
    (A, 2, None),
]


@pytest.mark.parametrize(("role", "admins", "expected"), LEAVE)
def test_leave(role: R | None, admins: int, expected: Code | None) -> None:
    assert outcome(c.check_leave, role, admins) == expected


INVITE = [
    # inviter's role, invitee's role, what waits for the invitee → "invite" / "member" / code
    (A, None, None, "invite"),
    (L, None, None, "invite"),
    (L, F, None, "invite"),
    (A, None, P.REQUEST, "member"),
    (A, None, P.INVITE, Code.CLUB_REQUEST_PENDING),
    (A, None, P.NOMINATION, Code.CLUB_REQUEST_PENDING),
    (A, MEM, None, Code.ALREADY_IN_CLUB),
    (MEM, None, None, Code.NOT_CLUB_LEADER),
    (F, None, None, Code.NOT_CLUB_LEADER),
    (None, None, None, Code.NOT_CLUB_LEADER),
]


@pytest.mark.parametrize(("actor", "target", "pending", "expected"), INVITE)
def test_admins_and_leaders_invite(actor: R | None, target: R | None, pending: P | None, expected: object) -> None:
    assert outcome(c.check_invite, actor, target, pending) == expected


NOMINATE = [
    (MEM, None, None, None),
    (L, F, None, None),
    (A, None, None, None),
    (MEM, MEM, None, Code.ALREADY_IN_CLUB),
    (MEM, None, P.REQUEST, Code.CLUB_REQUEST_PENDING),
    (F, None, None, Code.NOT_CLUB_MEMBER),
    (None, None, None, Code.NOT_CLUB_MEMBER),
]


@pytest.mark.parametrize(("actor", "target", "pending", "expected"), NOMINATE)
def test_members_nominate(actor: R | None, target: R | None, pending: P | None, expected: Code | None) -> None:
    assert outcome(c.check_nominate, actor, target, pending) == expected


ANSWER = [
    # who answers, what → refusal code or None
    (A, P.REQUEST, None),
    (L, P.REQUEST, None),
    (MEM, P.REQUEST, Code.NOT_CLUB_LEADER),
    (F, P.REQUEST, Code.NOT_CLUB_LEADER),
    (A, P.NOMINATION, None),
    (L, P.NOMINATION, Code.NOT_CLUB_ADMIN),
    (MEM, P.NOMINATION, Code.NOT_CLUB_ADMIN),
    (A, P.INVITE, Code.CLUB_REQUEST_NOT_FOUND),  # an invitation is the invitee's to answer
]


@pytest.mark.parametrize(("actor", "kind", "expected"), ANSWER)
def test_who_answers_requests_and_nominations(actor: R, kind: P, expected: Code | None) -> None:
    assert outcome(c.check_answer, actor, kind) == expected


ROLES = [
    # actor, target's role, new role, admins, on yourself → refusal code or None
    (A, MEM, L, 1, False, None),
    (A, L, A, 1, False, None),
    (A, A, MEM, 2, False, None),  # an admin demotes another admin
    (A, A, L, 1, True, Code.LAST_CLUB_ADMIN),  # the only admin cannot step down
    (A, A, MEM, 2, True, None),  # one of two can
    (A, F, MEM, 1, False, Code.TARGET_NOT_IN_CLUB),  # a follower is not a member
    (A, None, MEM, 1, False, Code.TARGET_NOT_IN_CLUB),
    (L, MEM, L, 1, False, Code.NOT_CLUB_ADMIN),
    (MEM, MEM, A, 1, False, Code.NOT_CLUB_ADMIN),
    (None, MEM, L, 1, False, Code.NOT_CLUB_ADMIN),
]


@pytest.mark.parametrize(("actor", "target", "new", "admins", "self", "expected"), ROLES)
def test_role_changes(
    actor: R | None, target: R | None, new: R, admins: int, self: bool, expected: Code | None
) -> None:
    assert outcome(c.check_role_change, actor, target, new, admins, self=self) == expected


REMOVE = [
    (A, MEM, False, None),
    (A, F, False, None),
    (A, A, False, None),
    (A, None, False, Code.TARGET_NOT_IN_CLUB),
    (A, A, True, Code.INVALID_TARGET),
    (L, MEM, False, Code.NOT_CLUB_ADMIN),
]


@pytest.mark.parametrize(("actor", "target", "self", "expected"), REMOVE)
def test_remove(actor: R, target: R | None, self: bool, expected: Code | None) -> None:
    assert outcome(c.check_remove, actor, target, self=self) == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [(A, None), (L, None), (MEM, Code.NOT_CLUB_LEADER), (F, Code.NOT_CLUB_LEADER), (None, Code.NOT_CLUB_LEADER)],
)
def test_admins_and_leaders_start_club_rooms(role: R | None, expected: Code | None) -> None:
    assert outcome(c.check_start_room, role) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("open", M.OPEN),
        ("approval", M.APPROVAL),
        ("invite", M.INVITE),
        ("Open", Code.INVALID_CLUB_MODE),
        ("closed", Code.INVALID_CLUB_MODE),
        (3, Code.INVALID_CLUB_MODE),
        (None, Code.INVALID_CLUB_MODE),
    ],
)
def test_modes(raw: object, expected: object) -> None:
    assert outcome(c.parse_mode, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("admin", A),
        ("leader", L),
        ("member", MEM),
        ("follower", Code.INVALID_CLUB_ROLE),
        ("owner", Code.INVALID_CLUB_ROLE),
        ([], Code.INVALID_CLUB_ROLE),
    ],
)
def test_roles(raw: object, expected: object) -> None:
    assert outcome(c.parse_role, raw) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Chess", "Chess"),
        ("  Chess   club ", "Chess club"),
        ("x", Code.INVALID_INPUT),
        ("n" * 51, Code.INVALID_INPUT),
        ("bad\u202ename", Code.INVALID_INPUT),
    ],
)
def test_names(name: str, expected: object) -> None:
    assert outcome(c.clean_name, name) == expected
    assert c.name_key("Chess Club") == c.name_key("CHESS club")


SUCCESSION = [
    # (user, role, since) …, who leaves → who becomes admin (None: archived)
    ([("zed", A, 1), ("old", MEM, 2), ("lee", L, 5), ("lia", L, 3)], "zed", "lia"),
    ([("zed", A, 1), ("new", MEM, 9), ("old", MEM, 2), ("fay", F, 0)], "zed", "old"),
    ([("zed", A, 1), ("fay", F, 0)], "zed", None),
    ([("zed", A, 1)], "zed", None),
]


@pytest.mark.parametrize(("people", "leaving", "expected"), SUCCESSION)
def test_the_longest_standing_leader_then_member_takes_over(
    people: list[tuple[str, R, float]], leaving: str, expected: str | None
) -> None:
    assert c.successor([c.Standing(u, r, s) for u, r, s in people], leaving) == expected


MEMBERS_ONLY = [
    # members-only, a member of the club, already in the room → refusal code or None
    (True, False, False, Code.CLUB_MEMBERS_ONLY),
    (True, True, False, None),
    (True, False, True, None),
    (False, False, False, None),
]


@pytest.mark.parametrize(("members_only", "member", "inside", "expected"), MEMBERS_ONLY)
def test_members_only_club_rooms(members_only: bool, member: bool, inside: bool, expected: Code | None) -> None:
    room = rooms.create("r_1", "Club night", "lee", 1.0, club_id="c_1", club_name="Chess", members_only=members_only)
    if inside:
        room = rooms.join(room, "kim", 2.0, club_member=True)
    refusal = rooms.admission_refusal(room, "kim", club_member=member)
    assert (refusal.code if refusal else None) == expected
    if refusal is not None:
        assert "members of the club “Chess” only" in refusal.message
        with pytest.raises(ParlorError) as info:
            rooms.join(room, "kim", 3.0, club_member=member)
        assert info.value.code == expected
        assert not rooms.kind_admits(room, "kim", followed_by_moderator=True, club_member=member)


def test_members_only_needs_a_club_and_refuses_guests() -> None:
    assert not rooms.create("r_1", "Mine", "lee", 1.0, members_only=True).members_only
    from parlor.domain.guests import set_guests_allowed

    room = rooms.create("r_2", "Club night", "lee", 1.0, club_id="c_1", club_name="Chess", members_only=True)
    assert outcome(set_guests_allowed, room, "lee", True) == Code.CLUB_MEMBERS_ONLY
