"""The node as an ICE-lite agent (issue 13): it answers the peers' checks and sends none;
a peer whose checks stop is ended once its consent expires (RFC 7675)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioice.ice
import aioice.stun
import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, wait_for

from parlor.client.media import MediaSession
from parlor.media import aiortc_private as priv
from parlor.media.sfu import Sfu

pytestmark = pytest.mark.media


def _connections(pc: Any) -> list[Any]:
    transports = {id(t.receiver.transport.transport): t.receiver.transport.transport for t in pc.getTransceivers()}
    return [t._connection for t in transports.values()]


def _count_stun_in(client: MediaSession) -> dict[str, int]:
    """Wrap every socket of the client's ICE connections: count the STUN binding requests
    and responses that arrive (from the node: the only other party on them)."""
    seen = {"requests": 0, "responses": 0}
    for connection in _connections(client.pc):
        for protocol in connection._protocols:
            inner = protocol.datagram_received

            def datagram_received(data: bytes, addr: Any, inner: Any = inner) -> None:
                try:
                    message = aioice.stun.parse_message(data)
                except ValueError:
                    pass
                else:
                    if message.message_method == aioice.stun.Method.BINDING:
                        if message.message_class == aioice.stun.Class.REQUEST:
                            seen["requests"] += 1
                        elif message.message_class == aioice.stun.Class.RESPONSE:
                            seen["responses"] += 1
                inner(data, addr)

            protocol.datagram_received = datagram_received
    return seen


async def test_node_is_ice_lite_and_sends_no_checks(
    sfu: Sfu, clients: list[MediaSession], tone_wav: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the clients' consent checks every ~0.2 s: a node that stopped answering them would
    # lose its clients within the test (aioice gives up after 6 unanswered)
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    listener = MediaSession(ice_hosts=LOOPBACK)
    clients.append(listener)
    offer = await sfu.open_peer(ROOM, "listener")
    assert "a=ice-lite" in offer.split("\r\nm=")[0].splitlines()  # session level
    answer = await listener.answer(offer)
    stun_at_listener = _count_stun_in(listener)  # before the node has the answer
    await sfu.accept_answer(ROOM, "listener", answer)
    await connected(speaker, listener)
    await wait_for(lambda: listener.frames_received > 20)
    await asyncio.sleep(2.0)  # ~10 consent checks of the listener's

    assert stun_at_listener["requests"] == 0
    assert stun_at_listener["responses"] >= 8  # its checks, nomination and consent, answered
    assert listener.connection_state == speaker.connection_state == "connected"
    assert all(c.ice_controlling for c in _connections(listener.pc))  # the browser's role
    node_pc = sfu.peer_connection(ROOM, "listener")
    assert node_pc is not None
    for connection in _connections(node_pc):
        assert not connection.ice_controlling
        assert connection._query_consent_task is None
        assert all(pair.task is None for pair in connection._check_list)
    # once connected, its consent checks are answered at the socket (media/consent.py)
    assert priv.consent_answered(node_pc.getTransceivers()[0].receiver.transport) >= 5
    frames = listener.frames_received
    await wait_for(lambda: listener.frames_received > frames + 20)


async def test_peer_whose_checks_stop_is_dropped(
    sfu: Sfu, clients: list[MediaSession], tone_wav: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(priv, "CONSENT_EXPIRY_S", 1.5)  # before the Sfu's watchdog starts
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    healthy = await join(sfu, clients, "healthy")
    gone = await join(sfu, clients, "gone")
    await connected(speaker, healthy, gone)
    await wait_for(lambda: healthy.frames_received > 10 and gone.frames_received > 10)
    gone_node_pc = sfu.peer_connection(ROOM, "gone")
    assert gone_node_pc is not None

    # "gone" stops its consent checks and says nothing else (its RTCP still flows)
    stopped = time.monotonic()
    for connection in _connections(gone.pc):
        connection._query_consent_task.cancel()
    await wait_for(lambda: sfu.peer_connection(ROOM, "gone") is None, within=4.0)
    elapsed = time.monotonic() - stopped
    # its last check was at most one client interval (0.24 s) before it stopped
    assert elapsed > 1.5 - 0.3, elapsed
    await wait_for(lambda: gone_node_pc.connectionState == "closed")

    # the others, whose checks go on, stay, and media goes on
    assert sfu.peer_connection(ROOM, "healthy") is not None
    assert sfu.peer_connection(ROOM, "speaker") is not None
    frames = healthy.frames_received
    await asyncio.sleep(1.0)
    await wait_for(lambda: healthy.frames_received > frames + 25)
    assert healthy.connection_state == speaker.connection_state == "connected"
    assert sfu.peer_count() == 2


async def test_peer_that_never_checks_is_dropped(
    sfu: Sfu, clients: list[MediaSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the answer arrives but the peer never checks (closed before): no pair is ever
    # nominated, and the node gives up after the expiry, counted from the answer
    monkeypatch.setattr(priv, "CONSENT_EXPIRY_S", 1.0)
    silent = MediaSession(ice_hosts=LOOPBACK)
    clients.append(silent)
    answer = await silent.answer(await sfu.open_peer(ROOM, "silent"))
    await silent.close()
    await sfu.accept_answer(ROOM, "silent", answer)
    node_pc = sfu.peer_connection(ROOM, "silent")
    assert node_pc is not None
    await wait_for(lambda: sfu.peer_connection(ROOM, "silent") is None, within=3.0)
    await wait_for(lambda: node_pc.connectionState == "closed")
