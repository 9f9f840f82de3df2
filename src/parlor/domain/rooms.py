"""The live room state machine (DESIGN §3).

Every transition is a pure function `Room -> Room` that either returns the new
state or raises a `ParlorError` and changes nothing (rooms are immutable).
The server calls these and only these to change a live room; the UI merely
offers what they allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from parlor.domain.clubs import members_only_refusal
from parlor.domain.text import clean_text
from parlor.errors import Code, ParlorError

TITLE_MAX = 120
# Guests (people without an account, domain/guests.py) have ids of their own kind, made
# by the server: whether someone is a guest is read from the id.
GUEST_PREFIX = "g_"


def is_guest(user_id: str) -> bool:
    return user_id.startswith(GUEST_PREFIX)


class Role(StrEnum):
    MODERATOR = "moderator"
    SPEAKER = "speaker"
    LISTENER = "listener"


class RoomKind(StrEnum):
    OPEN = "open"
    SOCIAL = "social"
    CLOSED = "closed"


class HandRaise(StrEnum):
    OFF = "off"
    FOLLOWED_BY_SPEAKERS = "followed_by_speakers"
    EVERYONE = "everyone"


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: str
    role: Role
    joined_at: float
    # When this person last stepped on stage; the longest-standing speaker
    # succeeds the last moderator.
    stage_since: float | None = None
    hand_raised: bool = False
    self_muted: bool = False
    # Muted by a moderator who locked it: the speaker cannot unmute themselves.
    mute_locked: bool = False
    speak_invite: bool = False
    # An encrypted room (docs/E2EE.md §7): the public key this person published for this
    # visit (base64url, a P-256 point) and when the server first took it; kept across a
    # reconnect, gone with the person when they leave.
    public_key: str | None = None
    keyed_since: float | None = None

    @property
    def on_stage(self) -> bool:
        return self.role is not Role.LISTENER

    @property
    def guest(self) -> bool:
        return is_guest(self.user_id)

    @property
    def audible(self) -> bool:
        return self.on_stage and not self.self_muted and not self.mute_locked


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    title: str
    created_by: str
    created_at: float
    kind: RoomKind = RoomKind.OPEN
    hand_raise: HandRaise = HandRaise.EVERYONE
    capacity: int = 5000
    participants: Mapping[str, Participant] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Removed with "block": may not come back to this room.
    blocked: frozenset[str] = frozenset()
    # Let into a social or closed room by a moderator (and whoever was in it when it
    # stopped being open), whatever the kind's rule says.
    invited: frozenset[str] = frozenset()
    # An event's hosts and co-hosts (actions/events.py): each comes in as a moderator.
    hosts: frozenset[str] = frozenset()
    ended: bool = False
    # A guest room (domain/guests.py): opened by name, everyone in it a guest, nothing of
    # it stored. `guests_allowed`: a members' room that "anyone with the link" may enter
    # as a guest. `open_stage`: everyone who comes in is on stage (a guest room until a
    # moderator turns the stage on).
    guest_room: bool = False
    guests_allowed: bool = False
    open_stage: bool = False
    # Topics of the instance's list (domain/topics.py), at most three.
    topics: tuple[str, ...] = ()
    # A club's room (domain/clubs.py): started by its admins and leaders; `members_only`
    # refuses anyone who is not a member of the club (followers included).
    club_id: str | None = None
    club_name: str = ""
    members_only: bool = False
    # End-to-end encrypted (docs/E2EE.md) for the room's whole life: the server only
    # relays public keys and wrapped room keys, and chat lines it cannot read.
    encrypted: bool = False
    # Increases with every transition, so clients can drop stale snapshots.
    version: int = 0

    def get(self, user_id: str) -> Participant | None:
        return self.participants.get(user_id)

    @property
    def audible_speakers(self) -> frozenset[str]:
        """Whose packets the media plane may forward."""
        return frozenset(p.user_id for p in self.participants.values() if p.audible)

    @property
    def moderators(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role is Role.MODERATOR]

    @property
    def speakers(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role is Role.SPEAKER]


def _refuse(code: Code, message: str, status: int = 403) -> ParlorError:
    return ParlorError(status, code, message)


def clean_title(title: str) -> str:
    cleaned = clean_text(title, "A room title", max_len=TITLE_MAX)
    if not cleaned:
        raise _refuse(Code.INVALID_INPUT, "A room needs a title.", 400)
    return cleaned


def _with(room: Room, *changed: Participant, removed: tuple[str, ...] = ()) -> Room:
    people = dict(room.participants)
    for user_id in removed:
        people.pop(user_id, None)
    for p in changed:
        people[p.user_id] = p
    return replace(room, participants=MappingProxyType(people), version=room.version + 1)


def _live(room: Room) -> None:
    if room.ended:
        raise _refuse(Code.ROOM_ENDED, "This room has ended.", 410)


def _member(room: Room, user_id: str) -> Participant:
    _live(room)
    p = room.get(user_id)
    if p is None:
        raise _refuse(Code.NOT_IN_ROOM, "You are not in this room.")
    return p


def _moderator(room: Room, user_id: str) -> Participant:
    p = _member(room, user_id)
    if p.role is not Role.MODERATOR:
        raise _refuse(Code.NOT_MODERATOR, "Only a moderator can do that.")
    return p


def require_moderator(room: Room, user_id: str) -> None:
    """Refuse anyone but a moderator of this live room (what only moderators may read)."""
    _moderator(room, user_id)


def _target(room: Room, user_id: str) -> Participant:
    p = room.get(user_id)
    if p is None:
        raise _refuse(Code.TARGET_NOT_IN_ROOM, "That person is not in this room.", 404)
    return p


def create(
    room_id: str,
    title: str,
    creator: str,
    now: float,
    *,
    kind: RoomKind = RoomKind.OPEN,
    hand_raise: HandRaise = HandRaise.EVERYONE,
    capacity: int = 5000,
    hosts: frozenset[str] = frozenset(),
    topics: tuple[str, ...] = (),
    club_id: str | None = None,
    club_name: str = "",
    members_only: bool = False,
    encrypted: bool = False,
) -> Room:
    # On stage muted, like everyone who comes up: nobody is live by surprise.
    first = Participant(creator, Role.MODERATOR, joined_at=now, stage_since=now, self_muted=True)
    return Room(
        id=room_id,
        title=clean_title(title),
        created_by=creator,
        created_at=now,
        kind=kind,
        hand_raise=hand_raise,
        capacity=capacity,
        participants=MappingProxyType({creator: first}),
        hosts=hosts,
        topics=topics,
        club_id=club_id,
        club_name=club_name,
        members_only=members_only and club_id is not None,
        encrypted=encrypted,
        version=1,
    )


def admission_refusal(
    room: Room,
    user_id: str,
    *,
    blocked_by_moderator: bool = False,
    followed_by_moderator: bool = False,
    club_member: bool = False,
) -> ParlorError | None:
    """Why `user_id` may not come into the room, or None. Says nothing of capacity.

    `blocked_by_moderator`: a moderator here blocked them (or they and a moderator are
    blocked either way); `followed_by_moderator`: a moderator follows them (what a
    social room asks); `club_member`: they are a member of the room's club (what a
    members-only club room asks, whatever its kind). Facts the caller read from the database.
    """
    if room.ended:
        return _refuse(Code.ROOM_ENDED, "This room has ended.", 410)
    if user_id in room.participants:
        return None
    if user_id in room.blocked or blocked_by_moderator:
        # Removed with a block, or kept out by a moderator: to them the room is not
        # there at all (by id, as in the hallway and search), not "there but closed".
        return _refuse(Code.ROOM_NOT_FOUND, "There is no such room.", 404)
    if room.members_only and not club_member:
        return members_only_refusal(room.club_name)
    if room.kind is RoomKind.OPEN or user_id in room.invited:
        return None
    if room.kind is RoomKind.CLOSED:
        return _refuse(Code.ROOM_CLOSED, "This room is closed: only people a moderator invited can join.")
    if not followed_by_moderator:
        return _refuse(
            Code.NOT_FOLLOWED_BY_MODERATOR,
            "This is a social room: only people its moderators follow, or invite, can join.",
        )
    return None


def club_ref(room: Room) -> dict[str, Any] | None:
    """The club a room belongs to, as snapshots and hallway cards show it."""
    if room.club_id is None:
        return None
    return {"id": room.club_id, "name": room.club_name, "members_only": room.members_only}


def kind_admits(room: Room, user_id: str, *, followed_by_moderator: bool, club_member: bool = False) -> bool:
    """The room's kind lets `user_id` in (blocks aside): the hallway and search show it to them."""
    if user_id in room.participants:
        return True
    if room.members_only and not club_member:
        return False
    if room.kind is RoomKind.OPEN or user_id in room.participants or user_id in room.invited:
        return True
    return room.kind is RoomKind.SOCIAL and followed_by_moderator


