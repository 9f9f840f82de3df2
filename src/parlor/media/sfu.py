"""The embedded SFU: aiortc for ICE/DTLS/SRTP set-up, our own loop for forwarding.

DESIGN §4 "fast path". The server offers: one recvonly audio m-line (the
participant's microphone), then `slots` sendonly m-lines whose sender tracks never
produce a frame. Decrypted upstream RTP is taken from the participant's DTLS
transport before aiortc parses it; for an audible speaker holding a slot, one
template packet is built and, for every other ready peer of the room, stamped with
that peer's slot SSRC / sequence / timestamp / payload type, SRTP-protected with the
peer's outbound session and sent on its nominated ICE pair, synchronously.

Which speakers hold the slots is `slots.SlotRouter`'s call (the loudest K).

The per-listener loop exists twice, doing the same: in C (media/_fanout.c, built by
`pip install`, the default) and in Python (`_fan_out` below: the fallback, and the
reference the tests hold the C loop to). The C loop sends on its own dup() of each
listener's socket; docs/BENCHMARKS.md has both measured.

aiortc does ICE, DTLS and SRTP set-up and nothing else: no sender or receiver of a
peer's connection is ever started (`aiortc_private.never_start`), so there is no RTCP
sender-report loop for the slots (its reports would not match the packets we write),
no receiver-report loop and decoder thread for the upstream, and a peer's incoming
RTCP is dropped off its socket once connected (nothing reads it). The node is an
ICE-lite agent (`aiortc_private.ice_lite`): it answers the peer's connectivity and
consent checks and sends none; a peer whose checks stop for
`aiortc_private.CONSENT_EXPIRY_S` is ended by one watchdog per Sfu (`_watch_consent`),
as a lost consent ends it. What an idle peer still costs is answering its checks and
its DTLS transport's idle task.

The seam for multi-process media workers: a packet from a local peer is admitted
(`_on_rtp`: the speaker is audible), fanned out to the local peers (`_fan_out`) and
then handed to `on_upstream` as received; a worker relays it, and the other worker
calls `deliver`, which admits it against its own audible set and fans it out there.
Levels for `on_levels` are reported only by the worker that has the speaker's peer
(its origin), so a speaker relayed to several workers is reported once; delivered
packets still feed the slot router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiortc import (
    MediaStreamTrack,
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from av.frame import Frame

from parlor.media import aiortc_private as priv
from parlor.media import levels
from parlor.media.base import LevelsCallback, MediaError, MediaServer
from parlor.media.rtp import (
    ENCRYPTED_DTX_TOC,
    STAMP,
    dtx_template,
    forward_template,
    opus_dtx,
    opus_ok,
    rtp_payload,
    sframe_ok,
)
from parlor.media.sdp import OPUS_FMTP, OPUS_FMTP_NO_DTX, answer_problem, with_opus_fmtp
from parlor.media.slots import ACTIVE_BELOW_LEVEL, DEFAULT_IDLE_S, SILENT_LEVEL, SlotRouter
from parlor.media.udp_mux import UdpMuxes

try:  # the C inner loop (media/_fanout.c); the Python loop below does the same, slower
    from parlor.media import _fanout as c_fanout

    C_FANOUT_BUILT = True
except ImportError:  # pragma: no cover - built by `pip install`; absent from a bare checkout
    C_FANOUT_BUILT = False

logger = logging.getLogger(__name__)

FANOUTS = ("auto", "c", "python")

# room_id, speaker_id, decrypted RTP as received from a local, audible speaker
UpstreamCallback = Callable[[str, str, bytes], None]
_TS_MASK = 0xFFFFFFFF
_MIN_TS_GAP = 960  # 20 ms at 48 kHz, between two speakers on one slot
_FRAME_TS = 960  # one 20 ms Opus frame at 48 kHz
# A holder's own numbering is discontinuous (a restarted or replaced sender) when its
# timestamp runs backwards, or ahead of the time that passed by more than this:
_TS_AHEAD_S = 1.0
_SEQ_JUMP = 1000
# A talker refused a slot this recently is waiting for it: a holder's frame of digital
# silence (its microphone switched off) then hands the slot over (`_fan_out`).
_WAITING_S = 0.06
_FRAME_S = 0.02
# A new holder whose first packet comes this soon after the slot's last one (not a DTX
# packet) takes the turn: its first frame is stamped one frame after the last, so the
# listener's stream has no hole to conceal (`_SlotOut.rebase`).
_TURN_S = 0.06


class _SilentTrack(MediaStreamTrack):
    """A sender track that never yields a frame (and its aiortc sender is never started)."""

    kind = "audio"

    async def recv(self) -> Frame:
        await asyncio.Future()
        raise AssertionError("unreachable")


class _Sink(NamedTuple):
    protect: Callable[[bytes | bytearray], bytes]
    sendto: Callable[[bytes, Any], None]
    addr: Any
    is_closing: Callable[[], bool]


class _SlotOut:
    """One listener's view of one slot: its SSRC and the running seq/ts mapping."""

    __slots__ = ("generation", "last_seq", "last_time", "last_ts", "seq_offset", "ssrc",
                 "ts_offset")

    def __init__(self, ssrc: int) -> None:
        self.ssrc = ssrc
        self.generation = 0
        self.seq_offset = 0
        self.ts_offset = 0
        self.last_seq = random.getrandbits(16)
        self.last_ts = random.getrandbits(32)
        self.last_time = time.monotonic()

    def rebase(self, generation: int, in_seq: int, in_ts: int, now: float, turn: bool) -> None:
        since = now - self.last_time
        if turn and since < _TURN_S * 2:
            gap = _FRAME_TS  # a turn: the next frame of the same stream
        else:  # a new spurt after a pause: real time, in whole frames
            gap = max(_MIN_TS_GAP, int(max(since, 0.0) * 48000 / _FRAME_TS + 0.5) * _FRAME_TS)
        self.seq_offset = (self.last_seq + 1 - in_seq) & 0xFFFF
        self.ts_offset = (self.last_ts + gap - in_ts) & _TS_MASK
        self.generation = generation


