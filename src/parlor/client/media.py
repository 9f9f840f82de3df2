"""The Python client's media side: answer the server's offer, send a WAV, count what arrives.

Imports nothing of Parlor but `parlor.protocol` and, for end-to-end encrypted rooms,
the client's `e2ee` (on `parlor.e2ee`'s primitives), so the client is usable alone.
Unlike the server, the client uses aiortc normally (it decodes what it receives);
three small reaches into aiortc internals are marked below.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import struct
import time
import wave
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aioice.ice
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from parlor.client.e2ee import FrameCrypto, is_rtcp, rtp_payload_bounds

logger = logging.getLogger(__name__)

LEVEL_WINDOW_S = 1.0

# --- ICE host addresses ----------------------------------------------------------
# aioice never advertises 127.0.0.1. To run over loopback (tests, a load generator on
# the same box) a session can advertise exactly `ice_hosts` instead. This wraps
# aioice.ice.get_host_addresses (a private aioice function) once; the wrapper reads a
# context variable that is only set while this module gathers candidates.

_ice_hosts: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "parlor_client_ice_hosts", default=None
)
_hosts_installed = False


@contextlib.contextmanager
def _advertise_hosts(hosts: tuple[str, ...]) -> Iterator[None]:
    global _hosts_installed
    if not _hosts_installed:
        original = aioice.ice.get_host_addresses

        def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            override = _ice_hosts.get()
            if override:
                return list(override)
            result: list[str] = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
            return result

        aioice.ice.get_host_addresses = get_host_addresses
        _hosts_installed = True
    token = _ice_hosts.set(hosts or None)
    try:
        yield
    finally:
        _ice_hosts.reset(token)


# --- microphone from a WAV file ----------------------------------------------------


class WavTrack(MediaStreamTrack):
    """A 16-bit PCM WAV file as a live audio track: 20 ms frames, real-time paced, looping."""

    kind = "audio"

    def __init__(self, path: str) -> None:
        super().__init__()
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
            self._rate = w.getframerate()
            self._channels = w.getnchannels()
            self._pcm = w.readframes(w.getnframes())
        if self._channels not in (1, 2):
            raise ValueError(f"{path}: only mono or stereo WAV is supported")
        self._frame_samples = self._rate // 50
        self._bytes_per_sample = 2 * self._channels
        if len(self._pcm) < self._bytes_per_sample:
            raise ValueError(f"{path}: empty WAV")
        self._pos = 0
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self._pts / self._rate - now
            if wait > 0:
                await asyncio.sleep(wait)
        want = self._frame_samples * self._bytes_per_sample
        chunk = b""
        while len(chunk) < want:
            take = self._pcm[self._pos : self._pos + want - len(chunk)]
            chunk += take
            self._pos = (self._pos + len(take)) % len(self._pcm)
        frame = AudioFrame(
            format="s16",
            layout="mono" if self._channels == 1 else "stereo",
            samples=self._frame_samples,
        )
        frame.planes[0].update(chunk)
        frame.sample_rate = self._rate
        frame.pts = self._pts
        frame.time_base = Fraction(1, self._rate)
        self._pts += self._frame_samples
        return frame


# --- the session ---------------------------------------------------------------------


@dataclass
class RtpRecord:
    ssrc: int
    seq: int
    ts: int
    pt: int
    arrived: float = 0.0  # time.monotonic() when it came


_HEADER = struct.Struct("!BBHII")


class MediaSession:
    """One client peer connection answering the server's offer.

    The offer's first m-line is the upstream (microphone); the others are the
    listener slots. `send_wav` publishes a looping WAV file as the microphone.
    A listener that sets it anyway is the "tampering listener": the server must
    forward nothing from it.
    """

    def __init__(
        self,
        *,
        send_wav: str | None = None,
        ice_hosts: tuple[str, ...] = (),
        record_rtp: bool = False,
        ice_servers: list[dict[str, Any]] | None = None,
        relay_only: bool = False,
        e2ee: FrameCrypto | None = None,
    ) -> None:
        self.send_wav = send_wav
        # An encrypted room's frame crypto (client/e2ee.py): outgoing Opus payloads are
        # SFrame-encrypted, incoming ones decrypted or dropped. None: a plain room.
        self.e2ee = e2ee
        # record_frames: keep the Opus payloads our encoder produced (`sent_frames`,
        # before encryption) and those that arrived (`received_frames`: (ssrc, seq,
        # payload) as the server forwarded them, before decryption); tests compare them.
        self.record_frames = False
        self.sent_frames: list[bytes] = []
        self.received_frames: list[tuple[int, int, bytes]] = []
        self._ice_hosts = ice_hosts
        # TURN servers from GET /api/media/ice-servers ({urls, username, credential})
        servers = [
            RTCIceServer(urls=x["urls"], username=x.get("username"), credential=x.get("credential"))
            for x in ice_servers or []
        ]
        # relay_only: connect through TURN or not at all (checks a TURN set-up)
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.packets_received = 0
        self.bytes_received = 0
        self.per_ssrc: dict[int, int] = {}
        self.record_rtp = record_rtp
        self.rtp_log: list[RtpRecord] = []
        self.frames_received = 0
        self.energy = 0.0  # sum over decoded frames of mean square (0..1) x seconds
        self._levels: deque[tuple[float, float]] = deque()

        @self._pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.ensure_future(self._consume(track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def pc(self) -> RTCPeerConnection:
        return self._pc

    @property
    def connection_state(self) -> str:
        state: str = self._pc.connectionState
        return state

    async def answer(self, offer_sdp: str) -> str:
        """Apply the server's offer and return the complete (non-trickle) answer."""
        pc = self._pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        transceivers = pc.getTransceivers()
        if not transceivers:
            raise ValueError("offer has no audio m-line")
        upstream = transceivers[0]
        upstream.direction = "sendonly"
        if self.send_wav is not None:
            upstream.sender.replaceTrack(WavTrack(self.send_wav))
        self._hook_rtp_counter(upstream.receiver.transport)
        self._hook_rtp_sender(upstream.sender.transport)
        answer = await pc.createAnswer()
        with _advertise_hosts(self._ice_hosts):
            await pc.setLocalDescription(answer)
        sdp: str = pc.localDescription.sdp
        return sdp

    def set_microphone(self, path: str | None) -> None:
        """Start, change or stop sending, without renegotiation (replaceTrack)."""
        transceivers = self._pc.getTransceivers()
        if not transceivers:
            raise RuntimeError("answer() first")
        sender = transceivers[0].sender
        self.send_wav = path
        old = sender.track
        sender.replaceTrack(None if path is None else WavTrack(path))
        if old is not None:
            old.stop()

    def level(self) -> float:
        """Loudest RMS (0..1) of decoded audio over the last second."""
        self._trim_levels(time.monotonic())
        return max((rms for _, rms in self._levels), default=0.0)

    def stats(self) -> dict[str, Any]:
        return {
            "packets": self.packets_received,
            "bytes": self.bytes_received,
            "frames": self.frames_received,
            "level": self.level(),
            "energy": self.energy,
            "ssrcs": dict(self.per_ssrc),
            **(
                {
                    "decrypted": self.e2ee.decrypted,
                    "cant_decrypt": self.e2ee.cant_decrypt,
                    "dropped": dict(self.e2ee.dropped),
                }
                if self.e2ee is not None
                else {}
            ),
        }

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        transceivers = self._pc.getTransceivers()
        if transceivers and transceivers[0].sender.track is not None:
            transceivers[0].sender.track.stop()
        await self._pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- internals -----------------------------------------------------------------

    def _hook_rtp_counter(self, dtls: Any) -> None:
        # aiortc internal: RTCDtlsTransport._handle_rtp_data(data, arrival_time_ms) gets
        # every decrypted RTP packet. We count it, then hand it on to aiortc as usual.
        original = dtls._handle_rtp_data

        async def counting(data: bytes, arrival_time_ms: int) -> None:
            self.packets_received += 1
            self.bytes_received += len(data)
            if len(data) >= _HEADER.size:
                _, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
                self.per_ssrc[ssrc] = self.per_ssrc.get(ssrc, 0) + 1
                if self.record_rtp:
                    self.rtp_log.append(RtpRecord(ssrc, seq, ts, b1 & 0x7F, time.monotonic()))
                if self.record_frames:
                    bounds = rtp_payload_bounds(data)
                    if bounds is not None and not is_rtcp(data):
                        self.received_frames.append((ssrc, seq, bytes(data[bounds[0] : bounds[1]])))
            if self.e2ee is not None:
                opened = self.e2ee.open_packet(data)
                if opened is None:
                    return  # dropped, never played (counted in e2ee.dropped)
                data = opened
            await original(data, arrival_time_ms)

        dtls._handle_rtp_data = counting

    def _hook_rtp_sender(self, dtls: Any) -> None:
        # aiortc internal: RTCDtlsTransport._send_rtp(data) gets every RTP and RTCP
        # packet our sender makes, before SRTP. In an encrypted room the Opus payload is
        # encrypted here (the RTP header and its audio-level extension stay in clear).
        original = dtls._send_rtp

        async def sealing(data: bytes) -> None:
            if not is_rtcp(data):
                if self.record_frames:
                    bounds = rtp_payload_bounds(data)
                    if bounds is not None:
                        self.sent_frames.append(bytes(data[bounds[0] : bounds[1]]))
                if self.e2ee is not None:
                    sealed = self.e2ee.seal_packet(data)
                    if sealed is None:
                        return  # no key to send with yet: nothing, never plaintext
                    data = sealed
            await original(data)

        dtls._send_rtp = sealing

    def _trim_levels(self, now: float) -> None:
        while self._levels and now - self._levels[0][0] > LEVEL_WINDOW_S:
            self._levels.popleft()

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            samples = frame.to_ndarray().astype(np.float64) / 32768.0
            mean_square = float(np.mean(samples * samples)) if samples.size else 0.0
            self.frames_received += 1
            self.energy += mean_square * frame.samples / max(frame.sample_rate, 1)
            now = time.monotonic()
            self._levels.append((now, mean_square**0.5))
            self._trim_levels(now)
