"""What a listener receives on a slot, packet by packet (issue 15), on both fan-out loops.

Real aiortc listeners over loopback; the speakers' packets are written by the test
(RTP with the audio-level extension and an Opus payload) and handed to the SFU where
the speaker's DTLS transport hands it decrypted packets, so the levels, numbering and
timing are exactly the test's. A speaker's timestamps advance with real time, as a
real sender's do.

The one-slot tests run on plain Opus and on end-to-end encrypted frames (issue 14): in
an encrypted room each payload is a real SFrame frame (parlor.e2ee) the server cannot
read, so the slot router and the hand-over work from the level header and the
payload's length alone.
"""

from __future__ import annotations

import asyncio
import math
import random
import struct
import time
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, wait_for
from tests.conftest import make_settings
from tests.live import live_server

from parlor.client.media import MediaSession, RtpRecord
from parlor.e2ee import SFrameSender
from parlor.media import aiortc_private as priv
from parlor.media.rtp import ENCRYPTED_DTX_TOC
from parlor.media.sfu import Sfu

pytestmark = pytest.mark.media

OPUS_TOC = 0x78  # hybrid, full band, 20 ms, one frame
LOUD, QUIET, SILENCE = 20, 70, 127


class Sender:
    """A speaker's packets: its own SSRC, sequence numbers and a 48 kHz clock."""

    def __init__(self, sfu: Sfu, user_id: str) -> None:
        self.sfu = sfu
        self.user_id = user_id
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts0 = random.getrandbits(32)
        self.t0 = time.monotonic()
        self.sent: list[float] = []  # when each packet was handed over
        # an encrypted room's speaker sends SFrame frames (its DTX frames in clear)
        self.sframe = SFrameSender(bytes(range(16)), 1) if ROOM in sfu._encrypted else None

    def packet(
        self, level: int, *, pt: int | None = None, payload: bytes | None = None, at: float | None = None
    ) -> bytes:
        """`at`: the sender's clock time of the frame (default: now)."""
        peer = self.sfu._peer(ROOM, self.user_id)
        assert peer is not None
        now = time.monotonic() if at is None else at
        ts = (self.ts0 + round((now - self.t0) * 48000)) & 0xFFFFFFFF
        self.seq = (self.seq + 1) & 0xFFFF
        header = struct.pack("!BBHII", 0x90, peer.upstream_pt if pt is None else pt, self.seq, ts, self.ssrc)
        ext = bytes((0xBE, 0xDE, 0, 1, priv.AUDIO_LEVEL_EXT_ID << 4, 0x80 | level, 0, 0))
        if payload is None:
            payload = bytes([OPUS_TOC]) + bytes(60)
            if self.sframe is not None:
                payload = self.sframe.encrypt(payload)
        return header + ext + payload

    def send(self, level: int, **kw: object) -> None:
        data = self.packet(level, **kw)  # type: ignore[arg-type]
        peer = self.sfu._peer(ROOM, self.user_id)
        self.sent.append(time.monotonic())
        self.sfu._on_rtp(peer, data)  # where the speaker's DTLS transport hands it over

    async def talk(self, packets: int, level: int) -> None:
        for _ in range(packets):
            self.send(level)
            await asyncio.sleep(0.02)

    def restart(self) -> None:
        """A sender that starts over (a replaced track in some stacks): new SSRC and clock."""
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts0 = random.getrandbits(32)
        self.t0 = time.monotonic()


def assert_real_time(log: list[RtpRecord], sent: list[float], tolerance_s: float = 0.03) -> None:
    """One SSRC; sequence numbers +1 packet to packet; timestamps advancing as the time
    between the packets' hand-over did (no jump a jitter buffer must stretch over)."""
    assert len(log) == len(sent), (len(log), len(sent))
    assert len({r.ssrc for r in log}) == 1
    for (a, ta), (b, tb) in pairwise(zip(log, sent, strict=True)):
        assert (b.seq - a.seq) & 0xFFFF == 1, (a, b)
        step = ((b.ts - a.ts) & 0xFFFFFFFF) / 48000
        assert abs(step - (tb - ta)) < tolerance_s, (a, b, step, tb - ta)


@pytest.fixture(params=["c", "python", "c-encrypted", "python-encrypted"])
async def one_slot(request: pytest.FixtureRequest) -> Sfu:
    fanout, _, encrypted = str(request.param).partition("-")
    server = Sfu(ice_hosts=LOOPBACK, slots=1, fanout=fanout)
    server.set_encrypted(ROOM, bool(encrypted))
    yield server  # type: ignore[misc]
    await server.close()