def join(
    room: Room,
    user_id: str,
    now: float,
    *,
    blocked_by_moderator: bool = False,
    followed_by_moderator: bool = False,
    club_member: bool = False,
) -> Room:
    """Enter as a listener (see `admission_refusal` for the facts the caller passes)."""
    _live(room)
    if room.guest_room:
        raise _refuse(Code.IS_GUEST_ROOM, "This is a guest room: open it by its name (/r/<name>).", 409)
    if user_id in room.participants:
        raise _refuse(Code.ALREADY_IN_ROOM, "You are already in this room.", 409)
    refusal = admission_refusal(
        room,
        user_id,
        blocked_by_moderator=blocked_by_moderator,
        followed_by_moderator=followed_by_moderator,
        club_member=club_member,
    )
    if refusal is not None:
        raise refusal
    if len(room.participants) >= room.capacity:
        raise _refuse(Code.ROOM_FULL, "This room is full.", 409)
    if user_id in room.hosts:
        # An event's host comes in moderating, on stage muted as the creator does.
        return _with(room, Participant(user_id, Role.MODERATOR, joined_at=now, stage_since=now, self_muted=True))
    return _with(room, Participant(user_id, Role.LISTENER, joined_at=now))


def invite_member(room: Room, actor: str, target: str) -> Room:
    """A moderator lets someone into a social or closed room (they join when they like)."""
    _moderator(room, actor)
    if room.kind is RoomKind.OPEN:
        raise _refuse(Code.ROOM_IS_OPEN, "Anyone can join an open room: share its link instead.", 409)
    if target in room.participants:
        raise _refuse(Code.ALREADY_IN_THAT_ROOM, "They are already in this room.", 409)
    if target in room.blocked:
        raise _refuse(Code.INVALID_TARGET, "They were removed from this room with a block.", 409)
    if target in room.invited:
        return room
    return replace(room, invited=room.invited | {target}, version=room.version + 1)


