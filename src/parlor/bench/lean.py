"""Bench peers: join through the real node, then bypass aiortc for RTP (DESIGN §4).

A peer joins like any client (REST join, socket hello, `media.start`, an answer to the
server's offer: the first m-line, the upstream microphone, answered sendonly with no
track), lets aiortc do ICE, DTLS and SRTP key set-up, and then:

- receiving: RTP is SRTP-unprotected (verified) straight off the nominated ICE pair's
  socket with the peer's inbound session, counted, and its latency sampled from the
  send time carried in the payload; STUN and DTLS still go to aioice / aiortc (whose
  own senders and receivers are never started: a bench peer sends no RTCP).
  Two ways: `hook_receiver` replaces the pair's `datagram_received` (one event-loop
  callback per packet; used for the speakers' echo), and `SocketPoller` takes the
  sockets off the event loop and drains all of them with one `epoll` every few
  milliseconds (the generator processes). Polling halves the generator's cost per
  packet and, as nobody sleeps on those sockets, the node's `sendto` never pays for
  waking a receiver. Arrival times are the kernel's (SO_TIMESTAMPNS), so polling
  adds nothing to the measured latency.
- sending (synthetic speakers): RTP built here, protected with the peer's outbound SRTP
  session and written with a synchronous `sendto` on the nominated pair, as the fast
  path does on the server.
- signalling (`subscribe=True`, the bench's default): the peer keeps its socket open
  and subscribed to the room, as a browser tab does (join, hello, subscribe, media;
  then read and parse every message, ack events every 20 or within a second, ping at
  the server's heartbeat), and counts what arrives (`SignalStats`). Without it a peer
  closes its socket once media is up, and the node is started with a long reconnect
  grace so it is not reaped (bench/node.py).

The aiortc / aioice internals used on the receive side (`_rx_srtp`, the nominated
pair's protocol) are reached here; the send side reuses `parlor.media.aiortc_private`.

Payload tail (last 16 bytes of every synthetic packet, little-endian): send time
(CLOCK_MONOTONIC ns), packet index, window flag (0 warm-up, 1 measured), speaker
number, magic.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from parlor import protocol as p
from parlor.bench.seed import Member
from parlor.e2ee import SFrameSender
from parlor.media import aiortc_private as priv

LOOPBACK = ("127.0.0.1",)
TAIL = struct.Struct("<qIBBH")
MAGIC = 0xB3C4
PAYLOAD_BYTES = 80
# An encrypted speaker's Opus frame before encryption: 81 bytes, so that its SFrame frame
# (6-8 byte header for epoch 1, + 16-byte tag) has an odd length. A node whose media
# plane was not told the room is encrypted (MediaServer.set_encrypted) checks payloads as
# Opus; the header byte of an odd-length frame reads as a well-formed TOC either way.
SFRAME_PLAIN_BYTES = 81
FRAME_TICKS = 960  # 20 ms at 48 kHz
SIGNAL_TIMEOUT_S = 60.0


class JoinError(Exception):
    pass


@dataclass
class RxStats:
    """Everything one generator process's listeners received, in flat arrays."""

    listeners: int
    counts: list[int] = field(default_factory=list)  # measured packets per listener
    first_rx: list[float] = field(default_factory=list)  # monotonic time of the first packet, 0 = none
    latency_us: array = field(default_factory=lambda: array("i"))  # type: ignore[type-arg]
    warmup: int = 0
    errors: int = 0  # SRTP unprotect failures (authentication, replay)
    foreign: int = 0  # verified RTP without our tail

    def __post_init__(self) -> None:
        self.counts = [0] * self.listeners
        self.first_rx = [0.0] * self.listeners

    def take(self, index: int, data: bytes, unprotect: Callable[[bytes], bytes]) -> int | None:
        """Verify and count one SRTP datagram of listener `index`: the send time (ns) it
        carries if it is a measured packet, else None."""
        try:
            packet = unprotect(data)
        except Exception:
            self.errors += 1
            return None
        n = len(packet)
        if n < 28:
            self.foreign += 1
            return None
        sent_ns, _index, flag, _speaker, magic = TAIL.unpack_from(packet, n - 16)
        if magic != MAGIC:
            self.foreign += 1
            return None
        if not self.first_rx[index]:
            self.first_rx[index] = time.monotonic()
        if flag != 1:
            self.warmup += 1
            return None
        self.counts[index] += 1
        return int(sent_ns)


