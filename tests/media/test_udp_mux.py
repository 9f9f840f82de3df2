"""One UDP socket for all of the SFU's peers (media/udp_mux.py): real aiortc peers over
loopback, each on its own client socket, all reaching the node on one port."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from types import SimpleNamespace
from typing import Any

import aioice.stun as stun
import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, wait_for

from parlor.client.media import MediaSession
from parlor.media.sfu import Sfu
from parlor.media.udp_mux import MuxProtocol, UdpMuxes, stun_ufrag

pytestmark = pytest.mark.media


def _binding(username: str, key: bytes, cls: stun.Class = stun.Class.REQUEST) -> bytes:
    message = stun.Message(message_method=stun.Method.BINDING, message_class=cls, transaction_id=os.urandom(12))
    message.attributes["USERNAME"] = username
    message.attributes["PRIORITY"] = 1853817087
    message.attributes["ICE-CONTROLLING"] = 1
    message.add_message_integrity(key)
    return bytes(message)


def test_a_check_names_its_peer_and_nothing_else_does() -> None:
    assert stun_ufrag(_binding("node:peer", b"k" * 22)) == b"node"
    # a response, an RTP packet, a DTLS record, a truncated check: no peer named
    assert stun_ufrag(_binding("node:peer", b"k" * 22, stun.Class.RESPONSE)) is None
    assert stun_ufrag(struct.pack("!BBHII", 0x80, 111, 1, 960, 7) + b"\0" * 40) is None
    assert stun_ufrag(b"\x16\xfe\xfd" + b"\0" * 40) is None
    assert stun_ufrag(_binding("node:peer", b"k" * 22)[:24]) is None
    # a USERNAME without the colon is not a check's
    assert stun_ufrag(_binding("nodepeer", b"k" * 22)) is None
    # an attribute length that runs past the end is not followed
    broken = bytearray(_binding("node:peer", b"k" * 22))
    broken[22:24] = b"\xff\xff"
    assert stun_ufrag(bytes(broken)) is None


def _sfu_ports(sfu: Sfu) -> set[int]:
    ports = set()
    for room in sfu._rooms.values():
        for peer in room.peers.values():
            pair = peer.pc.getTransceivers()[0].receiver.transport.transport._connection._nominated.get(1)
            if pair is not None:
                ports.add(pair.local_candidate.port)
    return ports


def _offer_ports(sdp: str) -> set[int]:
    return {int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def _speaker_heard_by(sfu: Sfu, clients: list[MediaSession], tone_wav: str, n: int) -> list[MediaSession]:
    """An audible "speaker" and `n` listeners, connected and hearing it."""
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    listeners = [await join(sfu, clients, f"listener-{i}") for i in range(n)]
    await connected(speaker, *listeners)
    await wait_for(lambda: all(c.packets_received > 20 for c in listeners))
    return listeners


async def test_every_peer_is_on_one_socket_and_hears_the_speaker(tone_wav: str) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK)
    clients: list[MediaSession] = []
    try:
        listeners = await _speaker_heard_by(sfu, clients, tone_wav, 4)
        assert sfu._muxes is not None
        [(host, port)] = sfu._muxes.sockets()
        assert host == "127.0.0.1"
        assert _sfu_ports(sfu) == {port}
        # a newcomer's offer names the same port, and the node holds one UDP socket
        assert _offer_ports(await sfu.open_peer(ROOM, "newcomer")) == {port}
        assert _udp_sockets_bound_to(port) == 1
        # one listener leaves: the others go on hearing, the socket stays
        await sfu.close_peer(ROOM, "listener-0")
        before = [c.packets_received for c in listeners[1:]]
        await wait_for(lambda: all(c.packets_received > b + 20 for c, b in zip(listeners[1:], before, strict=True)))
        assert listeners[0].packets_received < before[0] + 5
    finally:
        for c in clients:
            await c.close()
        await sfu.close()
    await wait_for(lambda: _udp_sockets_bound_to(port) == 0)  # closed on the next loop turn


def _udp_sockets_bound_to(port: int) -> int:
    """UDP sockets of this process bound to `port` (from /proc/net/udp and our fds)."""
    inodes = set()
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                inodes.add(fields[9])
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    return len(inodes & ours)


async def test_one_port_of_the_range_serves_every_peer(tone_wav: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        first = probe.getsockname()[1]
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", first))
    sfu = Sfu(ice_hosts=LOOPBACK, udp_ports=(first, first + 1))
    clients: list[MediaSession] = []
    try:
        await _speaker_heard_by(sfu, clients, tone_wav, 3)
        # two ports in the range, one taken: four peers (more than the range) on the other
        assert _sfu_ports(sfu) == {first + 1}
    finally:
        busy.close()
        for c in clients:
            await c.close()
        await sfu.close()


async def test_strangers_on_the_shared_port_reach_nobody(tone_wav: str) -> None:
    sfu = Sfu(ice_hosts=LOOPBACK)
    clients: list[MediaSession] = []
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    stranger.settimeout(2.0)
    try:
        sfu.set_audible(ROOM, frozenset({"speaker"}))
        speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
        listener = await join(sfu, clients, "listener")
        await connected(speaker, listener)
        await wait_for(lambda: listener.packets_received > 20)
        assert sfu._muxes is not None
        [(host, port)] = sfu._muxes.sockets()
        mux = sfu._muxes._muxes[host]
        peer = sfu._peer(ROOM, "listener")
        assert peer is not None
        connection: Any = peer.pc.getTransceivers()[0].receiver.transport.transport._connection
        protocol = connection._nominated[1].protocol
        assert isinstance(protocol, MuxProtocol)
        claimed = set(protocol.addrs)
        loop = asyncio.get_running_loop()

        # RTP-looking junk from an address nobody claimed: dropped, counted
        unrouted = mux.unrouted
        stranger.sendto(struct.pack("!BBHII", 0x80, 111, 1, 960, 7) + b"\0" * 40, (host, port))
        await wait_for(lambda: mux.unrouted == unrouted + 1)
        # a check naming the listener's ufrag but signed with the wrong password: aioice
        # refuses it (401), and it claims nothing for the stranger
        check = _binding(f"{connection.local_username}:{connection.remote_username}", b"wrong-password-xxxxxxxx")
        stranger.sendto(check, (host, port))
        reply, _ = await loop.run_in_executor(None, stranger.recvfrom, 2048)
        assert stun.parse_message(reply).message_class == stun.Class.ERROR
        assert protocol.addrs == claimed
        assert stranger.getsockname() not in {a for p in mux._by_addr.values() for a in p.addrs}
        # a check naming nobody: no answer at all
        stranger.sendto(_binding("nobody:x", b"k" * 22), (host, port))
        await wait_for(lambda: mux.unrouted == unrouted + 2)
        # the listener never noticed
        before = listener.packets_received
        await wait_for(lambda: listener.packets_received > before + 20)
        # the peer leaves: its ufrag and addresses go with it
        await sfu.close_peer(ROOM, "listener")
        assert not mux.has_ufrag(connection.local_username.encode())
        assert not claimed & set(mux._by_addr)
    finally:
        stranger.close()
        for c in clients:
            await c.close()
        await sfu.close()


async def test_two_peers_never_share_a_ufrag() -> None:
    muxes = UdpMuxes()
    try:
        first = SimpleNamespace(local_username="abcd")
        second = SimpleNamespace(local_username="abcd")
        a = await muxes.protocol(first, 1, "127.0.0.1")
        b = await muxes.protocol(second, 1, "127.0.0.1")
        assert a is not None and b is not None
        assert first.local_username == "abcd" and second.local_username != "abcd"
        assert a.ufrag == b"abcd" and b.ufrag == second.local_username.encode()
        assert a.local_candidate.port == b.local_candidate.port
    finally:
        muxes.close()


def test_the_setting_turns_it_off() -> None:
    from parlor import settings

    assert settings.load({}).udp_mux is True
    assert settings.load({"PARLOR_UDP_MUX": "0"}).udp_mux is False
    assert Sfu(ice_hosts=LOOPBACK, udp_mux=False)._muxes is None