def _succession(room: Room) -> Room:
    """DESIGN §3: no moderator left → longest-standing speaker; no speaker → end.

    A guest never moderates a members' room (guests are passed over); a guest room
    lives while anyone is in it: with no speaker, the longest-standing listener
    comes up to moderate it."""
    if room.ended or room.moderators:
        return room
    speakers = sorted(
        (p for p in room.speakers if room.guest_room or not p.guest),
        key=lambda p: (p.stage_since or 0.0, p.joined_at, p.user_id),
    )
    if not speakers and room.guest_room and room.participants:
        first = min(room.participants.values(), key=lambda p: (p.joined_at, p.user_id))
        speakers = [replace(first, stage_since=first.joined_at, hand_raised=False, speak_invite=False, self_muted=True)]
    if not speakers:
        return end_now(room)
    heir = replace(speakers[0], role=Role.MODERATOR)
    return replace(_with(room, heir), version=room.version + 1)


def end_now(room: Room) -> Room:
    """End the room (no permission check: succession and shutdown use it)."""
    return replace(room, ended=True, version=room.version + 1)


def leave(room: Room, user_id: str) -> Room:
    _member(room, user_id)
    return _succession(_with(room, removed=(user_id,)))


def raise_hand(room: Room, user_id: str, *, followed_by_a_speaker: bool = False) -> Room:
    p = _member(room, user_id)
    if p.role is not Role.LISTENER:
        raise _refuse(Code.NOT_LISTENER, "Only listeners raise a hand.")
    if room.hand_raise is HandRaise.OFF or (
        room.hand_raise is HandRaise.FOLLOWED_BY_SPEAKERS and not followed_by_a_speaker
    ):
        raise _refuse(Code.HANDS_DISABLED, "Hand raising is off in this room.")
    if p.hand_raised:
        return room
    return _with(room, replace(p, hand_raised=True))


