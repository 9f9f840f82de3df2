"""What the SFU leaves running per peer: none of aiortc's media machinery (DESIGN §4).

The fast path reads upstream RTP off the DTLS transport and writes the slots' RTP
itself, so aiortc's senders and receivers are never started: no sender reports for
the slots (they would not match what we write), no receiver reports, no decoder
thread, and peers' RTCP is dropped as it comes off the socket.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from media_helpers import ROOM, connected, join, speaker_and_listener, wait_for

from parlor.client.media import MediaSession
from parlor.media import aiortc_private as priv
from parlor.media.sfu import Sfu

pytestmark = pytest.mark.media


def _is_rtcp(data: bytes) -> bool:
    return len(data) > 1 and 127 < data[0] < 192 and 191 < data[1] < 224


def _nominated_protocol(pc: Any) -> Any:
    return pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1].protocol


def _count_rtcp_in(protocol: Any) -> list[int]:
    """Wrap a protocol's datagram_received (outermost): count the RTCP that reaches it."""
    seen = [0]
    inner = protocol.datagram_received

    def datagram_received(data: bytes, addr: Any) -> None:
        if _is_rtcp(data):
            seen[0] += 1
        inner(data, addr)

    protocol.datagram_received = datagram_received
    return seen


def _rtcp_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "").endswith("._run_rtcp")]


async def test_no_media_machinery_per_peer(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    _speaker, listener = await speaker_and_listener(sfu, clients, tone_wav)
    await wait_for(lambda: listener.frames_received > 10)
    for user in ("speaker", "listener"):
        pc = sfu.peer_connection(ROOM, user)
        assert pc is not None
        transceivers = pc.getTransceivers()
        assert len(transceivers) == 4  # upstream + 3 slots
        for t in transceivers:
            assert not priv.sender_started(t.sender)
            assert not priv.receiver_started(t.receiver)
    # the clients' senders and receivers (in this process too) run the only RTCP
    # loops and decoder threads there are
    client_parts = {id(part) for c in clients for t in c.pc.getTransceivers() for part in (t.sender, t.receiver)}
    tasks = _rtcp_tasks()
    assert tasks  # the clients' own
    for task in tasks:
        owner = task.get_coro().cr_frame.f_locals.get("self")  # type: ignore[union-attr]
        assert id(owner) in client_parts
    decoders = [t for t in threading.enumerate() if t.name.endswith("-decoder")]
    started = sum(priv.receiver_started(t.receiver) for c in clients for t in c.pc.getTransceivers())
    assert len(decoders) == started


def _count_rtcp_out(protocol: Any) -> list[int]:
    """Wrap a protocol's send_data: count the RTCP its peer connection sends."""
    sent = [0]
    inner = protocol.send_data

    async def send_data(data: bytes, addr: Any) -> None:
        if _is_rtcp(data):
            sent[0] += 1
        await inner(data, addr)

    protocol.send_data = send_data
    return sent


async def test_server_sends_no_rtcp_and_drops_peers_rtcp(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    speaker, listener = await speaker_and_listener(sfu, clients, tone_wav)
    await wait_for(lambda: listener.frames_received > 5)

    # what the listener gets from the server: RTP, no RTCP (no sender reports for
    # the slots, whose aiortc senders never sent a packet)
    at_listener = _count_rtcp_in(_nominated_protocol(listener.pc))
    # what the clients send: aiortc reports every 0.5-1.5 s (speaker: SR; listener:
    # SR of its idle upstream sender and RR of the slot it hears)
    sent = [_count_rtcp_out(_nominated_protocol(c.pc)) for c in (speaker, listener)]
    # what reaches the server's Python: nothing; the kernel drops it at the socket
    # (media/socket_filter.py), so neither aioice nor aiortc's DTLS transport sees one
    server_pcs = [sfu.peer_connection(ROOM, u) for u in ("speaker", "listener")]
    arrived: list[list[int]] = []
    reached_dtls = [0]
    for pc in server_pcs:
        assert pc is not None
        arrived.append(_count_rtcp_in(_nominated_protocol(pc)))
        dtls = pc.getTransceivers()[0].receiver.transport

        async def handle_rtcp(data: bytes) -> None:
            reached_dtls[0] += 1

        dtls._handle_rtcp_data = handle_rtcp
    packets = listener.packets_received
    # a window holding two reports from each client and a second of media (aiortc may send
    # its two reports in under a second)
    await wait_for(lambda: all(n[0] >= 2 for n in sent), within=6.0)
    await wait_for(lambda: listener.packets_received > packets + 50, within=6.0)  # media kept flowing
    assert [n[0] for n in arrived] == [0, 0]
    assert reached_dtls[0] == 0
    assert at_listener[0] == 0
    assert speaker.connection_state == listener.connection_state == "connected"


async def test_listener_promoted_after_idle_is_heard(sfu: Sfu, clients: list[MediaSession], tone_wav: str) -> None:
    # a listener that sat idle (no receiver started on the server) is heard once on stage
    promoted = await join(sfu, clients, "promoted")
    listener = await join(sfu, clients, "listener")
    await connected(promoted, listener)
    await asyncio.sleep(1.5)  # long enough for RTCP both ways, had there been any
    pc = sfu.peer_connection(ROOM, "promoted")
    assert pc is not None
    assert not priv.receiver_started(pc.getTransceivers()[0].receiver)
    sfu.set_audible(ROOM, frozenset({"promoted"}))
    promoted.set_microphone(tone_wav)
    await wait_for(lambda: listener.frames_received > 25)
    assert listener.stats()["level"] > 0.05
    assert not priv.receiver_started(pc.getTransceivers()[0].receiver)