def _is_rtp(data: bytes) -> bool:
    """RTP, not RTCP, STUN or DTLS (RFC 5761 / RFC 7983)."""
    return 127 < data[0] < 192 and not 191 < data[1] < 209


@dataclass
class SignalStats:
    """What one process's peers' sockets received (subscribed peers only)."""

    messages: int = 0
    bytes: int = 0
    events: int = 0  # queued events (room.state, room.you, hallway.changed, ...)
    speaking: int = 0  # "who is speaking" messages
    sent: int = 0  # acks and pings written
    closed: int = 0  # sockets the server closed
    # sockets whose last `room.you` put them in the room and that are still open: what
    # makes "subscribed" true of a run, not merely asked for
    in_room: int = 0

    def snapshot(self) -> dict[str, int]:
        return {
            "in_room": self.in_room,
            "messages": self.messages,
            "bytes": self.bytes,
            "events": self.events,
            "speaking": self.speaking,
            "sent": self.sent,
            "closed": self.closed,
        }


ACK_EVERY_N = 20  # as the web client (web/static/socket.js)
ACK_EVERY_S = 1.0


class Signalling:
    """A peer's socket kept open and subscribed, read as a browser reads it."""

    def __init__(self, ws: Any, stats: SignalStats, heartbeat_s: float) -> None:
        self.ws = ws
        self.stats = stats
        self.heartbeat_s = heartbeat_s
        self.last_event = 0
        self._acked = 0
        self._unacked_since: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_room = False

    def _set_in_room(self, in_room: bool) -> None:
        if in_room != self._in_room:
            self._in_room = in_room
            self.stats.in_room += 1 if in_room else -1

    def take(self, text: str | bytes) -> p.Message:
        """Count and parse one message; ack events as the web client does."""
        stats = self.stats
        stats.messages += 1
        stats.bytes += len(text)
        message = p.parse_server(text)
        if isinstance(message, p.Event):
            stats.events += 1
            if message.name == "room.you":
                self._set_in_room(message.data.get("participant") is not None)
            self.last_event = message.id
            if self._unacked_since is None:
                self._unacked_since = time.monotonic()
            if self.last_event - self._acked >= ACK_EVERY_N:
                self._ack()
        elif isinstance(message, p.Speaking):
            stats.speaking += 1
        return message

    def _ack(self) -> None:
        self._unacked_since = None
        if self.last_event > self._acked:
            self._acked = self.last_event
            self.stats.sent += 1
            task = asyncio.ensure_future(self.ws.send(p.Ack(self.last_event).to_json()))
            task.add_done_callback(_ignore_result)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        next_ping = time.monotonic() + self.heartbeat_s
        try:
            while True:
                # wake at least once a second: a pending ack goes out within ACK_EVERY_S
                try:
                    async with asyncio.timeout(ACK_EVERY_S):
                        text = await self.ws.recv()
                    self.take(text)
                except TimeoutError:
                    pass
                now = time.monotonic()
                if self._unacked_since is not None and now - self._unacked_since >= ACK_EVERY_S:
                    self._ack()
                if now >= next_ping:
                    next_ping = now + self.heartbeat_s
                    self.stats.sent += 1
                    await self.ws.send(p.Ping().to_json())
        except websockets.ConnectionClosed:
            self.stats.closed += 1
            self._set_in_room(False)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set_in_room(False)
        await self.ws.close()


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass
class Peer:
    member: Member
    pc: RTCPeerConnection
    started: float  # monotonic, when the join began
    connected_at: float = 0.0
    signalling: Signalling | None = None  # the kept socket, when subscribed

    async def close(self) -> None:
        if self.signalling is not None:
            await self.signalling.close()
        await self.pc.close()


