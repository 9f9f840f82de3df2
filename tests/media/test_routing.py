"""Loudest-K slots over real aiortc peers: continuity across switches, mute, no echo."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, wait_for, write_tone

from parlor.client.media import MediaSession, RtpRecord
from parlor.media.sfu import Sfu

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Loud tones (about -11 dBov) of distinct frequencies, and a quiet one (about -29 dBov)."""
    d: Path = tmp_path_factory.mktemp("tones")
    made = {f"loud{i}": write_tone(d / f"loud{i}.wav", freq=f) for i, f in enumerate((330, 440, 550, 660))}
    made["quiet"] = write_tone(d / "quiet.wav", freq=220, amplitude=1500)
    return made


def assert_continuous(log: list[RtpRecord]) -> dict[int, int]:
    """Per SSRC: sequence numbers +1 each packet, timestamps increasing. Packets per SSRC."""
    by_ssrc: dict[int, list[RtpRecord]] = defaultdict(list)
    for record in log:
        by_ssrc[record.ssrc].append(record)
    for ssrc, records in by_ssrc.items():
        for prev, cur in pairwise(records):
            assert (cur.seq - prev.seq) & 0xFFFF == 1, (ssrc, prev, cur)
            step = (cur.ts - prev.ts) & 0xFFFFFFFF
            assert 0 < step < 48000, (ssrc, prev, cur)
    return {ssrc: len(records) for ssrc, records in by_ssrc.items()}


async def test_loud_newcomer_takes_quietest_slot_with_continuous_numbering(
    clients: list[MediaSession], tones: dict[str, str]
) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK, slots=3)
    try:
        speakers = ["q0", "q1", "q2", "loud"]
        sfu.set_audible(ROOM, frozenset(speakers))
        listener = await join(sfu, clients, "listener", record_rtp=True)
        quiet = [await join(sfu, clients, u, send_wav=tones["quiet"]) for u in speakers[:3]]
        await connected(listener, *quiet)
        await wait_for(lambda: None not in sfu.slot_holders(ROOM))
        await wait_for(lambda: len(listener.per_ssrc) == 3 and min(listener.per_ssrc.values()) > 20)
        generations = sum(s.generation for s in sfu._rooms[ROOM].router.slots)

        loud = await join(sfu, clients, "loud", send_wav=tones["loud0"])
        await connected(loud)
        await wait_for(lambda: "loud" in sfu.slot_holders(ROOM), within=3.0)
        own = sfu.slot_ssrcs(ROOM, "loud")[sfu.slot_holders(ROOM).index("loud")]
        await asyncio.sleep(0.3)  # the displaced speaker's last packets, in flight to "loud"
        own_at_switch = loud.per_ssrc.get(own, 0)
        at_switch = len(listener.rtp_log)
        await wait_for(lambda: len(listener.rtp_log) > at_switch + 3 * 40)
        # exactly one switch, and no flapping afterwards
        assert sum(s.generation for s in sfu._rooms[ROOM].router.slots) == generations + 1
        assert "loud" in sfu.slot_holders(ROOM)
        # "loud" hears the two quiet ones still on stage, never itself
        assert loud.per_ssrc.get(own, 0) == own_at_switch
        assert sum(n for ssrc, n in loud.per_ssrc.items() if ssrc != own) > 2 * 40
    finally:
        await sfu.close()
    counts = assert_continuous(listener.rtp_log)
    assert len(counts) == 3  # no renegotiation: the same three slot SSRCs throughout


async def test_one_slot_two_speakers_taking_turns(
    clients: list[MediaSession], tones: dict[str, str]
) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK, slots=1)
    try:
        sfu.set_audible(ROOM, frozenset({"a", "b"}))
        a = await join(sfu, clients, "a", send_wav=tones["loud1"])
        b = await join(sfu, clients, "b")
        listener = await join(sfu, clients, "listener", record_rtp=True)
        await connected(a, b, listener)
        turns = [(a, "a"), (b, "b"), (a, "a")]
        for i, (talker, name) in enumerate(turns):
            if i:
                turns[i - 1][0].set_microphone(None)
                talker.set_microphone(tones[f"loud{i + 1}"])
            await wait_for(lambda name=name: sfu.slot_holders(ROOM) == [name], within=3.0)  # type: ignore[misc]
            heard = len(listener.rtp_log)
            await wait_for(lambda heard=heard: len(listener.rtp_log) > heard + 30)  # type: ignore[misc]
        assert sfu._rooms[ROOM].router.slots[0].generation == 3
        assert b.packets_received > 20  # b heard a, twice
    finally:
        await sfu.close()
    assert len(assert_continuous(listener.rtp_log)) == 1