async def test_talk_spurts_reach_the_listener_whole_and_in_real_time(
    one_slot: Sfu, clients: list[MediaSession]
) -> None:
    sfu = one_slot
    sfu.set_audible(ROOM, frozenset({"ann", "bob"}))
    listener = await join(sfu, clients, "listener", record_rtp=True)
    listener.record_frames = True
    await join(sfu, clients, "ann")
    await join(sfu, clients, "bob")
    await connected(listener)
    ann, bob = Sender(sfu, "ann"), Sender(sfu, "bob")
    sent: list[float] = []

    # 1. ann's spurt takes the free slot; she talks quietly for 0.8 s (past the min hold)
    await ann.talk(40, QUIET)
    # 2. bob's spurt takes the slot from the quieter ann, at its first packet
    await bob.talk(15, LOUD)
    sent += ann.sent + bob.sent
    # 3. bob stops; 0.8 s later (his peak has fallen by 10 dB) ann speaks up again and
    # takes the slot back at her first packet
    await asyncio.sleep(0.8)
    ann.sent.clear()
    await ann.talk(10, LOUD)
    # 4. ann's sender restarts its numbering mid-spurt: the slot is re-based on real time
    ann.restart()
    await ann.talk(10, LOUD)
    sent += ann.sent
    await wait_for(lambda: len(listener.rtp_log) >= len(sent), within=3.0)
    await asyncio.sleep(0.1)
    assert sfu.room_counters(ROOM)["dropped"] == 0  # every packet, each spurt's first included
    assert_real_time(listener.rtp_log, sent)

    # 5. ann is muted mid-spurt: the listener gets one DTX packet closing her spurt, in
    # the stream's numbering and in real time, so its jitter buffer plays comfort noise
    # instead of concealing a loss until the next speaker
    await asyncio.sleep(0.1)
    sent.append(time.monotonic())
    sfu.set_audible(ROOM, frozenset({"bob"}))
    await wait_for(lambda: len(listener.rtp_log) == len(sent))
    assert_real_time(listener.rtp_log, sent)
    # the DTX packet is one TOC byte; in an encrypted room a fixed one (the server
    # cannot read the talker's), which the listener's decoder takes as is
    dtx = listener.received_frames[-1][2]
    assert len(dtx) == 1
    if ann.sframe is not None:
        assert dtx == bytes([ENCRYPTED_DTX_TOC])
        assert all(len(f) > 60 + 16 for _, _, f in listener.received_frames[:-1])  # SFrame, forwarded whole
    # and bob's next spurt continues the same stream, again in real time
    await asyncio.sleep(0.3)
    bob.sent.clear()
    await bob.talk(5, LOUD)
    sent += bob.sent
    await wait_for(lambda: len(listener.rtp_log) == len(sent))
    assert_real_time(listener.rtp_log, sent)


async def test_a_turn_taken_when_the_holder_falls_quiet_keeps_its_first_packet(
    one_slot: Sfu, clients: list[MediaSession]
) -> None:
    """Two speakers at the same volume take turns on one slot: the next one's first
    packet is forwarded as soon as the holder has fallen quiet (it sent an Opus DTX
    packet, or silence for a pause), not once the holder's recent peak has decayed."""
    sfu = one_slot
    sfu.set_audible(ROOM, frozenset({"ann", "bob"}))
    listener = await join(sfu, clients, "listener", record_rtp=True)
    await join(sfu, clients, "ann")
    await join(sfu, clients, "bob")
    await connected(listener)
    ann, bob = Sender(sfu, "ann"), Sender(sfu, "bob")
    await ann.talk(30, LOUD)
    # ann stops: her encoder's DTX packet (her microphone still hears the room)
    ann.send(QUIET, payload=bytes([OPUS_TOC]))
    await asyncio.sleep(0.04)
    await bob.talk(30, LOUD)  # as loud as ann: it takes the slot at its first packet
    # bob stops, without DTX: his microphone is off and sends silence; after a pause
    # ann takes the floor back
    await bob.talk(12, SILENCE)
    await ann.talk(10, LOUD)
    sent = sorted(ann.sent + bob.sent)
    await wait_for(lambda: len(listener.rtp_log) >= len(sent), within=3.0)
    await asyncio.sleep(0.1)
    assert sfu.room_counters(ROOM)["dropped"] == 0
    assert sfu.slot_holders(ROOM) == ["ann"]
    assert_real_time(listener.rtp_log, sent)