async def connect(
    base_url: str,
    http: httpx.AsyncClient,
    member: Member,
    room_id: str,
    *,
    join: bool = True,
    subscribe: SignalStats | None = None,
    on_connected: Callable[[Peer], None] | None = None,
) -> Peer:
    """Join the room (REST) and get media up over the socket. With `subscribe` (where to
    count what arrives) the socket stays open and subscribed; without, it is closed."""
    started = time.monotonic()
    auth = {"Authorization": f"Bearer {member.token}"}
    if join:
        r = await http.post(f"/api/rooms/{room_id}/join", headers=auth)
        if r.status_code >= 400:
            raise JoinError(f"join {member.username}: {r.status_code} {r.text}")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer = Peer(member, pc, started)
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected" and not connected.is_set():
            peer.connected_at = time.monotonic()
            if on_connected is not None:
                on_connected(peer)
        if pc.connectionState in ("connected", "failed", "closed"):
            connected.set()

    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    ws: Any = None
    try:
        async with asyncio.timeout(SIGNAL_TIMEOUT_S):
            ws = await websockets.connect(ws_url, additional_headers=auth, max_size=2**20)
            await ws.send(p.Hello().to_json())
            welcome = p.parse_server(await ws.recv())
            if not isinstance(welcome, p.Welcome):
                raise JoinError(f"expected welcome, got {welcome.TYPE}")
            signalling = None
            if subscribe is not None:
                signalling = Signalling(ws, subscribe, welcome.heartbeat_s)
                await ws.send(p.Subscribe(room_id).to_json())
            await ws.send(p.MediaStart(room_id).to_json())
            offer = await _offer(ws, signalling)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            transceivers = pc.getTransceivers()
            transceivers[0].direction = "sendonly"
            for transceiver in transceivers:
                # RTP is read and written here (below), never by aiortc: its senders'
                # and receivers' RTCP loops and decoder threads would only load the
                # generator (and send the node reports nobody reads)
                priv.never_start(transceiver)
            answer = await pc.createAnswer()
            with priv.advertise_hosts(LOOPBACK):
                await pc.setLocalDescription(answer)
            await ws.send(p.MediaAnswer(room_id, pc.localDescription.sdp).to_json())
            if signalling is not None:
                signalling.start()  # reads from here on, while media connects
            await connected.wait()
            if signalling is None:
                await ws.close()
            peer.signalling = signalling
    except BaseException:
        if ws is not None:
            await ws.close()
        await pc.close()
        raise
    if pc.connectionState != "connected":
        await peer.close()
        raise JoinError(f"{member.username}: media connection {pc.connectionState}")
    return peer


async def _offer(ws: Any, signalling: Signalling | None) -> str:
    while True:
        text = await ws.recv()
        message = signalling.take(text) if signalling is not None else p.parse_server(text)
        if isinstance(message, p.MediaOffer):
            return message.sdp
        if isinstance(message, p.Error):
            if message.ref == "media.start":
                raise JoinError(f"media.start refused: {message.code} {message.message}")
            if message.ref == "subscribe":
                raise JoinError(f"subscribe refused: {message.code} {message.message}")


def _dtls(pc: RTCPeerConnection) -> Any:
    return pc.getTransceivers()[0].receiver.transport


def hook_receiver(pc: RTCPeerConnection, stats: RxStats, index: int) -> None:
    """Take over RTP reception of a connected peer (see the module docstring)."""
    dtls = _dtls(pc)
    unprotect = dtls._rx_srtp.unprotect
    protocol = dtls.transport._connection._nominated[1].protocol
    original = protocol.datagram_received
    record = stats.latency_us.append

    def datagram_received(data: bytes, addr: Any) -> None:
        if not _is_rtp(data):
            original(data, addr)
            return
        sent_ns = stats.take(index, data, unprotect)
        if sent_ns is not None:
            record((time.monotonic_ns() - sent_ns) // 1000)

    protocol.datagram_received = datagram_received


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_ANC_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)