def lower_hand(room: Room, user_id: str) -> Room:
    p = _member(room, user_id)
    if p.role is not Role.LISTENER:
        raise _refuse(Code.NOT_LISTENER, "Only listeners raise a hand.")
    if not p.hand_raised:
        return room
    return _with(room, replace(p, hand_raised=False))


def invite_to_speak(room: Room, actor: str, target: str) -> Room:
    _moderator(room, actor)
    t = _target(room, target)
    if t.role is not Role.LISTENER:
        raise _refuse(Code.INVALID_TARGET, "That person is already on stage.", 409)
    if t.speak_invite:
        return room
    return _with(room, replace(t, speak_invite=True))


def withdraw_speak_invite(room: Room, actor: str, target: str) -> Room:
    """A moderator takes back an invitation to speak the listener has not answered."""
    _moderator(room, actor)
    t = _target(room, target)
    if not t.speak_invite:
        raise _refuse(Code.NO_SPEAK_INVITE, "That person has no invitation to speak.", 409)
    return _with(room, replace(t, speak_invite=False))


def accept_speak_invite(room: Room, user_id: str, now: float) -> Room:
    p = _member(room, user_id)
    if not p.speak_invite or p.role is not Role.LISTENER:
        raise _refuse(Code.NO_SPEAK_INVITE, "You have not been invited to speak.")
    # New speakers come up muted, as on Clubhouse: nobody is live by surprise.
    return _with(
        room,
        replace(
            p,
            role=Role.SPEAKER,
            stage_since=now,
            hand_raised=False,
            speak_invite=False,
            self_muted=True,
            mute_locked=False,
        ),
    )


def decline_speak_invite(room: Room, user_id: str) -> Room:
    p = _member(room, user_id)
    if not p.speak_invite:
        raise _refuse(Code.NO_SPEAK_INVITE, "You have not been invited to speak.")
    return _with(room, replace(p, speak_invite=False, hand_raised=False))


def move_to_audience(room: Room, actor: str, target: str) -> Room:
    """A moderator moves someone off stage, or a speaker steps down themselves."""
    if actor == target:
        p = _member(room, actor)
        if not p.on_stage:
            raise _refuse(Code.NOT_SPEAKER, "You are not on stage.")
    else:
        _moderator(room, actor)
        p = _target(room, target)
        if not p.on_stage:
            raise _refuse(Code.INVALID_TARGET, "That person is not on stage.", 409)
    down = replace(
        p,
        role=Role.LISTENER,
        stage_since=None,
        self_muted=False,
        mute_locked=False,
        hand_raised=False,
        speak_invite=False,
    )
    return _succession(_with(room, down))


def set_self_muted(room: Room, user_id: str, muted: bool) -> Room:
    p = _member(room, user_id)
    if not p.on_stage:
        raise _refuse(Code.NOT_SPEAKER, "Only people on stage have a microphone here.")
    if not muted and p.mute_locked:
        raise _refuse(Code.MUTE_LOCKED, "A moderator muted you.")
    if p.self_muted == muted:
        return room
    return _with(room, replace(p, self_muted=muted))


def mute_speaker(room: Room, actor: str, target: str, *, lock: bool = False) -> Room:
    """A moderator mutes someone on stage; with `lock` they cannot unmute themselves.

    A moderator can never unmute someone else's microphone; they can only lift
    the lock (`unlock_mute`).
    """
    _moderator(room, actor)
    t = _target(room, target)
    if not t.on_stage:
        raise _refuse(Code.INVALID_TARGET, "That person is not on stage.", 409)
    return _with(room, replace(t, self_muted=True, mute_locked=t.mute_locked or lock))


