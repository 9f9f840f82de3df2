"""The embedded SFU against real aiortc clients over loopback."""

from __future__ import annotations

import asyncio
import os
import struct
import threading
from typing import Any

import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, speaker_and_listener, wait_for

from parlor.client.media import MediaSession
from parlor.media import aiortc_private as priv
from parlor.media.base import MediaError
from parlor.media.sfu import Sfu
from parlor.media.udp_mux import MuxProtocol

pytestmark = pytest.mark.media


async def test_speaker_heard_by_listeners_not_by_self(clients: list[MediaSession], tone_wav: str) -> None:
    levels: list[tuple[str, dict[str, float]]] = []
    sfu = Sfu(ice_hosts=LOOPBACK, on_levels=lambda room, lv: levels.append((room, lv)))
    try:
        sfu.set_audible(ROOM, frozenset({"speaker"}))
        speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
        a = await join(sfu, clients, "a")
        b = await join(sfu, clients, "b")
        await connected(speaker, a, b)
        await wait_for(lambda: a.frames_received > 20 and b.frames_received > 20)
        for listener in (a, b):
            stats = listener.stats()
            assert stats["packets"] > 20
            assert stats["bytes"] > 20 * 40
            assert stats["level"] > 0.05  # the tone is ~0.26 RMS; silence is 0
            assert len(stats["ssrcs"]) == 1
        assert speaker.packets_received == 0
        assert speaker.frames_received == 0
        assert sfu.peer_count() == 3
        reports = [lv for room, lv in levels if room == ROOM and lv.get("speaker", 0) > 0.5]
        assert reports
        assert all(set(lv) == {"speaker"} for _, lv in levels)
    finally:
        await sfu.close()