@dataclass(eq=False)
class _Peer:
    room_id: str
    user_id: str
    pc: RTCPeerConnection
    upstream: RTCRtpTransceiver
    slot_transceivers: list[RTCRtpTransceiver]
    answered: bool = False
    failed: bool = False
    expiring: bool = False  # its consent expired: its ICE connection is being closed
    shortcut: bool = False  # RTCP dropped, consent answered at the socket (aiortc_private.shortcut_datagrams)
    payload_type: int = 0
    upstream_pt: int = -1  # the payload type its own packets must carry (negotiated Opus)
    outs: list[_SlotOut] = field(default_factory=list)
    sink: _Sink | None = None  # the Python fan-out's
    route: Any = None  # the C fan-out's (_fanout.Route)

    def _ready(self) -> tuple[Any, priv.Nominated] | None:
        """(outbound SRTP session, nominated ICE pair) once DTLS, SRTP and the pair are
        all there, else None."""
        if not self.answered or self.failed:
            return None
        dtls = self.upstream.receiver.transport
        if dtls.state != "connected":
            return None
        srtp = priv.outbound_srtp(dtls)
        nominated = priv.nominated_sendto(dtls)
        if srtp is None or nominated is None:
            return None
        return srtp, nominated

    def try_route(self) -> Any:
        """The C fan-out's route, once the peer is ready."""
        ready = self._ready()
        if ready is None:
            return None
        srtp, nominated = ready
        pointers = priv.fanout_srtp(srtp)
        if pointers is None:
            raise RuntimeError("pylibsrtp's srtp_protect is not the one the C fan-out knows")
        self.route = c_fanout.Route(
            self.user_id,
            nominated.socket.fileno(),
            nominated.addr[0],
            nominated.addr[1],
            *pointers,
            srtp,
            self.payload_type,
            [out.ssrc for out in self.outs],
            [out.last_seq for out in self.outs],
            [out.last_ts for out in self.outs],
            time.monotonic(),
        )
        return self.route

    def try_sink(self) -> _Sink | None:
        """The Python fan-out's sink, once the peer is ready."""
        ready = self._ready()
        if ready is None:
            return None
        srtp, nominated = ready
        self.sink = _Sink(priv.lean_protect(srtp), nominated.sendto, nominated.addr, nominated.is_closing)
        return self.sink


class _Tail(NamedTuple):
    """A slot's last forwarded packet: its template and input numbering, and whose."""

    template: bytearray
    seq: int
    ts: int
    time: float
    ssrc: bytes
    user_id: str
    dtx: bool
    generation: int


