"""The benchmark baseline: aiortc's own pipeline (MediaRelay, encoded pass-through).

`parlor serve --media-engine relay`. Same offer shape as the fast Sfu (one recvonly
upstream m-line, then `slots` sendonly m-lines) and the same stage rule (only audible
speakers are forwarded, the loudest K by the RFC 6464 level, `slots.SlotRouter`), but
the fan-out is aiortc's: each admitted upstream packet becomes an encoded frame (an
`av.Packet` holding the Opus payload, pts = the RTP timestamp at 1/48000) pushed into
the room's source track for its slot; every listener's slot sender is a
`MediaRelay().subscribe(source, buffered=False)` proxy, and aiortc's RTCRtpSender packs
the pre-encoded packet into RTP, SRTP-protects it and sends it, one task per sender.

Known differences from the fast path, fine for a baseline: a speaker also receives
their own audio on their slot, and slot changes do not re-base sequence numbers
(aiortc's sender numbers its own packets; the timestamp follows the speaker's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from fractions import Fraction

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from av.packet import Packet
from av.stream import Stream

from parlor.media import aiortc_private as priv
from parlor.media import levels
from parlor.media.base import LevelsCallback, MediaError, MediaServer
from parlor.media.rtp import RTP_HEADER, forward_template, opus_dtx
from parlor.media.sdp import answer_problem, with_opus_fmtp
from parlor.media.slots import DEFAULT_IDLE_S, SlotRouter

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 48000)
SOURCE_QUEUE = 50  # frames a slot source holds before dropping the oldest (1 s of audio)
_LEVEL_EXT_BYTES = 8  # forward_template's one-byte audio-level extension block


class _SlotSource(MediaStreamTrack):
    """The encoded frames of whoever holds a slot, for MediaRelay to read."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[Packet[Stream]] = asyncio.Queue(SOURCE_QUEUE)

    def push(self, packet: Packet[Stream]) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> Packet[Stream]:
        return await self._queue.get()


@dataclass(eq=False)
class _Peer:
    room_id: str
    user_id: str
    pc: RTCPeerConnection
    upstream: RTCRtpTransceiver
    slot_transceivers: list[RTCRtpTransceiver]
    answered: bool = False


@dataclass(eq=False)
class _Room:
    room_id: str
    router: SlotRouter
    relay: MediaRelay
    sources: list[_SlotSource]
    peers: dict[str, _Peer] = field(default_factory=dict)
    audible: frozenset[str] = frozenset()
    levels: dict[str, int] = field(default_factory=dict)
    dropped: int = 0


def _packets_sent(sender: RTCRtpSender) -> int:
    # aiortc private: the sender's RTP packet counter (what its getStats() reports).
    return int(getattr(sender, "_RTCRtpSender__packet_count", 0))