def mute_all(room: Room, actor: str) -> Room:
    """A moderator mutes everyone on stage but the moderators (who keep their own
    microphones). Not locked: each may unmute when the moderator has made the quiet."""
    _moderator(room, actor)
    quieted = [replace(p, self_muted=True) for p in room.speakers if not p.self_muted]
    return _with(room, *quieted) if quieted else room


def lower_all_hands(room: Room, actor: str) -> Room:
    _moderator(room, actor)
    lowered = [replace(p, hand_raised=False) for p in room.participants.values() if p.hand_raised]
    return _with(room, *lowered) if lowered else room


def unlock_mute(room: Room, actor: str, target: str) -> Room:
    _moderator(room, actor)
    t = _target(room, target)
    if not t.mute_locked:
        return room
    return _with(room, replace(t, mute_locked=False))


def make_moderator(room: Room, actor: str, target: str) -> Room:
    _moderator(room, actor)
    t = _target(room, target)
    if t.role is Role.MODERATOR:
        return room
    if t.role is not Role.SPEAKER:
        raise _refuse(Code.INVALID_TARGET, "Invite them to speak first.", 409)
    if t.guest and not room.guest_room:
        raise _refuse(Code.GUEST_CANNOT_MODERATE, "A guest cannot moderate a members' room.", 409)
    return _with(room, replace(t, role=Role.MODERATOR))


def revoke_moderator(room: Room, actor: str, target: str) -> Room:
    _moderator(room, actor)
    t = _target(room, target)
    if t.role is not Role.MODERATOR:
        raise _refuse(Code.INVALID_TARGET, "That person is not a moderator.", 409)
    if len(room.moderators) == 1:
        raise _refuse(Code.INVALID_TARGET, "A room needs at least one moderator.", 409)
    return _with(room, replace(t, role=Role.SPEAKER))


def remove(room: Room, actor: str, target: str, *, block: bool = False) -> Room:
    _moderator(room, actor)
    if actor == target:
        raise _refuse(Code.INVALID_TARGET, "Use leave to leave the room.", 409)
    _target(room, target)
    out = _with(room, removed=(target,))
    if block:
        out = replace(out, blocked=room.blocked | {target}, invited=room.invited - {target})
    return _succession(out)


def update_settings(
    room: Room,
    actor: str,
    *,
    title: str | None = None,
    hand_raise: HandRaise | None = None,
    kind: RoomKind | None = None,
    topics: tuple[str, ...] | None = None,
) -> Room:
    """`topics`: already checked against the instance's list (domain/topics.py)."""
    _moderator(room, actor)
    if room.guest_room and kind is not None and kind is not RoomKind.OPEN:
        raise _refuse(Code.IS_GUEST_ROOM, "A guest room is open to anyone with its name.", 409)
    changed = replace(
        room,
        title=clean_title(title) if title is not None else room.title,
        hand_raise=hand_raise if hand_raise is not None else room.hand_raise,
        kind=kind if kind is not None else room.kind,
        topics=topics if topics is not None else room.topics,
    )
    if changed == room:
        return room
    if changed.kind is not RoomKind.OPEN and changed.kind is not room.kind:
        # Whoever is in the room when it closes may come back (a dropped connection,
        # a step out): they count as invited.
        changed = replace(changed, invited=changed.invited | set(changed.participants))
    hands_off = changed.hand_raise is HandRaise.OFF
    people = [replace(p, hand_raised=False) for p in changed.participants.values() if hands_off and p.hand_raised]
    return _with(changed, *people)


def publish_key(room: Room, user_id: str, public_key: str, now: float) -> Room:
    """Someone in an encrypted room publishes their public key for this visit (the
    caller checked its form, domain/e2ee.py). The same key again keeps `keyed_since`."""
    p = _member(room, user_id)
    if not room.encrypted:
        raise _refuse(Code.NOT_ENCRYPTED, "This room is not end-to-end encrypted.", 409)
    if p.public_key == public_key:
        return room
    return _with(room, replace(p, public_key=public_key, keyed_since=now))


def end(room: Room, actor: str) -> Room:
    _moderator(room, actor)
    return end_now(room)
