"""The floor under the fan-out's cost: SRTP-protect and `sendto`, nothing else.

`parlor bench fanout` runs this after its window, to the same listeners' sockets, at
the same packet rate, so the node's CPU per packet can be read against what the two
steps no server can skip cost on this machine in this run. It uses the node's own
inner loop (media/_fanout.c `fan_out`, when built; else the same two calls from
Python) over routes made here: a fresh SRTP context per listener and one UDP socket,
no receiving, no routing, no event loop. The listeners' sockets get these packets
under keys they don't hold and drop them, after the bench has read its counts.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

from pylibsrtp import Policy, Session

from parlor.bench.lean import FRAME_TICKS, PAYLOAD_BYTES
from parlor.media import aiortc_private as priv

PAYLOAD_TYPE = 111


def _profile() -> Any:
    """The SRTP profile the node and the bench's aiortc listeners agree on: aiortc offers
    its list in order of preference on both sides, so the first is the one chosen."""
    from aiortc.rtcdtlstransport import SRTP_PROFILES

    return SRTP_PROFILES[0]


def _session(profile: Any) -> Session:
    key = os.urandom(profile.key_length + profile.salt_length)
    policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile.libsrtp_profile)
    return Session(policy=policy)


def _packet(seq: int, ts: int) -> bytes:
    """A speaker packet as the node receives it: RTP header, audio level, Opus-sized payload."""
    header = struct.pack("!BBHII", 0x90, PAYLOAD_TYPE, seq & 0xFFFF, ts & 0xFFFFFFFF, 0x5EED0000)
    level = bytes((0xBE, 0xDE, 0, 1, (priv.AUDIO_LEVEL_EXT_ID << 4) | 0, 0x80 | 30, 0, 0))
    return header + level + bytes(PAYLOAD_BYTES)


def measure(addrs: Sequence[tuple[str, int]], packets_per_s: float, seconds: float) -> dict[str, Any]:
    """Send `packets_per_s` speaker packets a second for `seconds` to every address;
    the CPU this thread spent per packet sent (µs), and how it was sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    profile = _profile()
    sessions = [_session(profile) for _ in addrs]
    c_fanout: Any
    try:
        try:
            from parlor.media import _fanout as c_fanout
        except ImportError:  # pragma: no cover - no C compiler at install
            c_fanout = None
        if c_fanout is not None:
            send, routes = _c_sender(c_fanout, sock, addrs, sessions)
        else:
            send, routes = _py_sender(sock, addrs, sessions), []
        interval = 1.0 / packets_per_s
        count = max(1, round(packets_per_s * seconds))
        sent = 0
        cpu0 = time.thread_time()
        start = time.monotonic()
        for i in range(count):
            # paced as the speakers are: the receivers' sockets never overflow
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += send(i)
        cpu = time.thread_time() - cpu0
        for route in routes:
            route.close()  # each holds its own dup() of the socket
    finally:
        sock.close()
    return {
        "floor_us_per_packet": round(cpu * 1e6 / sent, 2) if sent else None,
        "floor_packets": sent,
        "floor_fanout": "c" if c_fanout is not None else "python",
        "floor_srtp_profile": profile.openssl_profile.decode(),
    }


def _c_sender(
    c_fanout: Any, sock: socket.socket, addrs: Sequence[tuple[str, int]], sessions: list[Session]
) -> tuple[Any, list[Any]]:
    now = time.monotonic()
    routes = []
    for n, ((host, port), session) in enumerate(zip(addrs, sessions, strict=True)):
        pointers = priv.fanout_srtp(session)
        if pointers is None:
            raise RuntimeError("pylibsrtp's srtp_protect is not the one the C fan-out knows")
        fd, key, ssrcs = sock.fileno(), f"floor{n}", [0x7000 + n]
        routes.append(c_fanout.Route(key, fd, host, port, *pointers, session, PAYLOAD_TYPE, ssrcs, [0], [0], now))

    def send(i: int) -> int:
        template = bytearray(_packet(i, i * FRAME_TICKS))
        sent, _failed = c_fanout.fan_out(routes, None, 0, 1, template, 0, i, i * FRAME_TICKS, time.monotonic())
        return int(sent)

    return send, routes


def _py_sender(sock: socket.socket, addrs: Sequence[tuple[str, int]], sessions: list[Session]) -> Any:
    protects = [priv.lean_protect(session) for session in sessions]
    targets = list(zip(protects, addrs, strict=True))

    def send(i: int) -> int:
        packet = _packet(i, i * FRAME_TICKS)
        for protect, addr in targets:
            sock.sendto(protect(packet), addr)
        return len(targets)

    return send


def relay_cost(count: int = 20_000) -> float:
    """What one speaker packet costs to relay to one other node, in µs of this thread's
    CPU: the sender's seal (node key's HMAC) and `sendto`, the receiver's `recvfrom`,
    MAC check and decoding (media/node_relay.py), on loopback, a Parlor-sized packet.
    Measured apart from the nodes: in a whole cluster run it is lost in the run-to-run
    spread (it is paid once per packet and other node, not once per listener)."""
    from parlor.media import relay_wire
    from parlor.media.node_relay import open_sealed, seal

    key = os.urandom(32)
    head = relay_wire.header("r_" + "x" * 16, "u_" + "y" * 16)
    rtp = _packet(1, 960)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        addr = rx.getsockname()
        started = time.thread_time()
        for _ in range(count):
            tx.sendto(seal(key, head + rtp), addr)
            body = open_sealed(key, rx.recv(2048))
            assert body is not None and relay_wire.decode(body) is not None
        return (time.thread_time() - started) * 1e6 / count