class SocketPoller:
    """Drains the generator's listener sockets every `interval` s with one epoll (see
    the module docstring). Needs asyncio's selector event loop (not uvloop): a socket
    is taken off that loop's selector, a private reach of asyncio's."""

    def __init__(self, stats: RxStats, interval: float = 0.004) -> None:
        self.stats = stats
        self.interval = interval
        self._epoll = select.epoll()
        # fd -> (socket, unprotect, listener index, the protocol for non-RTP datagrams)
        self._socks: dict[int, tuple[socket.socket, Callable[[bytes], bytes], int, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, pc: RTCPeerConnection, index: int) -> None:
        dtls = _dtls(pc)
        protocol = dtls.transport._connection._nominated[1].protocol
        sock: socket.socket = protocol.transport._sock
        fd = sock.fileno()
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        asyncio.get_running_loop()._remove_reader(fd)  # type: ignore[attr-defined]
        self._socks[fd] = (sock, dtls._rx_srtp.unprotect, index, protocol)
        self._epoll.register(fd, select.EPOLLIN)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for fd in list(self._socks):
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        self._socks.clear()
        self._epoll.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.poll()

    def poll(self) -> None:
        stats, record, unpack_ts = self.stats, self.stats.latency_us.append, _TIMESPEC.unpack_from
        # kernel arrival stamps are CLOCK_REALTIME, send times CLOCK_MONOTONIC
        offset_ns = time.time_ns() - time.monotonic_ns()
        for fd, _events in self._epoll.poll(0):
            entry = self._socks.get(fd)
            if entry is None:
                continue
            sock, unprotect, index, protocol = entry
            while True:
                try:
                    data, ancdata, _flags, addr = sock.recvmsg(2048, _ANC_SPACE)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # closed under us
                    self._socks.pop(fd, None)
                    break
                if not _is_rtp(data):
                    protocol.datagram_received(data, addr)
                    continue
                sent_ns = stats.take(index, data, unprotect)
                if sent_ns is None:
                    continue
                if ancdata:
                    sec, nsec = unpack_ts(ancdata[0][2])
                    arrived_ns = sec * 1_000_000_000 + nsec - offset_ns
                else:  # pragma: no cover - the kernel always stamps once asked
                    arrived_ns = time.monotonic_ns()
                record((arrived_ns - sent_ns) // 1000)


class Speaker:
    """A synthetic speaker: Opus-sized packets at 50/s carrying their send time."""

    def __init__(self, peer: Peer, number: int, level: int = 30) -> None:
        self.peer = peer
        self.number = number
        dtls = _dtls(peer.pc)
        srtp = priv.outbound_srtp(dtls)
        nominated = priv.nominated_sendto(dtls)
        payload_type = priv.negotiated_payload_type(peer.pc.getTransceivers()[0])
        if srtp is None or nominated is None or payload_type is None:
            raise JoinError("speaker transport not ready")
        self._protect = srtp.protect
        self._sendto, self._addr = nominated.sendto, nominated.addr
        self._pt = payload_type
        self._ssrc = 0x5EED0000 + number
        self._seq = number * 1000
        self._ts = number * 100_000
        level_ext = bytes((0xBE, 0xDE, 0, 1, (priv.AUDIO_LEVEL_EXT_ID << 4) | 0, 0x80 | level, 0, 0))
        self._header_tail = level_ext
        self._filler = bytes(PAYLOAD_BYTES - TAIL.size)
        # end-to-end encrypted rooms (issue 14): each payload a real SFrame frame (header,
        # AES-GCM of an Opus-sized frame, 16-byte tag), the tag's 16 bytes then carrying
        # the bench's tail (nobody here decrypts). None: plain Opus-sized payloads.
        self.sframe: SFrameSender | None = None
        self._sframe_plain = bytes([0x78]) + bytes(SFRAME_PLAIN_BYTES - 1)
        self.flag = 0  # window flag written into each packet
        self.sent = 0
        self.sent_measured = 0
        self.late = 0  # measured packets sent more than 5 ms after their slot
        self._task: asyncio.Task[None] | None = None

    def packet(self, index: int) -> bytes:
        header = struct.pack("!BBHII", 0x90, self._pt, self._seq & 0xFFFF, self._ts & 0xFFFFFFFF, self._ssrc)
        tail = TAIL.pack(time.monotonic_ns(), index, self.flag, self.number, MAGIC)
        if self.sframe is not None:
            frame = self.sframe.encrypt(self._sframe_plain)
            return header + self._header_tail + frame[: -TAIL.size] + tail
        return header + self._header_tail + self._filler + tail

    def send_one(self) -> None:
        self._sendto(self._protect(self.packet(self.sent)), self._addr)
        if self.flag == 1:
            self.sent_measured += 1
        self.sent += 1
        self._seq += 1
        self._ts += FRAME_TICKS

    def start(self, offset_s: float = 0.0) -> None:
        self._task = asyncio.ensure_future(self._run(offset_s))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self, offset_s: float) -> None:
        """A steady 50/s against absolute time: a late wake-up sends what is due (no drift)."""
        start = time.monotonic() + offset_s
        due = 0
        while True:
            now = time.monotonic()
            while start + due * 0.02 <= now:
                if self.flag == 1 and now - (start + due * 0.02) > 0.005:
                    self.late += 1
                self.send_one()
                due += 1
            await asyncio.sleep(start + due * 0.02 - time.monotonic())
