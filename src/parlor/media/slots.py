"""Which speaker each of a room's K listener slots carries: the loudest K, with hysteresis.

A pure router (no I/O, time passed in), asked once per incoming speaker packet
"which slot, if any, carries this packet?". Per speaker it keeps a smoothed loudness:
an exponential moving average of the RFC 6464 level (as dB above -127 dBov) with
time constant `SMOOTHING_S`, where time without packets (Opus DTX, a stopped
microphone) beyond `JITTER_GRACE_S` counts as silence.

The rule, for a packet of a speaker without a slot:
1. a free slot is taken at once, even by a silent packet (level >= `ACTIVE_BELOW_LEVEL`,
   DTX comfort noise): a speaker on stage reaches every listener, a new one included,
   from its first packet, and its listeners' jitter buffers see its stream start
   before its first word. A silent claim counts as idle from the start (rule 2);
2. else, for an active packet only, a slot whose holder is not talking is taken at
   once: the holder sent no active packet for `idle_s`, or it has fallen quiet, i.e.
   its packets since it last talked are an Opus DTX packet (`dtx`: the sender's
   encoder found no voice, the start of a pause) or have all been silent for
   `QUIET_S`. Otherwise a speaker who takes the floor when the holder stops would
   wait for the holder's peak to fall (rule 3) and lose the first half-second of
   every turn;
3. else, for an active packet only, the quietest holder is displaced if the newcomer is
   louder by `SWITCH_MARGIN_DB` and the holder has had the slot `MIN_HOLD_S`. The
   newcomer's loudness is the larger of its smoothed loudness and this packet's level,
   the holder's its recent peak (`PEAK_RELEASE_DB_S`): so a talk-spurt that takes a
   slot keeps its first packet (a smoothed value needs a few hundred ms to rise, which
   would cut off the first word), while a newcomer only as loud as the holder's
   syllables never takes it.
A holder keeps its slot otherwise; `release` / `retain` free slots at once (left,
muted, demoted). Every change of holder bumps the slot's `generation`, which tells
the forwarding loop to re-base that slot's sequence numbers and timestamps;
`rebase` does the same for a holder whose own numbering jumped (a restarted sender).

Why these constants:
- `SMOOTHING_S` = 0.3 s: about a syllable. One loud packet (a click, a cough) moves
  the average by ~6% of its excess, a real talker's average gets there in a few
  hundred ms, and a pause between words does not empty it.
- `SWITCH_MARGIN_DB` = 6 dB (twice the amplitude): two people talking at ordinary,
  similar volume (a few dB apart, with packet-to-packet noise) never trade a slot;
  a clearly louder one does.
- `MIN_HOLD_S` = 0.5 s: a slot changes hands at most twice a second, so nobody is
  cut into half-words.
- `JITTER_GRACE_S` = 0.3 s: packets held back by a busy box and delivered in a bunch
  are late, not silent; without it a holder flaps out after every stall.
- `idle_s` (default 1.5 s): a holder whose packets stop altogether (no DTX packet
  said so) is taken for gone after a breath or a thinking pause; shorter would count
  a stalled holder's late packets as silence.
- `QUIET_S` = 0: a silent packet (level at or below -120 dBov) is all-zero samples,
  which a live microphone never gives (its own noise sits at -60 to -90 dBov, and one
  bit of 16-bit audio is -90): it is a track switched off, a mute in the app, or
  synthetic speech's pauses. Any wait only cuts the next talker's first words: at 0.2 s
  the two-speaker bench lost 57 % of the speech in the first quarter second of every
  turn, at 0.06 s 41 % (a direct call: 19 %; docs/BENCHMARKS.md). Two talkers whose
  pauses are digital silence may trade the slot in a pause; `MIN_HOLD_S` still bounds
  that to twice a second.
- A quiet holder talks again after `TALK_PACKETS` = 2 active packets in a row: in DTX
  the encoder refreshes its comfort noise with one lone packet every 400 ms, which
  is no talk-spurt.

Per-packet cost: a holder's packet is a dict lookup and a few float operations; only
a packet of a speaker without a slot scans the K slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SMOOTHING_S = 0.3
# Packets can bunch up: a busy event loop or the network holds them back, then they
# arrive together. A gap shorter than this is not silence, so a holder whose packets
# are merely late keeps its loudness (and its slot).
JITTER_GRACE_S = 0.3
SWITCH_MARGIN_DB = 6.0
# A holder still talking is judged by its recent peak: held through a jitter stall,
# then falling 20 dB a second, so a pause between words (~0.2 s) costs it nothing. (A
# holder that stopped talking is quiet, rule 2, and any talker takes its slot.)
PEAK_RELEASE_DB_S = 20.0
MIN_HOLD_S = 0.5
DEFAULT_IDLE_S = 1.5
QUIET_S = 0.0
TALK_PACKETS = 2
# RFC 6464 levels (-dBov) at or above this count as silence (DTX comfort noise).
ACTIVE_BELOW_LEVEL = 120
SILENT_LEVEL = 127
_FRAME_S = 0.02  # one Opus packet
_FRAME_WEIGHT = 1.0 - math.exp(-_FRAME_S / SMOOTHING_S)


@dataclass
class Slot:
    holder: str | None = None
    since: float = 0.0  # when the holder took it
    last_active: float = 0.0  # the holder's last active packet
    # bumped whenever the holder changes, so listeners re-base seq / timestamps
    generation: int = 0
    # the holder's current run of silent / DTX packets: since when (None while it
    # talks), whether a DTX packet was among them, and its active packets in a row
    quiet_since: float | None = None
    quiet_dtx: bool = False
    talk_run: int = 0

    def heard(self, now: float, active: bool, dtx: bool) -> None:
        """One packet of the holder: talking (active) or not (silent, DTX)."""
        if active:
            self.last_active = now
            self.talk_run += 1
            if self.talk_run >= TALK_PACKETS:
                self.quiet_since = None
                self.quiet_dtx = False
            return
        self.talk_run = 0
        if self.quiet_since is None:
            self.quiet_since = now
        self.quiet_dtx = self.quiet_dtx or dtx

    def quiet(self, now: float) -> bool:
        """The holder has fallen quiet: a DTX packet, or silence for `QUIET_S`."""
        return self.quiet_since is not None and (self.quiet_dtx or now - self.quiet_since >= QUIET_S)


class _Speaker:
    __slots__ = ("last", "loud", "peak", "peak_time", "slot")

    def __init__(self, now: float) -> None:
        self.loud = 0.0  # smoothed dB above silence, as of `last`
        self.last = now - _FRAME_S
        self.peak = 0.0  # loudest recent packet, dB above silence, as of `peak_time`
        self.peak_time = now
        self.slot = -1

    def peak_at(self, now: float) -> float:
        """The recent peak: held for `JITTER_GRACE_S`, then falling `PEAK_RELEASE_DB_S`."""
        fall = PEAK_RELEASE_DB_S * max(0.0, now - self.peak_time - JITTER_GRACE_S)
        return max(0.0, self.peak - fall)


class SlotRouter:
    def __init__(
        self,
        count: int,
        idle_s: float = DEFAULT_IDLE_S,
        *,
        margin_db: float = SWITCH_MARGIN_DB,
        min_hold_s: float = MIN_HOLD_S,
    ) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        self.idle_s = idle_s
        self.margin_db = margin_db
        self.min_hold_s = min_hold_s
        self.slots = [Slot() for _ in range(count)]
        self._speakers: dict[str, _Speaker] = {}

    def route(self, user_id: str, now: float, level: int | None, dtx: bool = False) -> int | None:
        """The slot that carries this packet of `user_id`, or None to drop it.

        `level` is the RFC 6464 level (0 loudest .. 127 silent, V bit removed), or
        None if the packet had none: such a packet counts as active but adds no
        loudness, so it can take a free or idle slot, never displace anyone.
        `dtx`: an Opus DTX packet (no audio: the sender's encoder found no voice),
        silent whatever its level.
        """
        speaker = self._speakers.get(user_id)
        if speaker is None:
            speaker = self._speakers[user_id] = _Speaker(now)
        gap = now - speaker.last
        if gap > JITTER_GRACE_S:  # the time without packets, beyond jitter, was silence
            speaker.loud *= math.exp((JITTER_GRACE_S - gap) / SMOOTHING_S)
        speaker.last = now
        active = True
        instant = speaker.loud
        if level is not None:
            instant = float(SILENT_LEVEL - level)
            speaker.loud += _FRAME_WEIGHT * (instant - speaker.loud)
            if instant >= speaker.peak_at(now):
                speaker.peak, speaker.peak_time = instant, now
            active = level < ACTIVE_BELOW_LEVEL
        active = active and not dtx
        index = speaker.slot
        if index >= 0:
            self.slots[index].heard(now, active, dtx)
            return index
        # this packet's own loudness: a talk-spurt's first packet can take a slot
        return self._claim(user_id, speaker, now, active, dtx, max(speaker.loud, instant))

    def _claim(
        self, user_id: str, speaker: _Speaker, now: float, active: bool, dtx: bool, newcomer: float
    ) -> int | None:
        quietest = -1
        quietest_loud = 0.0
        idle = -1
        for index, slot in enumerate(self.slots):
            if slot.holder is None:
                return self._give(index, user_id, speaker, now, active, dtx)
            if not active:
                continue
            if now - slot.last_active > self.idle_s or slot.quiet(now):
                # of several, the one that talked least recently
                if idle < 0 or slot.last_active < self.slots[idle].last_active:
                    idle = index
            elif now - slot.since >= self.min_hold_s:
                loud = self._speakers[slot.holder].peak_at(now)
                if quietest < 0 or loud < quietest_loud:
                    quietest, quietest_loud = index, loud
        if idle >= 0:
            return self._give(idle, user_id, speaker, now, active, dtx)
        if quietest >= 0 and newcomer >= quietest_loud + self.margin_db:
            return self._give(quietest, user_id, speaker, now, active, dtx)
        return None

    def _give(self, index: int, user_id: str, speaker: _Speaker, now: float, active: bool, dtx: bool) -> int:
        slot = self.slots[index]
        if slot.holder is not None:
            self._speakers[slot.holder].slot = -1
        slot.holder = user_id
        slot.since = now
        # a silent claim is idle at once: the first active newcomer may take the slot
        slot.last_active = now if active else -math.inf
        slot.quiet_since, slot.quiet_dtx, slot.talk_run = None, False, TALK_PACKETS
        if not active:
            slot.heard(now, active, dtx)
        slot.generation += 1
        speaker.slot = index
        return index

    def rebase(self, index: int) -> None:
        """The holder's own sequence numbers / timestamps jumped: re-base the slot."""
        self.slots[index].generation += 1

    def loudness(self, user_id: str, now: float) -> float:
        """The speaker's smoothed loudness at `now`, in dB above silence (0 if unknown)."""
        speaker = self._speakers.get(user_id)
        if speaker is None:
            return 0.0
        gap = now - speaker.last
        if gap > JITTER_GRACE_S:
            return speaker.loud * math.exp((JITTER_GRACE_S - gap) / SMOOTHING_S)
        return speaker.loud

    def holders(self) -> list[str | None]:
        return [slot.holder for slot in self.slots]

    def slot_of(self, user_id: str) -> int | None:
        speaker = self._speakers.get(user_id)
        return None if speaker is None or speaker.slot < 0 else speaker.slot

    def release(self, user_id: str) -> None:
        """Forget the speaker and free its slot at once (muted, left the stage or room)."""
        speaker = self._speakers.pop(user_id, None)
        if speaker is not None and speaker.slot >= 0:
            slot = self.slots[speaker.slot]
            slot.holder = None
            slot.last_active = 0.0
            slot.quiet_since, slot.quiet_dtx, slot.talk_run = None, False, 0

    def retain(self, user_ids: frozenset[str]) -> None:
        """Keep only these speakers (the room's audible set)."""
        for user_id in [u for u in self._speakers if u not in user_ids]:
            self.release(user_id)
