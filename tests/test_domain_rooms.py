"""The room state machine: rules by example, then invariants under random play."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlor.domain import rooms as d
from parlor.domain.rooms import HandRaise, Role, RoomKind
from parlor.errors import Code, ParlorError


def room_with(*listeners: str) -> d.Room:
    room = d.create("r1", "Morning chat", "mod", 0.0)
    for i, who in enumerate(listeners, start=1):
        room = d.join(room, who, float(i))
    return room


def promote(room: d.Room, who: str, now: float = 10.0) -> d.Room:
    room = d.invite_to_speak(room, "mod", who)
    return d.accept_speak_invite(room, who, now)


def refused(code: Code, fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParlorError) as info:
        fn(*args, **kwargs)
    assert info.value.code is code


def test_creator_is_moderator_on_stage_muted_until_they_unmute() -> None:
    room = d.create("r1", "  Morning   chat ", "mod", 0.0)
    assert room.title == "Morning chat"
    mod = room.get("mod")
    assert mod is not None and mod.role is Role.MODERATOR and mod.on_stage and mod.self_muted
    assert room.audible_speakers == frozenset()
    assert d.set_self_muted(room, "mod", False).audible_speakers == {"mod"}


@pytest.mark.parametrize("title", ["", "   ", "x" * (d.TITLE_MAX + 1)])
def test_bad_titles_are_refused(title: str) -> None:
    refused(Code.INVALID_INPUT, d.create, "r1", title, "mod", 0.0)


def test_hand_invite_accept_brings_listener_up_muted() -> None:
    room = d.raise_hand(room_with("ann"), "ann")
    assert room.get("ann").hand_raised  # type: ignore[union-attr]
    room = d.invite_to_speak(room, "mod", "ann")
    room = d.accept_speak_invite(room, "ann", 5.0)
    ann = room.get("ann")
    assert ann is not None and ann.role is Role.SPEAKER and not ann.hand_raised and ann.self_muted
    assert "ann" not in room.audible_speakers
    room = d.set_self_muted(room, "ann", False)
    assert "ann" in room.audible_speakers


def test_decline_keeps_listener_in_audience() -> None:
    room = d.invite_to_speak(d.raise_hand(room_with("ann"), "ann"), "mod", "ann")
    room = d.decline_speak_invite(room, "ann")
    ann = room.get("ann")
    assert ann is not None and ann.role is Role.LISTENER and not ann.speak_invite and not ann.hand_raised


def test_listener_cannot_accept_without_invite() -> None:
    refused(Code.NO_SPEAK_INVITE, d.accept_speak_invite, room_with("ann"), "ann", 1.0)


def test_locked_mute_cannot_be_lifted_by_speaker_until_unlocked() -> None:
    room = d.set_self_muted(promote(room_with("ann"), "ann"), "ann", False)
    room = d.mute_speaker(room, "mod", "ann", lock=True)
    assert "ann" not in room.audible_speakers
    refused(Code.MUTE_LOCKED, d.set_self_muted, room, "ann", False)
    room = d.unlock_mute(room, "mod", "ann")
    room = d.set_self_muted(room, "ann", False)
    assert "ann" in room.audible_speakers


def test_moderator_mute_without_lock_can_be_undone_by_speaker_only() -> None:
    room = d.set_self_muted(promote(room_with("ann"), "ann"), "ann", False)
    room = d.mute_speaker(room, "mod", "ann")
    assert "ann" not in room.audible_speakers
    assert "ann" in d.set_self_muted(room, "ann", False).audible_speakers


def test_last_moderator_leaving_hands_over_to_longest_standing_speaker() -> None:
    room = promote(room_with("ann", "bob", "cat"), "bob", now=5.0)
    room = promote(room, "ann", now=7.0)
    room = d.leave(room, "mod")
    assert room.get("bob").role is Role.MODERATOR  # type: ignore[union-attr]
    assert room.get("ann").role is Role.SPEAKER  # type: ignore[union-attr]
    assert not room.ended


def test_room_ends_when_last_moderator_leaves_and_no_speaker_is_left() -> None:
    room = d.leave(room_with("ann", "bob"), "mod")
    assert room.ended


def test_moderator_stepping_down_as_last_moderator_triggers_succession() -> None:
    room = promote(room_with("ann"), "ann")
    room = d.move_to_audience(room, "mod", "mod")
    assert room.get("ann").role is Role.MODERATOR  # type: ignore[union-attr]
    assert room.get("mod").role is Role.LISTENER  # type: ignore[union-attr]


def test_remove_with_block_keeps_them_out() -> None:
    room = d.remove(room_with("ann"), "mod", "ann", block=True)
    assert room.get("ann") is None
    refused(Code.ROOM_NOT_FOUND, d.join, room, "ann", 9.0)


def test_blocked_by_a_moderator_cannot_join() -> None:
    refused(Code.ROOM_NOT_FOUND, d.join, room_with(), "ann", 1.0, blocked_by_moderator=True)


def test_capacity() -> None:
    room = d.create("r1", "Small", "mod", 0.0, capacity=2)
    room = d.join(room, "ann", 1.0)
    refused(Code.ROOM_FULL, d.join, room, "bob", 2.0)


def test_hands_off_refuses_and_clears_raised_hands() -> None:
    room = d.raise_hand(room_with("ann"), "ann")
    room = d.update_settings(room, "mod", hand_raise=HandRaise.OFF)
    assert not room.get("ann").hand_raised  # type: ignore[union-attr]
    refused(Code.HANDS_DISABLED, d.raise_hand, room, "ann")


def test_followed_by_speakers_mode_needs_a_follow() -> None:
    room = d.update_settings(room_with("ann"), "mod", hand_raise=HandRaise.FOLLOWED_BY_SPEAKERS)
    refused(Code.HANDS_DISABLED, d.raise_hand, room, "ann")
    assert d.raise_hand(room, "ann", followed_by_a_speaker=True).get("ann").hand_raised  # type: ignore[union-attr]


def test_cannot_revoke_the_only_moderator() -> None:
    refused(Code.INVALID_TARGET, d.revoke_moderator, room_with(), "mod", "mod")


def test_ended_room_refuses_everything() -> None:
    room = d.end(room_with("ann"), "mod")
    refused(Code.ROOM_ENDED, d.raise_hand, room, "ann")
    refused(Code.ROOM_ENDED, d.join, room, "bob", 1.0)


# ---- room kinds: who may come in -------------------------------------------------
# (kind, invited, followed by a moderator) -> the refusal's code, or None: they join.
ADMISSION = [
    (RoomKind.OPEN, False, False, None),
    (RoomKind.OPEN, True, True, None),
    (RoomKind.SOCIAL, False, False, Code.NOT_FOLLOWED_BY_MODERATOR),
    (RoomKind.SOCIAL, False, True, None),
    (RoomKind.SOCIAL, True, False, None),
    (RoomKind.CLOSED, False, False, Code.ROOM_CLOSED),
    (RoomKind.CLOSED, False, True, Code.ROOM_CLOSED),
    (RoomKind.CLOSED, True, False, None),
]


@pytest.mark.parametrize(("kind", "invited", "followed", "code"), ADMISSION)
def test_who_may_join_each_kind(kind: RoomKind, invited: bool, followed: bool, code: Code | None) -> None:
    room = d.create("r1", "Kinds", "mod", 0.0, kind=kind)
    if invited:
        room = d.invite_member(room, "mod", "ann") if kind is not RoomKind.OPEN else room
    assert d.kind_admits(room, "ann", followed_by_moderator=followed) is (code is None)
    if code is None:
        assert d.join(room, "ann", 1.0, followed_by_moderator=followed).get("ann") is not None
    else:
        refused(code, d.join, room, "ann", 1.0, followed_by_moderator=followed)
        assert d.admission_refusal(room, "ann", followed_by_moderator=followed).code is code  # type: ignore[union-attr]
    # A block beats an invitation and a follow, whatever the kind.
    refused(Code.ROOM_NOT_FOUND, d.join, room, "ann", 1.0, followed_by_moderator=followed, blocked_by_moderator=True)


@pytest.mark.parametrize("kind", [RoomKind.SOCIAL, RoomKind.CLOSED])
def test_removed_with_a_block_loses_the_invitation(kind: RoomKind) -> None:
    room = d.invite_member(d.create("r1", "Kinds", "mod", 0.0, kind=kind), "mod", "ann")
    room = d.remove(d.join(room, "ann", 1.0), "mod", "ann", block=True)
    assert "ann" not in room.invited
    refused(Code.ROOM_NOT_FOUND, d.join, room, "ann", 2.0, followed_by_moderator=True)
    refused(Code.INVALID_TARGET, d.invite_member, room, "mod", "ann")
    # A plain removal keeps it: they may come back.
    room = d.invite_member(d.create("r2", "Kinds", "mod", 0.0, kind=kind), "mod", "bob")
    room = d.remove(d.join(room, "bob", 1.0), "mod", "bob")
    assert d.join(room, "bob", 2.0).get("bob") is not None


# (room kind, who invites, whom) -> refusal code
INVITE_REFUSALS = {
    "an open room needs no invitation": (RoomKind.OPEN, "mod", "zed", Code.ROOM_IS_OPEN),
    "a listener cannot invite": (RoomKind.CLOSED, "ann", "zed", Code.NOT_MODERATOR),
    "an outsider cannot invite": (RoomKind.CLOSED, "zed", "yan", Code.NOT_IN_ROOM),
    "someone already in the room": (RoomKind.CLOSED, "mod", "ann", Code.ALREADY_IN_THAT_ROOM),
}


@pytest.mark.parametrize("case", list(INVITE_REFUSALS))
def test_invitation_refusals_change_nothing(case: str) -> None:
    kind, actor, target, code = INVITE_REFUSALS[case]
    room = d.create("r1", "Kinds", "mod", 0.0, kind=kind)
    room = d.join(room, "ann", 1.0, followed_by_moderator=True) if kind is RoomKind.OPEN else d.join(
        d.invite_member(room, "mod", "ann"), "ann", 1.0
    )
    before = room
    refused(code, d.invite_member, room, actor, target)
    assert room == before


def test_inviting_twice_is_one_invitation() -> None:
    room = d.invite_member(d.create("r1", "Closed", "mod", 0.0, kind=RoomKind.CLOSED), "mod", "ann")
    assert d.invite_member(room, "mod", "ann") is room


def test_closing_a_room_lets_whoever_is_in_it_come_back() -> None:
    room = room_with("ann", "bob")
    room = d.update_settings(room, "mod", kind=RoomKind.CLOSED)
    assert room.kind is RoomKind.CLOSED and {"mod", "ann", "bob"} <= room.invited
    room = d.leave(room, "ann")
    assert d.join(room, "ann", 5.0).get("ann") is not None
    refused(Code.ROOM_CLOSED, d.join, room, "cat", 5.0)
    # Opened up again: anyone.
    room = d.update_settings(room, "mod", kind=RoomKind.OPEN)
    assert d.join(room, "cat", 6.0).get("cat") is not None
    refused(Code.NOT_MODERATOR, d.update_settings, room, "bob", kind=RoomKind.CLOSED)


# ---- invariants under random play -------------------------------------------------

PEOPLE = ["mod", "ann", "bob", "cat", "dan"]
who = st.sampled_from(PEOPLE)
op = st.one_of(
    st.tuples(st.just("join"), who),
    st.tuples(st.just("leave"), who),
    st.tuples(st.just("raise"), who),
    st.tuples(st.just("lower"), who),
    st.tuples(st.just("invite"), who, who),
    st.tuples(st.just("accept"), who),
    st.tuples(st.just("decline"), who),
    st.tuples(st.just("audience"), who, who),
    st.tuples(st.just("mute"), who, st.booleans()),
    st.tuples(st.just("mute_speaker"), who, who, st.booleans()),
    st.tuples(st.just("unlock"), who, who),
    st.tuples(st.just("make_mod"), who, who),
    st.tuples(st.just("revoke_mod"), who, who),
    st.tuples(st.just("remove"), who, who, st.booleans()),
    st.tuples(st.just("hands"), who, st.sampled_from(list(HandRaise))),
    st.tuples(st.just("kind"), who, st.sampled_from(list(RoomKind))),
    st.tuples(st.just("invite_member"), who, who),
    st.tuples(st.just("join_followed"), who),
    st.tuples(st.just("end"), who),
)


def apply(room: d.Room, step: tuple, now: float) -> d.Room:  # type: ignore[type-arg]
    kind, *args = step
    match kind:
        case "join":
            return d.join(room, args[0], now)
        case "leave":
            return d.leave(room, args[0])
        case "raise":
            return d.raise_hand(room, args[0])
        case "lower":
            return d.lower_hand(room, args[0])
        case "invite":
            return d.invite_to_speak(room, args[0], args[1])
        case "accept":
            return d.accept_speak_invite(room, args[0], now)
        case "decline":
            return d.decline_speak_invite(room, args[0])
        case "audience":
            return d.move_to_audience(room, args[0], args[1])
        case "mute":
            return d.set_self_muted(room, args[0], args[1])
        case "mute_speaker":
            return d.mute_speaker(room, args[0], args[1], lock=args[2])
        case "unlock":
            return d.unlock_mute(room, args[0], args[1])
        case "make_mod":
            return d.make_moderator(room, args[0], args[1])
        case "revoke_mod":
            return d.revoke_moderator(room, args[0], args[1])
        case "remove":
            return d.remove(room, args[0], args[1], block=args[2])
        case "hands":
            return d.update_settings(room, args[0], hand_raise=args[1])
        case "kind":
            return d.update_settings(room, args[0], kind=args[1])
        case "invite_member":
            return d.invite_member(room, args[0], args[1])
        case "join_followed":
            return d.join(room, args[0], now, followed_by_moderator=True)
        case "end":
            return d.end(room, args[0])
    raise AssertionError(kind)


def check_invariants(room: d.Room) -> None:
    if room.ended:
        return
    assert room.moderators, "a live room always has a moderator"
    for p in room.participants.values():
        if p.on_stage:
            assert not p.hand_raised and not p.speak_invite and p.stage_since is not None
        else:
            assert not p.self_muted and not p.mute_locked and p.stage_since is None
        assert p.user_id not in room.blocked
    assert not room.invited & room.blocked, "a block voids an invitation"
    assert room.audible_speakers <= {p.user_id for p in room.participants.values() if p.on_stage}


@settings(max_examples=400, deadline=None)
@given(st.lists(op, max_size=40))
def test_random_play_keeps_invariants_and_refusals_change_nothing(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    room = d.create("r1", "Random", "mod", 0.0)
    for i, step in enumerate(steps, start=1):
        before = room
        try:
            room = apply(room, step, float(i))
        except ParlorError as exc:
            assert room is before  # refused: nothing changed
            assert exc.status in (400, 403, 404, 409, 410)
            continue
        assert room.version >= before.version
        if step[0] in ("join", "join_followed"):
            # Let in only by the kind's rule.
            assert room.kind is RoomKind.OPEN or step[1] in before.invited or (
                room.kind is RoomKind.SOCIAL and step[0] == "join_followed"
            )
        check_invariants(room)
        if room.ended:
            break