@dataclass(eq=False)
class _Room:
    room_id: str
    router: SlotRouter
    peers: dict[str, _Peer] = field(default_factory=dict)
    audible: frozenset[str] = frozenset()
    levels: dict[str, int] = field(default_factory=dict)  # loudest level in the window
    forwarded: int = 0  # packets written to listeners
    dropped: int = 0  # upstream packets not forwarded (not audible / no slot)
    malformed: int = 0  # upstream packets dropped as not RTP / not Opus / wrong payload type
    # end-to-end encrypted (docs/E2EE.md): payloads are SFrame frames the server cannot
    # read; admission checks their shape, and inserted DTX frames carry a fixed TOC
    encrypted: bool = False
    tails: dict[int, _Tail] = field(default_factory=dict)  # slot index -> its last packet
    waiting_since: float = -1.0  # when a talker was last refused a slot
    # slot index -> how far its stream runs ahead of real time (s), from turns stamped a
    # frame apart; a pause re-bases on real time and clears it
    leads: dict[int, float] = field(default_factory=dict)
    # the C fan-out's: routes of ready peers, and answered peers not yet ready
    routes: list[Any] = field(default_factory=list)
    unrouted: dict[str, _Peer] = field(default_factory=dict)


class Sfu(MediaServer):
    def __init__(
        self,
        *,
        ice_hosts: tuple[str, ...] = (),
        slots: int = 3,
        on_levels: LevelsCallback | None = None,
        slot_idle_s: float = DEFAULT_IDLE_S,
        on_upstream: UpstreamCallback | None = None,
        fanout: str = "auto",
        udp_ports: tuple[int, int] | None = None,
        dtx: bool = True,
        udp_mux: bool = True,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        if fanout not in FANOUTS:
            raise ValueError(f"fanout must be one of {FANOUTS}")
        if fanout == "c" and not (C_FANOUT_BUILT and slots <= c_fanout.MAX_SLOTS):
            raise ValueError("the C fan-out (parlor.media._fanout) is not built or takes at most 16 slots")
        # C when built: the same loop without the interpreter's per-listener cost
        use_c = fanout != "python" and C_FANOUT_BUILT and slots <= c_fanout.MAX_SLOTS
        self.fanout = "c" if use_c else "python"
        self._ice_hosts = ice_hosts
        self._udp_ports = udp_ports
        # one UDP socket per ICE host address for every peer (media/udp_mux.py)
        self._muxes = UdpMuxes(udp_ports) if udp_mux else None
        self._slots = slots
        self._opus_fmtp = OPUS_FMTP if dtx else OPUS_FMTP_NO_DTX
        self._slot_idle_s = slot_idle_s
        self._on_levels = on_levels
        self._on_upstream = on_upstream
        self._rooms: dict[str, _Room] = {}
        self._encrypted: set[str] = set()
        self._closed_forwarded = 0
        self._closed_dropped = 0
        self._closed_malformed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._consent_watchdog: asyncio.Task[None] | None = None

    # --- MediaServer ---------------------------------------------------------------

    async def open_peer(self, room_id: str, user_id: str) -> str:
        await self.close_peer(room_id, user_id)
        pc = RTCPeerConnection()
        try:
            upstream = pc.addTransceiver("audio", direction="recvonly")
            slot_ts = [
                pc.addTransceiver(_SilentTrack(), direction="sendonly")
                for _ in range(self._slots)
            ]
            opus = [
                c
                for c in RTCRtpSender.getCapabilities("audio").codecs
                if c.mimeType.lower() == "audio/opus"
            ]
            for t in [upstream, *slot_ts]:
                t.setCodecPreferences(opus)
                # the fast path reads upstream RTP off the DTLS transport and writes the
                # slots' RTP itself: aiortc's sender/receiver machinery would only idle
                priv.never_start(t)
            # the browser checks and keeps consent; the node answers (cheaper per peer)
            priv.ice_lite(pc)
            offer = await pc.createOffer()
            with (
                priv.advertise_hosts(self._ice_hosts),
                priv.udp_port_range(self._udp_ports),
                priv.udp_mux(self._muxes),
            ):
                await pc.setLocalDescription(
                    RTCSessionDescription(sdp=with_opus_fmtp(offer.sdp, self._opus_fmtp), type="offer")
                )
        except BaseException:
            await pc.close()
            raise
        peer = _Peer(room_id, user_id, pc, upstream, slot_ts)
        room = self._room(room_id)
        room.peers[user_id] = peer

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self._shortcut(peer)
            elif pc.connectionState in ("failed", "closed"):
                self._drop(peer)

        self._ensure_ticker()
        if self._consent_watchdog is None:
            self._consent_watchdog = asyncio.ensure_future(self._watch_consent())
        sdp: str = pc.localDescription.sdp
        return sdp

    async def accept_answer(self, room_id: str, user_id: str, sdp: str) -> None:
        peer = self._peer(room_id, user_id)
        if peer is None:
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
            payload_type = priv.negotiated_payload_type(peer.slot_transceivers[0])
            if payload_type is None:
                raise MediaError("no common audio codec")
        except Exception as exc:
            logger.info("invalid answer from %s in %s: %s", user_id, room_id, exc)
            await self.close_peer(room_id, user_id)
            if isinstance(exc, MediaError):
                raise
            raise MediaError("invalid SDP answer") from exc
        peer.payload_type = payload_type
        peer.upstream_pt = priv.negotiated_payload_type(peer.upstream) or payload_type
        peer.outs = [
            _SlotOut(priv.sender_ssrc(t.sender)) for t in peer.slot_transceivers
        ]

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            self._on_rtp(peer, data)

        priv.hook_incoming_rtp(dtls, on_rtp)
        priv.drop_incoming_rtcp(dtls)
        peer.answered = True
        if self.fanout == "c":
            self._room(room_id).unrouted[user_id] = peer
        if peer.pc.connectionState == "connected":
            self._shortcut(peer)

    def set_encrypted(self, room_id: str, encrypted: bool) -> None:
        if encrypted:
            self._encrypted.add(room_id)
        else:
            self._encrypted.discard(room_id)
        room = self._rooms.get(room_id)
        if room is not None:
            room.encrypted = encrypted

    def set_audible(self, room_id: str, user_ids: frozenset[str]) -> None:
        room = self._room(room_id)
        room.audible = user_ids
        for index, holder in enumerate(room.router.holders()):
            if holder is not None and holder not in user_ids:
                self._end_spurt(room, index)
        room.router.retain(user_ids)

    async def close_peer(self, room_id: str, user_id: str) -> None:
        peer = self._peer(room_id, user_id)
        if peer is not None:
            self._drop(peer)
            await peer.pc.close()

    async def close_room(self, room_id: str) -> None:
        self._encrypted.discard(room_id)
        room = self._rooms.pop(room_id, None)
        if room is not None:
            self._retire(room)
            peers = list(room.peers.values())
            room.peers.clear()
            for peer in peers:
                peer.failed = True
            self._release_routes(room)
            await asyncio.gather(*(p.pc.close() for p in peers))

    async def close(self) -> None:
        for task in (self._ticker, self._consent_watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ticker = self._consent_watchdog = None
        for room_id in list(self._rooms):
            await self.close_room(room_id)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._muxes is not None:
            self._muxes.close()

    def peer_count(self) -> int:
        return sum(len(room.peers) for room in self._rooms.values())

    def totals(self) -> dict[str, int]:
        # Counts of closed rooms are kept, so the totals only ever grow (Prometheus counters).
        forwarded, dropped = self._closed_forwarded, self._closed_dropped
        malformed = self._closed_malformed
        for room in self._rooms.values():
            forwarded += room.forwarded
            dropped += room.dropped
            malformed += room.malformed
        return {"forwarded": forwarded, "dropped": dropped, "malformed": malformed}

    # --- multi-process workers -------------------------------------------------------

    def deliver(self, room_id: str, speaker_id: str, rtp: bytes) -> None:
        """Fan out a speaker packet that arrived from another worker to this worker's local peers.

        Checks the room's audible set (drop if the speaker isn't audible here), feeds
        the slot router exactly like a local packet, never calls on_upstream (no relay
        loops). The speaker's levels are not reported here: their origin worker does.
        """
        room = self._rooms.get(room_id)
        if room is None:
            return
        if speaker_id not in room.audible:
            room.dropped += 1
            return
        self._fan_out(room, speaker_id, room.peers.get(speaker_id), rtp, False)

    def local_peers(self, room_id: str) -> int:
        """Peers of that room on this Sfu."""
        room = self._rooms.get(room_id)
        return 0 if room is None else len(room.peers)

    # --- introspection (tests, metrics) ----------------------------------------------

    def room_counters(self, room_id: str) -> dict[str, int]:
        room = self._rooms.get(room_id)
        if room is None:
            return {"forwarded": 0, "dropped": 0, "malformed": 0}
        return {"forwarded": room.forwarded, "dropped": room.dropped, "malformed": room.malformed}

    def peer_connection(self, room_id: str, user_id: str) -> RTCPeerConnection | None:
        peer = self._peer(room_id, user_id)
        return None if peer is None else peer.pc

    def slot_holders(self, room_id: str) -> list[str | None]:
        room = self._rooms.get(room_id)
        return [None] * self._slots if room is None else room.router.holders()

    def slot_ssrcs(self, room_id: str, user_id: str) -> list[int]:
        """The SSRC each slot has on that peer's connection (empty until answered)."""
        peer = self._peer(room_id, user_id)
        return [] if peer is None else [out.ssrc for out in peer.outs]

    # --- internals ---------------------------------------------------------------

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(
                room_id, SlotRouter(self._slots, self._slot_idle_s), encrypted=room_id in self._encrypted
            )
        return room

    def _peer(self, room_id: str, user_id: str) -> _Peer | None:
        room = self._rooms.get(room_id)
        return None if room is None else room.peers.get(user_id)

    def _retire(self, room: _Room) -> None:
        self._closed_forwarded += room.forwarded
        self._closed_dropped += room.dropped
        self._closed_malformed += room.malformed

    def _drop(self, peer: _Peer) -> None:
        """Stop forwarding to and from `peer`; close its connection in the background."""
        peer.failed = True
        peer.sink = None
        room = self._rooms.get(peer.room_id)
        if peer.route is not None:
            if room is not None and peer.route in room.routes:
                room.routes.remove(peer.route)
            peer.route.close()
            peer.route = None
        if room is None or room.peers.get(peer.user_id) is not peer:
            return
        room.unrouted.pop(peer.user_id, None)
        del room.peers[peer.user_id]
        index = room.router.slot_of(peer.user_id)
        if index is not None:
            self._end_spurt(room, index)
        room.router.release(peer.user_id)
        room.levels.pop(peer.user_id, None)
        if not room.peers and not room.audible:
            self._retire(self._rooms.pop(peer.room_id))
            self._release_routes(room)
        if peer.pc.connectionState != "closed":
            task = asyncio.ensure_future(peer.pc.close())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _shortcut(peer: _Peer) -> None:
        """Once connected: nothing reads a peer's RTCP (its receiver reports of the slots,
        a speaker's sender reports), so drop it before aioice and aiortc touch it; and
        answer its consent checks without aioice (media/consent.py)."""
        if peer.answered and not peer.shortcut:
            peer.shortcut = priv.shortcut_datagrams(peer.upstream.receiver.transport)

    def _on_rtp(self, speaker: _Peer, data: bytes) -> None:
        """Admission of a local peer's packet, local fan-out, then the relay hook."""
        room = self._rooms.get(speaker.room_id)
        user_id = speaker.user_id
        if room is None or speaker.failed or user_id not in room.audible:
            if room is not None:
                room.dropped += 1
            return
        # A speaker's packets reach every listener's decoder: only well-formed Opus in
        # the negotiated payload type goes on (the others are counted, in /metrics). In
        # an encrypted room: only what can be an SFrame frame (or a DTX frame in clear).
        bounds = rtp_payload(data)
        well_formed = sframe_ok if room.encrypted else opus_ok
        if (
            bounds is None
            or bounds[0] != speaker.upstream_pt
            or not well_formed(memoryview(data)[bounds[1] : bounds[2]])
        ):
            room.malformed += 1
            return
        self._fan_out(room, user_id, speaker, data, True)
        if self._on_upstream is not None:
            try:
                self._on_upstream(room.room_id, user_id, data)
            except Exception:
                logger.exception("on_upstream failed for %s in %s", user_id, room.room_id)

    def _fan_out(
        self, room: _Room, user_id: str, speaker: _Peer | None, data: bytes, local: bool
    ) -> None:
        """Forward an admitted packet of `user_id` to every ready peer of the room but
        `speaker` (the user's own peer here, if any). `local`: record its level."""
        parsed = forward_template(data, priv.AUDIO_LEVEL_EXT_ID)
        if parsed is None:
            return
        template, level_byte = parsed
        now = time.monotonic()
        level: int | None = None
        if level_byte is not None:
            level = level_byte & 0x7F
            if local:
                previous = room.levels.get(user_id)
                if previous is None or level < previous:
                    room.levels[user_id] = level
        dtx = opus_dtx(template)
        index = room.router.route(user_id, now, level, dtx)
        if index is None:
            room.dropped += 1
            if not dtx and (level is None or level < ACTIVE_BELOW_LEVEL):
                room.waiting_since = now
            return
        tail = room.tails.get(index)
        lead = room.leads.get(index, 0.0)
        if level == SILENT_LEVEL and not dtx and now - room.waiting_since <= _WAITING_S:
            # The holder's microphone went off while another talker waits: the slot is
            # theirs from the next packet, which will be stamped one frame after the
            # slot's last (no hole for the listener to conceal). The waiting talker's
            # frames come every 20 ms, so its next one is due at a known time: forward
            # this frame of silence, or not, whichever leaves the stream nearer real
            # time (the choice keeps each turn within half a frame and the error from
            # adding up over turns; docs/BENCHMARKS.md, "Speech quality").
            due = room.waiting_since + _FRAME_S * max(1, math.ceil((now - room.waiting_since) / _FRAME_S - 1e-6))
            if tail is not None:
                after_last = lead + _FRAME_S - (due - tail.time)
                after_silence = lead + _FRAME_S - (due - now)
                if abs(after_last) <= abs(after_silence):
                    room.dropped += 1
                    return
        marker = data[1] & 0x80
        in_seq = (data[2] << 8) | data[3]
        in_ts = int.from_bytes(data[4:8], "big")
        ssrc = data[8:12]
        if tail is not None and tail.user_id == user_id and _discontinuous(tail, ssrc, in_seq, in_ts, now):
            room.router.rebase(index)
        generation = room.router.slots[index].generation
        turn = False
        if tail is None or tail.generation != generation:
            turn = tail is not None and not tail.dtx and now - tail.time < _TURN_S
            room.leads[index] = (lead + _FRAME_S - (now - tail.time)) if turn and tail is not None else 0.0
        room.tails[index] = _Tail(template, in_seq, in_ts, now, ssrc, user_id, dtx, generation)
        self._send(room, speaker, index, generation, template, marker, in_seq, in_ts, now, turn)

    def _end_spurt(self, room: _Room, index: int) -> None:
        """The slot's holder stops (muted, demoted, gone): send its listeners one Opus
        DTX packet in the stream's own numbering, so their jitter buffers play comfort
        noise until the slot's next packet instead of concealing a loss all along."""
        tail = room.tails.pop(index, None)
        if tail is None or room.router.slots[index].holder != tail.user_id:
            return
        template = dtx_template(tail.template, ENCRYPTED_DTX_TOC if room.encrypted else None)
        if template is None:
            return
        now = time.monotonic()
        steps = max(1, round((now - tail.time) * 48000 / _FRAME_TS))  # in real time, whole frames
        self._send(
            room, room.peers.get(tail.user_id), index, room.router.slots[index].generation, template, 0,
            (tail.seq + 1) & 0xFFFF, (tail.ts + steps * _FRAME_TS) & _TS_MASK, now, False,
        )

    def _send(
        self,
        room: _Room,
        speaker: _Peer | None,
        index: int,
        generation: int,
        template: bytearray,
        marker: int,
        in_seq: int,
        in_ts: int,
        now: float,
        turn: bool,
    ) -> None:
        """Stamp, protect and send one packet of slot `index` to every ready peer but
        `speaker`. `turn`: a new holder takes over the slot's stream without a pause."""
        if self.fanout == "c":
            self._fan_out_c(room, speaker, index, generation, template, marker, in_seq, in_ts, now, turn)
            return
        broken: list[_Peer] = []
        for listener in room.peers.values():
            if listener is speaker:
                continue
            sink = listener.sink or listener.try_sink()
            if sink is None:
                continue
            out = listener.outs[index]
            if out.generation != generation:
                out.rebase(generation, in_seq, in_ts, now, turn)
            seq = (in_seq + out.seq_offset) & 0xFFFF
            ts = (in_ts + out.ts_offset) & _TS_MASK
            STAMP.pack_into(template, 1, marker | listener.payload_type, seq, ts, out.ssrc)
            try:
                if sink.is_closing():
                    raise ConnectionError("ICE transport closed")
                sink.sendto(sink.protect(template), sink.addr)
            except Exception as exc:
                logger.info("dropping listener %s in %s: %r", listener.user_id, room.room_id, exc)
                broken.append(listener)
                continue
            out.last_seq, out.last_ts, out.last_time = seq, ts, now
            room.forwarded += 1
        for listener in broken:
            self._drop(listener)

    def _fan_out_c(
        self,
        room: _Room,
        speaker: _Peer | None,
        index: int,
        generation: int,
        template: bytearray,
        marker: int,
        in_seq: int,
        in_ts: int,
        now: float,
        turn: bool,
    ) -> None:
        """The same loop as the Python one above, in media/_fanout.c."""
        if room.unrouted:
            for peer in list(room.unrouted.values()):
                route = peer.try_route()
                if route is not None:
                    del room.unrouted[peer.user_id]
                    room.routes.append(route)
                    self._watch_socket(peer)
        skip = speaker.route if speaker is not None else None
        sent, failed = c_fanout.fan_out(
            room.routes, skip, index, generation, template, marker, in_seq, in_ts, now, turn
        )
        room.forwarded += sent
        for route in failed:
            logger.info("dropping listener %s in %s: send failed", route.key, room.room_id)
            owner = room.peers.get(route.key)
            if owner is not None and owner.route is route:
                self._drop(owner)
            else:  # pragma: no cover - a route always belongs to a peer of its room
                room.routes.remove(route)
                route.close()

    def _watch_socket(self, peer: _Peer) -> None:
        """Drop `peer` as soon as aioice closes its socket: the route's own copy of the
        socket would otherwise keep sending to the address until aiortc noticed."""
        dtls: RTCDtlsTransport = peer.upstream.receiver.transport
        priv.on_socket_closed(dtls, lambda: self._drop(peer))

    async def _watch_consent(self) -> None:
        """End every peer whose ICE checks stopped (RFC 7675 consent expiry): one sweep
        over all peers every sixth of the expiry, instead of a timer per peer."""
        while True:
            await asyncio.sleep(priv.CONSENT_EXPIRY_S / 6)
            # in a method of its own: loop variables here would keep the last peer alive
            self._sweep_consent(time.monotonic())

    def _sweep_consent(self, now: float) -> None:
        for room in list(self._rooms.values()):
            for peer in list(room.peers.values()):
                if not peer.expiring and priv.consent_expired(peer.upstream.receiver.transport, now):
                    logger.info("consent expired for %s in %s", peer.user_id, room.room_id)
                    peer.expiring = True
                    task = asyncio.ensure_future(self._expire(peer))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _expire(self, peer: _Peer) -> None:
        # Closing the ICE connection sets off what a lost consent always did: the socket
        # closes (the C fan-out's watch drops the peer), then the connection fails
        # (`on_state` drops it). _drop again in case neither had run: a no-op if one did.
        await priv.expire_consent(peer.upstream.receiver.transport)
        self._drop(peer)

    @staticmethod
    def _release_routes(room: _Room) -> None:
        for route in room.routes:
            route.close()
        room.routes.clear()
        room.unrouted.clear()

    def _ensure_ticker(self) -> None:
        if self._on_levels is not None and self._ticker is None:
            self._ticker = asyncio.ensure_future(self._report_levels())

    async def _report_levels(self) -> None:
        assert self._on_levels is not None
        await levels.report_forever(lambda: self._rooms.values(), self._on_levels)


def _discontinuous(tail: _Tail, ssrc: bytes, in_seq: int, in_ts: int, now: float) -> bool:
    """Whether a holder's packet breaks its own numbering: another SSRC, a big sequence
    jump, or a timestamp that runs backwards or far ahead of real time (a sender that
    restarted its stream, e.g. on a replaced track). The slot is then re-based on
    real time, as for a new holder; otherwise the listener's jitter buffer would see
    the jump and stretch or conceal over it."""
    if ssrc != tail.ssrc:
        return True
    dseq = (in_seq - tail.seq) & 0xFFFF
    if dseq >= 0x8000:  # an older packet, reordered: it fits the current mapping
        return False
    if dseq > _SEQ_JUMP:
        return True
    dts = (in_ts - tail.ts) & _TS_MASK
    if dts >= 0x80000000:  # backwards
        return True
    return dts > (now - tail.time + _TS_AHEAD_S) * 48000