@pytest.mark.parametrize("phase_ms", [5, 13])
async def test_turns_follow_each_other_a_frame_apart_and_near_real_time(
    one_slot: Sfu, clients: list[MediaSession], phase_ms: int
) -> None:
    """Two talkers take 8 turns on one slot, as the quality bench's do: each microphone
    sends a frame every 20 ms on its own clock (the two clocks `phase_ms` apart), loud in
    its turn and digital silence otherwise; the next talker starts a frame before the
    holder's microphone goes off (refused: the slot is held). The listener's stream has no
    hole at any turn (one frame and one sequence number per packet: nothing to conceal)
    and stays within half a frame of real time however many turns pass (were each turn a
    frame ahead, the error would add up and the jitter buffer time-compress speech to
    catch up; docs/BENCHMARKS.md, "Speech quality")."""
    sfu = one_slot
    sfu.set_audible(ROOM, frozenset({"ann", "bob"}))
    listener = await join(sfu, clients, "listener", record_rtp=True)
    await join(sfu, clients, "ann")
    await join(sfu, clients, "bob")
    await connected(listener)
    talkers = [Sender(sfu, "ann"), Sender(sfu, "bob")]
    frame, turns, per_turn = 0.02, 8, 10
    start = time.monotonic() + 0.1
    grids = [start, start + phase_ms / 1000]  # each microphone's first frame
    # each talker's turn, as frame numbers on its own grid
    spans: list[tuple[int, int, int]] = []  # (talker, first frame, frames)
    t = start
    for turn in range(turns):
        who = turn % 2
        first = round((t - grids[who]) / frame)
        spans.append((who, first, per_turn))
        end = grids[who] + (first + per_turn) * frame  # the holder's microphone goes off
        other = 1 - who
        t = grids[other] + math.ceil((end - grids[other]) / frame - 1e-9) * frame
    events: list[tuple[float, int, int]] = []  # (when, talker, level)
    last = max(grids[w] + (f + n) * frame for w, f, n in spans) + 0.1
    for who in (0, 1):
        mine = [(f, n) for w, f, n in spans if w == who]
        k = 0
        while grids[who] + k * frame < last:
            loud = any(f - 1 <= k < f + n for f, n in mine)  # a frame early: it waits
            events.append((grids[who] + k * frame, who, LOUD if loud else SILENCE))
            k += 1
    for when, who, level in sorted(events):
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        talkers[who].send(level, at=when)
    await asyncio.sleep(0.2)
    log = listener.rtp_log
    assert len(log) >= turns * per_turn
    assert len({r.ssrc for r in log}) == 1
    for a, b in pairwise(log):
        assert (b.seq - a.seq) & 0xFFFF == 1, (a, b)
        assert (b.ts - a.ts) & 0xFFFFFFFF == 960, (a, b)  # no hole, no frame ahead
    leads = [(r.ts - log[0].ts) / 48000 - (r.arrived - log[0].arrived) for r in log]
    assert max(abs(lead) for lead in leads) < 0.010 + 0.008, leads  # half a frame + timer slack


async def test_new_listener_receives_a_silent_speaker_at_once(sfu: Sfu, clients: list[MediaSession]) -> None:
    sfu.set_audible(ROOM, frozenset({"ann"}))
    await join(sfu, clients, "ann")
    early = await join(sfu, clients, "early")
    await connected(early)
    ann = Sender(sfu, "ann")
    await ann.talk(10, SILENCE)  # on stage, not a sound (DTX comfort noise)
    late = await join(sfu, clients, "late", record_rtp=True)
    await connected(late)
    connected_at = len(ann.sent)
    await ann.talk(10, SILENCE)
    await wait_for(lambda: late.packets_received >= 10)
    assert early.packets_received == len(ann.sent)
    # from the moment it is connected (its route may be ready a packet or two later)
    assert late.packets_received >= len(ann.sent) - connected_at - 2
    assert sfu.room_counters(ROOM)["dropped"] == 0


BAD = {
    "wrong payload type": lambda s: s.packet(LOUD, pt=(s.sfu._peer(ROOM, s.user_id).upstream_pt + 1) & 0x7F),
    "empty payload": lambda s: s.packet(LOUD, payload=b""),
    "code 1, odd length": lambda s: s.packet(LOUD, payload=bytes([OPUS_TOC | 1]) + bytes(3)),
    "code 2, first frame past the end": lambda s: s.packet(LOUD, payload=bytes([OPUS_TOC | 2, 200]) + bytes(10)),
    "code 3, no frames": lambda s: s.packet(LOUD, payload=bytes([OPUS_TOC | 3, 0x00]) + bytes(10)),
    "code 3, 160 ms": lambda s: s.packet(LOUD, payload=bytes([OPUS_TOC | 3, 8]) + bytes(16)),
    "frame over 1275 bytes": lambda s: s.packet(LOUD, payload=bytes([OPUS_TOC]) + bytes(1276)),
    "truncated header": lambda s: s.packet(LOUD)[:9],
    "extension past the end": lambda s: s.packet(LOUD)[:12] + bytes((0xBE, 0xDE, 0, 9)),
    "padding past the end": lambda s: bytes([s.packet(LOUD)[0] | 0x20]) + s.packet(LOUD)[1:-1] + bytes([250]),
    "not RTP": lambda s: bytes([0x40]) + s.packet(LOUD)[1:],
}