async def test_muted_speaker_stops_at_once(clients: list[MediaSession], tones: dict[str, str]) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK, slots=3)
    try:
        sfu.set_audible(ROOM, frozenset({"x", "y"}))
        x = await join(sfu, clients, "x", send_wav=tones["loud0"])
        y = await join(sfu, clients, "y", send_wav=tones["loud1"])
        listener = await join(sfu, clients, "listener")
        await connected(x, y, listener)
        await wait_for(lambda: {"x", "y"} <= set(sfu.slot_holders(ROOM)))
        x_slot = sfu.slot_holders(ROOM).index("x")
        x_at_listener = sfu.slot_ssrcs(ROOM, "listener")[x_slot]
        x_at_y = sfu.slot_ssrcs(ROOM, "y")[x_slot]
        await wait_for(lambda: listener.per_ssrc.get(x_at_listener, 0) > 20 and y.per_ssrc.get(x_at_y, 0) > 20)

        sfu.set_audible(ROOM, frozenset({"y"}))  # x muted (or demoted)
        assert "x" not in sfu.slot_holders(ROOM)
        await asyncio.sleep(0.1)  # packets already in flight
        from_x = (listener.per_ssrc[x_at_listener], y.per_ssrc[x_at_y])
        counters = sfu.room_counters(ROOM)
        received = listener.packets_received + x.packets_received
        await asyncio.sleep(0.6)
        assert (listener.per_ssrc[x_at_listener], y.per_ssrc[x_at_y]) == from_x
        after = sfu.room_counters(ROOM)
        assert after["dropped"] - counters["dropped"] >= 20  # x keeps sending, all dropped
        # everything forwarded meanwhile is y's, to the listener and to x
        forwarded = after["forwarded"] - counters["forwarded"]
        assert abs(forwarded - (listener.packets_received + x.packets_received - received)) <= 4
        assert forwarded >= 2 * 20
    finally:
        await sfu.close()


async def test_speakers_hear_each_other_never_themselves(
    clients: list[MediaSession], tones: dict[str, str]
) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK, slots=3)
    names = ["a", "b", "c"]
    try:
        sfu.set_audible(ROOM, frozenset(names))
        speakers = {u: await join(sfu, clients, u, send_wav=tones[f"loud{i}"]) for i, u in enumerate(names)}
        listener = await join(sfu, clients, "listener")
        await connected(listener, *speakers.values())
        await wait_for(lambda: sorted(h or "" for h in sfu.slot_holders(ROOM)) == names)
        await wait_for(lambda: len(listener.per_ssrc) == 3 and min(listener.per_ssrc.values()) > 10)
        holders = sfu.slot_holders(ROOM)
        ssrcs = {u: sfu.slot_ssrcs(ROOM, u) for u in [*names, "listener"]}

        def snapshot() -> dict[str, list[int]]:
            sessions = {**speakers, "listener": listener}
            return {u: [s.per_ssrc.get(ssrc, 0) for ssrc in ssrcs[u]] for u, s in sessions.items()}

        totals = {u: s.packets_received for u, s in speakers.items()}
        before = snapshot()
        await asyncio.sleep(1.0)
        after = snapshot()
        assert sfu.slot_holders(ROOM) == holders
    finally:
        await sfu.close()
    heard = {u: [b - a for a, b in zip(before[u], after[u], strict=True)] for u in after}
    for u, session in speakers.items():
        own = holders.index(u)
        assert heard[u][own] == 0
        assert all(ssrc != ssrcs[u][own] for ssrc in session.per_ssrc)  # never, not just now
        assert len(session.per_ssrc) == 2
        for slot, count in enumerate(heard[u]):
            if slot != own:
                assert count > 35
                # the same stream as a pure listener gets (sampled a moment apart: a few packets of slack)
                assert abs(count - heard["listener"][slot]) <= max(5, count // 6)
        assert session.packets_received - totals[u] >= sum(heard[u])