class RelayEngine(MediaServer):
    def __init__(
        self,
        *,
        ice_hosts: tuple[str, ...] = (),
        on_levels: LevelsCallback | None = None,
        slots: int = 3,
        slot_idle_s: float = DEFAULT_IDLE_S,
        udp_ports: tuple[int, int] | None = None,
    ) -> None:
        self._ice_hosts = ice_hosts
        self._udp_ports = udp_ports
        self._on_levels = on_levels
        self._slots = slots
        self._slot_idle_s = slot_idle_s
        self._rooms: dict[str, _Room] = {}
        self._forwarded_closed = 0  # packets sent by peers already closed
        self._dropped_closed = 0
        self._ticker: asyncio.Task[None] | None = None

    # --- MediaServer ---------------------------------------------------------------

    async def open_peer(self, room_id: str, user_id: str) -> str:
        await self.close_peer(room_id, user_id)
        room = self._room(room_id)
        pc = RTCPeerConnection()
        try:
            upstream = pc.addTransceiver("audio", direction="recvonly")
            slot_ts = [
                pc.addTransceiver(room.relay.subscribe(source, buffered=False), direction="sendonly")
                for source in room.sources
            ]
            opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]
            for t in [upstream, *slot_ts]:
                t.setCodecPreferences(opus)
            offer = await pc.createOffer()
            with priv.advertise_hosts(self._ice_hosts), priv.udp_port_range(self._udp_ports):
                await pc.setLocalDescription(RTCSessionDescription(sdp=with_opus_fmtp(offer.sdp), type="offer"))
        except BaseException:
            await pc.close()
            raise
        peer = _Peer(room_id, user_id, pc, upstream, slot_ts)
        room.peers[user_id] = peer

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._forget(peer)

        if self._on_levels is not None and self._ticker is None:
            self._ticker = asyncio.ensure_future(self._report_levels())
        sdp: str = pc.localDescription.sdp
        return sdp

    async def accept_answer(self, room_id: str, user_id: str, sdp: str) -> None:
        room = self._rooms.get(room_id)
        peer = None if room is None else room.peers.get(user_id)
        if room is None or peer is None:
            raise MediaError("no media connection to answer")
        if peer.answered:
            raise MediaError("answer already applied")
        try:
            problem = answer_problem(sdp)
            if problem is not None:
                raise MediaError(f"invalid SDP answer: {problem}")
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            dtls = peer.upstream.receiver.transport
            if any(t.receiver.transport is not dtls for t in peer.slot_transceivers):
                raise MediaError("answer must bundle all m-lines")
            if priv.negotiated_payload_type(peer.slot_transceivers[0]) is None:
                raise MediaError("no common audio codec")
        except Exception as exc:
            await self.close_peer(room_id, user_id)
            if isinstance(exc, MediaError):
                raise
            raise MediaError("invalid SDP answer") from exc

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            self._on_rtp(room, peer, data)

        priv.hook_incoming_rtp(dtls, on_rtp)
        peer.answered = True

    def set_audible(self, room_id: str, user_ids: frozenset[str]) -> None:
        room = self._room(room_id)
        room.audible = user_ids
        room.router.retain(user_ids)

    async def close_peer(self, room_id: str, user_id: str) -> None:
        room = self._rooms.get(room_id)
        peer = None if room is None else room.peers.get(user_id)
        if peer is not None:
            await self._forget(peer)
            await peer.pc.close()

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        peers = list(room.peers.values())
        for peer in peers:
            await self._forget(peer)
        await asyncio.gather(*(p.pc.close() for p in peers), return_exceptions=True)
        self._rooms.pop(room_id, None)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for room_id in list(self._rooms):
            await self.close_room(room_id)

    def peer_count(self) -> int:
        return sum(len(room.peers) for room in self._rooms.values())

    def totals(self) -> dict[str, int]:
        forwarded = self._forwarded_closed + sum(
            _packets_sent(t.sender) for room in self._rooms.values() for p in room.peers.values()
            for t in p.slot_transceivers
        )
        dropped = self._dropped_closed + sum(room.dropped for room in self._rooms.values())
        return {"forwarded": forwarded, "dropped": dropped}

    # --- internals -----------------------------------------------------------------

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(
                room_id,
                SlotRouter(self._slots, self._slot_idle_s),
                MediaRelay(),
                [_SlotSource() for _ in range(self._slots)],
            )
        return room

    async def _forget(self, peer: _Peer) -> None:
        room = self._rooms.get(peer.room_id)
        if room is None or room.peers.get(peer.user_id) is not peer:
            return
        del room.peers[peer.user_id]
        self._forwarded_closed += sum(_packets_sent(t.sender) for t in peer.slot_transceivers)
        room.router.release(peer.user_id)
        room.levels.pop(peer.user_id, None)
        if not room.peers and not room.audible:
            self._dropped_closed += room.dropped
            del self._rooms[peer.room_id]
            for source in room.sources:
                source.stop()

    def _on_rtp(self, room: _Room, speaker: _Peer, data: bytes) -> None:
        user_id = speaker.user_id
        if user_id not in room.audible or room.peers.get(user_id) is not speaker:
            room.dropped += 1
            return
        parsed = forward_template(data, priv.AUDIO_LEVEL_EXT_ID)
        if parsed is None:
            return
        template, level_byte = parsed
        level = None if level_byte is None else level_byte & 0x7F
        if level is not None:
            previous = room.levels.get(user_id)
            if previous is None or level < previous:
                room.levels[user_id] = level
        index = room.router.route(user_id, time.monotonic(), level, opus_dtx(template))
        if index is None:
            room.dropped += 1
            return
        offset = RTP_HEADER + (_LEVEL_EXT_BYTES if level_byte is not None else 0)
        packet: Packet[Stream] = Packet(bytes(template[offset:]))
        packet.pts = int.from_bytes(data[4:8], "big")
        packet.time_base = TIME_BASE
        room.sources[index].push(packet)

    async def _report_levels(self) -> None:
        assert self._on_levels is not None
        await levels.report_forever(lambda: self._rooms.values(), self._on_levels)