async def test_bad_packets_are_dropped_counted_and_harm_nobody(sfu: Sfu, clients: list[MediaSession]) -> None:
    sfu.set_audible(ROOM, frozenset({"good", "bad"}))
    listener = await join(sfu, clients, "listener", record_rtp=True)
    await join(sfu, clients, "good")
    await join(sfu, clients, "bad")
    await connected(listener)
    good, bad = Sender(sfu, "good"), Sender(sfu, "bad")
    for make in list(BAD.values()) * 3:
        good.send(LOUD)
        sfu._on_rtp(sfu._peer(ROOM, "bad"), make(bad))
        await asyncio.sleep(0.02)
    await wait_for(lambda: len(listener.rtp_log) >= len(good.sent))
    await asyncio.sleep(0.1)
    counters = sfu.room_counters(ROOM)
    assert counters["malformed"] == 3 * len(BAD)
    assert sfu.totals()["malformed"] == 3 * len(BAD)
    assert sfu.slot_holders(ROOM).count("bad") == 0  # a bad packet never takes a slot
    assert_real_time(listener.rtp_log, good.sent)  # the good speaker's stream, whole
    # the same speaker's well-formed packets still go through
    bad.send(LOUD)
    await wait_for(lambda: len(listener.rtp_log) == len(good.sent) + 1)


async def test_malformed_packets_are_counted_in_metrics(tmp_path: Path, clients: list[MediaSession]) -> None:
    async with live_server(make_settings(tmp_path / "data")) as server:
        sfu = server.app.state.services.media
        sfu.set_audible(ROOM, frozenset({"bad"}))
        await join(sfu, clients, "bad")
        bad = Sender(sfu, "bad")
        for make in BAD.values():
            sfu._on_rtp(sfu._peer(ROOM, "bad"), make(bad))
        async with httpx.AsyncClient(base_url=server.url) as http:
            text = (await http.get("/metrics")).text
        assert f"parlor_media_packets_malformed_total {len(BAD)}" in text.splitlines()


ENCRYPTED_BAD = {
    "wrong payload type": lambda s: s.packet(LOUD, pt=(s.sfu._peer(ROOM, s.user_id).upstream_pt + 1) & 0x7F),
    "empty payload": lambda s: s.packet(LOUD, payload=b""),
    "SFrame header runs past the end": lambda s: s.packet(LOUD, payload=bytes([0xCF, 1, 2])),
    "shorter than header + tag": lambda s: s.packet(LOUD, payload=s.sframe.encrypt(b"")[:-1]),
    "truncated header": lambda s: s.packet(LOUD)[:9],
    "not RTP": lambda s: bytes([0x40]) + s.packet(LOUD)[1:],
}


@pytest.mark.parametrize("fanout", ["c", "python"])
async def test_an_encrypted_room_drops_what_cannot_be_an_sframe_frame(fanout: str, clients: list[MediaSession]) -> None:
    """In an encrypted room the server cannot check Opus; it admits what can be an SFrame
    frame (header parses, then at least the 16-byte tag) and 1–2 byte DTX frames only."""
    sfu = Sfu(ice_hosts=LOOPBACK, fanout=fanout)
    try:
        sfu.set_encrypted(ROOM, True)
        sfu.set_audible(ROOM, frozenset({"good", "bad"}))
        listener = await join(sfu, clients, "listener", record_rtp=True)
        await join(sfu, clients, "good")
        await join(sfu, clients, "bad")
        await connected(listener)
        good, bad = Sender(sfu, "good"), Sender(sfu, "bad")
        for make in list(ENCRYPTED_BAD.values()) * 3:
            good.send(LOUD)
            sfu._on_rtp(sfu._peer(ROOM, "bad"), make(bad))
            await asyncio.sleep(0.02)
        await wait_for(lambda: len(listener.rtp_log) >= len(good.sent))
        await asyncio.sleep(0.1)
        assert sfu.room_counters(ROOM)["malformed"] == 3 * len(ENCRYPTED_BAD)
        assert sfu.slot_holders(ROOM).count("bad") == 0
        assert_real_time(listener.rtp_log, good.sent)
        good.send(QUIET, payload=bytes([OPUS_TOC]))  # a DTX frame in clear goes on
        bad.send(LOUD)  # and so does the bad speaker's next real SFrame frame
        await wait_for(lambda: len(listener.rtp_log) == len(good.sent) + 1)
        assert sfu.room_counters(ROOM)["malformed"] == 3 * len(ENCRYPTED_BAD)
    finally:
        await sfu.close()
