"""The room state machine under random play (Hypothesis, stateful).

Random sequences of joins, leaves, hands, invitations to speak (and withdrawals),
promotions, demotions, mutes (one person or everyone), removals (with a block or not),
settings, dropped connections, reconnects and the passing of time. The room goes
through the domain's transitions, the node's presence book (`LiveRooms`: who has a
client, since when not) and, for what may be heard, through the same path as on a
node: `actions.rooms.media_audible` decides what the media plane is told, a real
`Sfu` is told it, and every person's packet is offered to that Sfu's forwarding
decision (`Sfu.deliver`: the audible-set check, then the slot router).

After every step:
- a live room has a moderator (or it has ended);
- everyone in it holds exactly one role, with the marks that role allows;
- whoever was removed with a block is out and stays out (joining is refused);
- a listener, a muted speaker, someone gone: their packets are never forwarded;
  an unmuted speaker's are (the media plane gets the stage right both ways).
"""

from __future__ import annotations

import asyncio
import struct

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from parlor.actions.live import LiveRooms
from parlor.actions.rooms import media_audible
from parlor.domain import rooms as d
from parlor.domain.rooms import HandRaise, Role, RoomKind
from parlor.errors import ParlorError
from parlor.media import aiortc_private as priv
from parlor.media.sfu import Sfu

ROOM = "r_machine"
MOD = "mod"
PEOPLE = [MOD, "ann", "bob", "cat", "dan", "eve"]
GRACE_S = 30.0  # a participant with no client for longer leaves (settings.reconnect_grace_s)
REFUSALS = (400, 403, 404, 409, 410)

person = st.sampled_from(PEOPLE)


def packet(seq: int, level: int = 20) -> bytes:
    """One loud Opus packet with the RFC 6464 audio level extension, as a speaker sends it."""
    header = struct.pack("!BBHII", 0x90, 111, seq & 0xFFFF, seq * 960 & 0xFFFFFFFF, 0x1234)
    extension = struct.pack("!HHBBBB", 0xBEDE, 1, priv.AUDIO_LEVEL_EXT_ID << 4, 0x80 | level, 0, 0)
    return header + extension + bytes([0x78]) + bytes(range(1, 40))