async def test_server_never_decodes(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    listener = await join(sfu, clients, "listener")
    pc = sfu.peer_connection(ROOM, "speaker")
    assert pc is not None
    receiver = pc.getTransceivers()[0].receiver
    seen: list[Any] = []
    original = receiver._handle_rtp_packet

    async def spy(packet: Any, arrival_time_ms: int) -> None:
        seen.append(packet)
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = spy  # type: ignore[method-assign]
    await connected(speaker, listener)
    await wait_for(lambda: listener.frames_received > 20)
    assert sfu.room_counters(ROOM)["forwarded"] > 20
    assert seen == []
    # no decoded frame ever reached the server-side track
    assert receiver.track._queue.qsize() == 0  # type: ignore[attr-defined]


async def test_mute_stops_and_unmute_resumes(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    _speaker, listener = await speaker_and_listener(sfu, clients, tone_wav)
    await wait_for(lambda: listener.packets_received > 10)

    sfu.set_audible(ROOM, frozenset())
    await asyncio.sleep(0.2)
    muted_at = listener.packets_received
    dropped_at = sfu.room_counters(ROOM)["dropped"]
    await asyncio.sleep(0.5)
    assert listener.packets_received == muted_at
    assert sfu.room_counters(ROOM)["dropped"] > dropped_at + 10

    sfu.set_audible(ROOM, frozenset({"speaker"}))
    await wait_for(lambda: listener.packets_received > muted_at + 10, within=1.0)


async def test_promoted_listener_starts_without_renegotiation(
    sfu: Sfu, clients: list[MediaSession], tone_wav: str
) -> None:
    promoted = await join(sfu, clients, "promoted")
    listener = await join(sfu, clients, "listener")
    await connected(promoted, listener)
    sfu.set_audible(ROOM, frozenset({"promoted"}))
    await asyncio.sleep(0.3)
    assert listener.packets_received == 0
    promoted.set_microphone(tone_wav)
    await wait_for(lambda: listener.frames_received > 10)
    promoted.set_microphone(None)
    await asyncio.sleep(0.2)
    stopped_at = listener.packets_received
    await asyncio.sleep(0.3)
    assert listener.packets_received == stopped_at


async def test_tampering_listener_is_heard_by_nobody(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    tamperer = await join(sfu, clients, "tamperer", send_wav=tone_wav)
    listener = await join(sfu, clients, "listener")
    await connected(speaker, tamperer, listener)
    await wait_for(lambda: listener.frames_received > 25)
    await asyncio.sleep(0.3)
    # the control speaker is heard, on one slot only ...
    assert tamperer.packets_received > 10
    assert len(listener.per_ssrc) == 1
    # ... the tamperer by nobody (the speaker only ever hears the tamperer)
    assert speaker.packets_received == 0
    assert sfu.room_counters(ROOM)["dropped"] > 10
    # tamperer and listener got the same stream
    assert abs(listener.packets_received - tamperer.packets_received) < 10


def _opus_rtp(seq: int, ts: int) -> bytes:
    """A speaker-like RTP packet: audio-level extension (level 20), 80 payload bytes."""
    header = struct.pack("!BBHII", 0x90, 111, seq, ts, 0x5EED0001)
    extension = struct.pack("!HHBBH", 0xBEDE, 1, priv.AUDIO_LEVEL_EXT_ID << 4, 0x80 | 20, 0)
    return header + extension + b"\x01" * 80


@pytest.mark.parametrize("udp_mux", [True, False], ids=["one-socket", "socket-per-peer"])
async def test_vanished_listener_does_not_stop_delivery(
    sfu: Sfu, clients: list[MediaSession], tone_wav: str, caplog: pytest.LogCaptureFixture, udp_mux: bool
) -> None:
    if not udp_mux:  # as Sfu(udp_mux=False) makes it (PARLOR_UDP_MUX=0)
        sfu._muxes = None
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    broken = await join(sfu, clients, "broken")
    gone = await join(sfu, clients, "gone")
    expired = await join(sfu, clients, "expired")
    healthy = await join(sfu, clients, "healthy")
    await connected(speaker, broken, gone, expired, healthy)
    await wait_for(lambda: broken.packets_received > 5 and healthy.packets_received > 5)
    start = healthy.packets_received
    await asyncio.sleep(1.0)
    rate_before = healthy.packets_received - start

    # the server's socket write to "broken" starts failing
    peer = sfu._peer(ROOM, "broken")
    assert peer is not None
    if sfu.fanout == "python":
        assert peer.sink is not None

        def failing_sendto(data: bytes, addr: Any) -> None:
            raise OSError("network is unreachable")

        peer.sink = peer.sink._replace(sendto=failing_sendto)
    else:
        # the C route's own descriptor now names something that is not a socket
        assert peer.route is not None and peer.route.fd >= 0
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, peer.route.fd)
        os.close(devnull)
    # "gone" vanishes: its socket closes without any goodbye
    gone_dtls = gone.pc.getTransceivers()[0].receiver.transport
    gone_dtls.transport._connection._nominated[1].protocol.transport.close()
    # the server's own side of "expired" closes (as when aioice's consent expires): on
    # the shared socket (media/udp_mux.py) the peer's protocol, which the fan-out must
    # see at once; on a socket of its own (PARLOR_UDP_MUX=0) that socket, which asyncio
    # would go on accepting writes for, dropping each with a warning
    expired_peer = sfu._peer(ROOM, "expired")
    assert expired_peer is not None
    expired_dtls = expired_peer.upstream.receiver.transport
    expired_protocol = expired_dtls.transport._connection._nominated[1].protocol
    muxed = isinstance(expired_protocol, MuxProtocol)
    if muxed:
        await expired_protocol.close()
    else:
        expired_protocol.transport.close()
    # ... before aiortc has noticed anything: the Python fan-out at the very next packet
    # (one packet of a speaker on another worker: it takes a slot of its own, so the
    # listeners' stream from "speaker" goes on undisturbed); the C fan-out, which sends
    # on its own copy of the socket, when the socket's close reaches aioice's protocol
    sfu.set_audible(ROOM, frozenset({"speaker", "relayed"}))
    sfu.deliver(ROOM, "relayed", _opus_rtp(seq=1, ts=960))
    if sfu.fanout == "c" and not muxed:
        assert sfu._peer(ROOM, "expired") is not None
        await asyncio.sleep(0)
    assert sfu._peer(ROOM, "expired") is None
    assert expired_peer.pc.connectionState == "connected"  # aiortc has not noticed yet

    before = healthy.packets_received
    await wait_for(lambda: healthy.packets_received > before + 25)
    await wait_for(lambda: sfu.peer_connection(ROOM, "broken") is None)
    assert not [r for r in caplog.records if "socket.send() raised exception" in r.getMessage()]
    start = healthy.packets_received
    await asyncio.sleep(1.0)
    rate_after = healthy.packets_received - start
    assert rate_before >= 45  # 50 packets/s
    assert abs(rate_after - rate_before) <= 0.1 * rate_before, (rate_before, rate_after)
    assert sfu.peer_connection(ROOM, "healthy") is not None
    assert speaker.connection_state == "connected"


async def test_invalid_answer_and_unknown_peer(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    _speaker, listener = await speaker_and_listener(sfu, clients, tone_wav)

    await sfu.open_peer(ROOM, "bad")
    with pytest.raises(MediaError):
        await sfu.accept_answer(ROOM, "bad", "this is not sdp")
    with pytest.raises(MediaError):
        await sfu.accept_answer(ROOM, "nobody", "v=0\r\n")
    with pytest.raises(MediaError):
        await sfu.accept_answer("no-room", "listener", "v=0\r\n")
    with pytest.raises(MediaError):  # an answer twice
        await sfu.accept_answer(ROOM, "listener", "v=0\r\n")
    assert sfu.peer_connection(ROOM, "bad") is None
    assert sfu.peer_count() == 2

    before = listener.packets_received
    await wait_for(lambda: listener.packets_received > before + 20)


async def test_close_leaves_nothing_behind(clients: list[MediaSession], tone_wav: str) -> None:
    def own_threads() -> int:
        return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())

    threads_before = own_threads()
    sfu = Sfu(ice_hosts=LOOPBACK, on_levels=lambda room, levels: None)
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    listener = await join(sfu, clients, "listener")
    await sfu.open_peer("other-room", "pending")  # offered, never answered
    await connected(speaker, listener)
    await wait_for(lambda: listener.packets_received > 5)
    pcs = [sfu.peer_connection(ROOM, u) for u in ("speaker", "listener")]
    pcs.append(sfu.peer_connection("other-room", "pending"))

    await sfu.close()
    assert sfu.peer_count() == 0
    assert all(pc is not None and pc.connectionState == "closed" for pc in pcs)
    for client in clients:
        await client.close()
    await asyncio.sleep(0.1)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # aiortc's decoder threads are gone (the loop's default executor may remain)
    await wait_for(lambda: own_threads() <= threads_before)


async def test_slot_sequence_and_timestamps_continuous_across_speaker_change(
    clients: list[MediaSession], tone_wav: str
) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK, slots=1)
    try:
        sfu.set_audible(ROOM, frozenset({"one", "two"}))
        one = await join(sfu, clients, "one", send_wav=tone_wav)
        two = await join(sfu, clients, "two", send_wav=tone_wav)
        listener = await join(sfu, clients, "listener", record_rtp=True)
        await connected(one, two, listener)
        await wait_for(lambda: len(listener.rtp_log) > 30)
        # one slot: whoever got it first keeps it while talking; the other is dropped
        first = "one" if two.packets_received > 0 else "two"
        second = "two" if first == "one" else "one"
        assert sfu.room_counters(ROOM)["dropped"] > 10
        at_change = len(listener.rtp_log)
        first_client = one if first == "one" else two
        heard_by_first = first_client.packets_received
        sfu.set_audible(ROOM, frozenset({second}))
        await wait_for(lambda: len(listener.rtp_log) > at_change + 30)
        # the slot now carries the other speaker: the first one hears it
        assert first_client.packets_received > heard_by_first + 10
        frames = listener.frames_received
        await wait_for(lambda: listener.frames_received > frames + 10)
    finally:
        await sfu.close()

    assert {r.ssrc for r in listener.rtp_log} == {listener.rtp_log[0].ssrc}
    for prev, cur in zip(listener.rtp_log, listener.rtp_log[1:], strict=False):
        assert (cur.seq - prev.seq) & 0xFFFF == 1
        step = (cur.ts - prev.ts) & 0xFFFFFFFF
        assert 0 < step < 48000, step