class RoomMachine(RuleBasedStateMachine):
    @initialize()
    def create(self) -> None:
        self.now = 0.0
        self.seq = 0
        self.room = d.create(ROOM, "Random room", MOD, self.now)
        self.live = LiveRooms()
        self.live.put(self.room)
        self.live.arrived(ROOM, MOD, self.now)
        self.live.attach(ROOM, MOD)
        # slots for everyone: an audible speaker always finds one, so "forwarded" is exact
        self.sfu = Sfu(slots=len(PEOPLE), fanout="python")
        self.blocked: set[str] = set()  # removed with a block, by this test's account
        self.connected: set[str] = {MOD}
        self.media_told(None, self.room)

    # -- the plumbing every step goes through --------------------------------------------

    def media_told(self, old: d.Room | None, new: d.Room) -> None:
        """What actions.rooms._announce does to the media plane after a transition."""
        if new.ended:
            asyncio.run(self.sfu.close_room(ROOM))
            return
        audible = media_audible(old, new)
        if audible is not None:
            self.sfu.set_audible(ROOM, audible)

    def step(self, transition, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        """Apply one transition; a refusal must change nothing. True when it was applied."""
        old = self.room
        self.now += 1.0
        try:
            new = transition(old, *args, **kwargs)
        except ParlorError as exc:
            assert exc.status in REFUSALS
            assert self.room is old
            return False
        assert new.version >= old.version
        self.room = new
        self.live.put(new)
        for gone in set(old.participants) - set(new.participants):
            self.connected.discard(gone)
        self.media_told(old, new)
        return True

    # -- joining and leaving ----------------------------------------------------------------

    @rule(who=person, followed=st.booleans())
    def join(self, who: str, followed: bool) -> None:
        was_in = who in self.room.participants
        if self.step(d.join, who, self.now, followed_by_moderator=followed):
            assert who not in self.blocked, "a removed-and-blocked person came back"
            assert not was_in
            self.live.arrived(ROOM, who, self.now)
            self.live.attach(ROOM, who)
            self.connected.add(who)
        elif who in self.blocked and not self.room.ended:
            assert who not in self.room.participants

    @rule(who=person)
    def leave(self, who: str) -> None:
        self.step(d.leave, who)

    # -- connections: a client drops, comes back, or stays away past the grace ----------

    @rule(who=person)
    def drop_connection(self, who: str) -> None:
        if who in self.connected:
            self.connected.discard(who)
            self.live.detach(ROOM, who, self.now)

    @rule(who=person)
    def reconnect(self, who: str) -> None:
        if who in self.room.participants and who not in self.connected:
            before = self.room
            self.live.attach(ROOM, who)
            self.connected.add(who)
            # coming back changes nothing: role, hand and mute are as they were
            assert self.room is before

    @rule(seconds=st.sampled_from([1.0, 10.0, 29.0, 31.0, 45.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        for room_id, user_id in self.live.absent(self.now, GRACE_S):
            assert room_id == ROOM and user_id not in self.connected
            assert self.step(d.leave, user_id) or self.room.ended

    # -- hands and invitations to speak -------------------------------------------------------

    @rule(who=person, raised=st.booleans())
    def hand(self, who: str, raised: bool) -> None:
        self.step(d.raise_hand if raised else d.lower_hand, who)

    @rule(actor=person)
    def lower_all_hands(self, actor: str) -> None:
        if self.step(d.lower_all_hands, actor):
            assert not any(p.hand_raised for p in self.room.participants.values())

    @rule(actor=person, whom=person)
    def invite_to_speak(self, actor: str, whom: str) -> None:
        self.step(d.invite_to_speak, actor, whom)

    @rule(actor=person, whom=person)
    def withdraw_speak_invite(self, actor: str, whom: str) -> None:
        if self.step(d.withdraw_speak_invite, actor, whom):
            p = self.room.get(whom)
            assert p is not None and not p.speak_invite and p.role is Role.LISTENER

    @rule(who=person, accept=st.booleans())
    def answer(self, who: str, accept: bool) -> None:
        if accept:
            self.step(d.accept_speak_invite, who, self.now)
        else:
            self.step(d.decline_speak_invite, who)

    # -- the stage --------------------------------------------------------------------------

    @rule(actor=person, whom=person)
    def move_to_audience(self, actor: str, whom: str) -> None:
        self.step(d.move_to_audience, actor, whom)

    @rule(actor=person, whom=person)
    def make_moderator(self, actor: str, whom: str) -> None:
        self.step(d.make_moderator, actor, whom)

    @rule(actor=person, whom=person)
    def revoke_moderator(self, actor: str, whom: str) -> None:
        self.step(d.revoke_moderator, actor, whom)

    @rule(who=person, muted=st.booleans())
    def self_mute(self, who: str, muted: bool) -> None:
        self.step(d.set_self_muted, who, muted)

    @rule(actor=person, whom=person, lock=st.booleans())
    def mute_speaker(self, actor: str, whom: str, lock: bool) -> None:
        self.step(d.mute_speaker, actor, whom, lock=lock)

    @rule(actor=person)
    def mute_all(self, actor: str) -> None:
        moderators_before = {p.user_id: p for p in self.room.moderators}
        if self.step(d.mute_all, actor):
            assert not any(p.audible for p in self.room.speakers)
            # moderators keep their own microphones
            assert {p.user_id: p for p in self.room.moderators} == moderators_before

    @rule(actor=person, whom=person)
    def unlock_mute(self, actor: str, whom: str) -> None:
        self.step(d.unlock_mute, actor, whom)

    # -- removals and settings ----------------------------------------------------------------

    @rule(actor=person, whom=person, block=st.booleans())
    def remove(self, actor: str, whom: str, block: bool) -> None:
        if self.step(d.remove, actor, whom, block=block) and block:
            self.blocked.add(whom)

    @rule(actor=person, kind=st.sampled_from(list(RoomKind)))
    def set_kind(self, actor: str, kind: RoomKind) -> None:
        self.step(d.update_settings, actor, kind=kind)

    @rule(actor=person, hands=st.sampled_from(list(HandRaise)))
    def set_hands(self, actor: str, hands: HandRaise) -> None:
        self.step(d.update_settings, actor, hand_raise=hands)

    @rule(actor=person, whom=person)
    def invite_member(self, actor: str, whom: str) -> None:
        self.step(d.invite_member, actor, whom)

    @precondition(lambda self: not self.room.ended)
    @rule(actor=person)
    def end(self, actor: str) -> None:
        self.step(d.end, actor)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def a_live_room_has_a_moderator(self) -> None:
        assert self.room.ended or self.room.moderators

    @invariant()
    def everyone_holds_one_role(self) -> None:
        if self.room.ended:
            return
        for user_id, p in self.room.participants.items():
            assert p.user_id == user_id and p.role in set(Role)
            if p.on_stage:
                assert not p.hand_raised and not p.speak_invite and p.stage_since is not None
            else:
                assert not p.self_muted and not p.mute_locked and p.stage_since is None

    @invariant()
    def the_blocked_stay_out(self) -> None:
        assert not self.blocked & set(self.room.participants)
        assert self.blocked <= self.room.blocked
        assert not self.room.invited & self.room.blocked
        for who in self.blocked:
            refusal = d.admission_refusal(self.room, who, followed_by_moderator=True)
            assert refusal is not None

    @invariant()
    def presence_follows_the_room(self) -> None:
        if self.room.ended:
            assert not self.live.presence
        else:
            assert {u for (_, u) in self.live.presence} == set(self.room.participants)

    @invariant()
    def only_unmuted_speakers_are_forwarded(self) -> None:
        """Offer each person's packet to the media plane's own forwarding decision."""
        if not hasattr(self, "sfu"):
            return
        for who in PEOPLE:
            p = self.room.get(who)
            should = not self.room.ended and p is not None and p.on_stage and not (p.self_muted or p.mute_locked)
            self.seq += 1
            dropped = self.sfu.room_counters(ROOM)["dropped"]
            self.sfu.deliver(ROOM, who, packet(self.seq))
            held = self.sfu.slot_holders(ROOM).count(who) == 1
            forwarded = self.sfu.room_counters(ROOM)["dropped"] == dropped and held
            assert forwarded == should, (who, p, "forwarded" if forwarded else "dropped")

    def teardown(self) -> None:
        if hasattr(self, "sfu"):
            asyncio.run(self.sfu.close())


RoomMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_room_state_machine = RoomMachine.TestCase
