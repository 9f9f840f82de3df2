"""Every use of aiortc / aioice internals, in one place (aiortc 1.16, aioice 0.13).

The SFU fast path (DESIGN §4) needs things aiortc does not expose: the decrypted
incoming RTP of a DTLS transport, its outbound SRTP session, the nominated ICE pair,
a sender's SSRC, the negotiated payload type, and the list of host addresses aioice
advertises. It also keeps aiortc's per-peer media machinery from ever starting (the
fast path does not use it, and idle it costs CPU for every connected peer): the slot
senders' RTP task and RTCP sender-report loop, the upstream receiver's decoder thread
and RTCP loop, and aiortc's parsing and routing of incoming RTCP.
tests/media/test_aiortc_private.py fails loudly if an upgrade moves any of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NamedTuple, Protocol

import aioice.ice
import aioice.turn
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import HEADER_EXTENSIONS
from pylibsrtp import Error as _SrtpError
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from parlor.media import socket_filter

logger = logging.getLogger(__name__)

_SRTP_MAX_TRAILER = 144  # pylibsrtp's SRTP_MAX_TRAILER_LEN


def _srtp_error(status: int) -> Exception:
    return _SrtpError(f"srtp_protect failed ({status})")

RtpHandler = Callable[[bytes, int], Awaitable[None]]

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


def _extension_id(uri: str) -> int:
    for ext in HEADER_EXTENSIONS["audio"]:
        if ext.uri == uri:
            return int(ext.id)
    raise RuntimeError(f"aiortc no longer offers {uri}")


# aiortc always offers these ids; the answerer must keep the offerer's ids.
AUDIO_LEVEL_EXT_ID = _extension_id(AUDIO_LEVEL_URI)
MID_EXT_ID = _extension_id(MID_URI)


class SrtpSession(Protocol):
    def protect(self, packet: bytes) -> bytes: ...


# --- host addresses -------------------------------------------------------------

_host_override: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "parlor_media_ice_hosts", default=None
)
_installed = False


def _install_host_override() -> None:
    """Wrap aioice's get_host_addresses once; the wrapper consults a context variable.

    aioice gathers inside setLocalDescription, in tasks that copy the caller's context,
    so `advertise_hosts` applies to exactly the peer connections set up inside it.
    """
    global _installed
    if _installed:
        return
    original = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        hosts = _host_override.get()
        if hosts:
            return list(hosts)
        result: list[str] = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return result

    aioice.ice.get_host_addresses = get_host_addresses
    _installed = True


@contextlib.contextmanager
def advertise_hosts(hosts: tuple[str, ...]) -> Iterator[None]:
    """Within this block, ICE gathering advertises exactly `hosts` (if non-empty)."""
    _install_host_override()
    token = _host_override.set(hosts or None)
    try:
        yield
    finally:
        _host_override.reset(token)


# --- UDP port range ---------------------------------------------------------------
# aioice binds each host candidate's socket to port 0 (any ephemeral port) inside
# Connection.get_component_candidates. With a range set (PARLOR_UDP_PORTS, so a
# firewall can open just that), the wrapper binds the host sockets itself, to the first
# free port of the range from a random start, makes the same host candidates aioice
# would, and lets aioice gather the rest (STUN/TURN) for no addresses of its own.

_port_range: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "parlor_media_udp_ports", default=None
)
_ports_installed = False


async def _bind_in_range(
    connection: Any, component: int, address: str, ports: tuple[int, int]
) -> Any:
    """A host candidate's StunProtocol bound to a free port of `ports`, or None."""
    import asyncio
    import random
    import socket

    from aioice.candidate import Candidate, candidate_foundation, candidate_priority

    loop = asyncio.get_running_loop()
    first, last = ports
    count = last - first + 1
    start = random.randrange(count)
    for i in range(count):
        port = first + (start + i) % count
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: aioice.ice.StunProtocol(connection), local_addr=(address, port)
            )
        except OSError:
            continue  # in use (another peer, another worker): the next one
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, aioice.turn.UDP_SOCKET_BUFFER_SIZE)
        host, bound = transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=host,
            port=bound,
            type="host",
        )
        return protocol
    logger.warning("no free UDP port in %d-%d on %s: raise PARLOR_UDP_PORTS' range", first, last, address)
    return None


def _install_port_range() -> None:
    """Wrap aioice's Connection.get_component_candidates once (see above)."""
    global _ports_installed
    if _ports_installed:
        return
    original = aioice.ice.Connection.get_component_candidates

    async def get_component_candidates(
        self: Any, component: int, addresses: list[str], timeout: int = 5
    ) -> list[Any]:
        ports = _port_range.get()
        if ports is None:
            result: list[Any] = await original(self, component, addresses, timeout)
            return result
        protocols = [p for p in [await _bind_in_range(self, component, a, ports) for a in addresses] if p]
        self._protocols += protocols
        rest: list[Any] = await original(self, component, [], timeout)
        return [p.local_candidate for p in protocols] + rest

    aioice.ice.Connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
    _ports_installed = True


@contextlib.contextmanager
def udp_port_range(ports: tuple[int, int] | None) -> Iterator[None]:
    """Within this block, ICE host candidates bind to ports in `ports` (if given)."""
    if ports is None:
        yield
        return
    _install_port_range()
    token = _port_range.set(ports)
    try:
        yield
    finally:
        _port_range.reset(token)


# --- DTLS transport -------------------------------------------------------------


def hook_incoming_rtp(dtls: RTCDtlsTransport, handler: RtpHandler) -> None:
    """Replace the transport's decrypted-RTP handler: aiortc never sees the packets."""
    dtls._handle_rtp_data = handler  # type: ignore[method-assign,assignment]


async def _drop_rtcp(data: bytes) -> None:
    return None


def drop_incoming_rtcp(dtls: RTCDtlsTransport) -> None:
    """Replace the transport's decrypted-RTCP handler with one that drops it.

    The transport still authenticates SRTCP (and drops what fails); aiortc no longer
    parses and routes it. Nothing on the fast path consumes RTCP: the slot senders and
    the upstream receiver are never started (`never_start`), so aiortc would route
    every packet to nobody anyway.
    """
    dtls._handle_rtcp_data = _drop_rtcp  # type: ignore[method-assign]


def drop_rtcp_datagrams(dtls: RTCDtlsTransport) -> bool:
    """Drop SRTCP at the nominated ICE pair's socket; False if no pair yet.

    In the kernel first (media/socket_filter.py), then in Python for anything that
    still gets through.

    Cheaper than `drop_incoming_rtcp` by far: aioice no longer tries to parse it as
    STUN and queues it, the DTLS transport's task no longer wakes up and decrypts it.
    It is not authenticated first, which does not matter for a packet nobody reads.
    STUN, DTLS and RTP still take aioice's path. (RFC 5761: RTCP is the muxed packet
    whose second byte, the RTCP packet type, is 192–223.)
    """
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return False
    protocol: Any = pair.protocol
    if protocol.transport is not None:
        # in the kernel, where the platform allows; the wrapper below catches the
        # rest (what was queued before the filter, other platforms)
        socket_filter.attach(protocol.transport.get_extra_info("socket"))
    original: Callable[[bytes, Any], None] = protocol.datagram_received

    def datagram_received(data: bytes, addr: Any) -> None:
        if len(data) > 1 and 127 < data[0] < 192 and 191 < data[1] < 224:
            return
        original(data, addr)

    protocol.datagram_received = datagram_received
    return True


def outbound_srtp(dtls: RTCDtlsTransport) -> SrtpSession | None:
    session: SrtpSession | None = dtls._tx_srtp
    return session


# --- pylibsrtp ---------------------------------------------------------------------

# One scratch buffer for every lean protect: the fan-out protects and sends one packet
# at a time on the event loop's thread, and sendto copies the bytes out before the next.
_SCRATCH = _srtp_ffi.new("char[]", 1500)
_SCRATCH_VIEW = _srtp_ffi.buffer(_SCRATCH)
_SCRATCH_LEN = _srtp_ffi.new("int *")


def lean_protect(session: Any) -> Callable[[bytes | bytearray], bytes]:
    """`session.protect` without pylibsrtp's per-call checks and allocations: about a
    third of its cost, on the hottest line of the fan-out. Event-loop thread only.

    Reaches pylibsrtp's `Session._srtp` (the libsrtp context) and calls its cffi
    `srtp_protect` directly; the closure keeps `session` alive, and with it the context.
    """
    context = session._srtp[0]
    protect = _srtp_lib.srtp_protect
    view, length, scratch = _SCRATCH_VIEW, _SCRATCH_LEN, _SCRATCH
    capacity = len(view) - _SRTP_MAX_TRAILER

    def protect_packet(packet: bytes | bytearray) -> bytes:
        n = len(packet)
        if n > capacity:
            raise ValueError("packet is too long")
        view[0:n] = packet
        length[0] = n
        status = protect(context, scratch, length)
        if status:
            raise _srtp_error(status)
        out: bytes = view[0 : length[0]]  # a copy: cffi buffer slices are bytes
        return out

    protect_packet.session = session  # type: ignore[attr-defined]
    return protect_packet


# The C type of libsrtp's srtp_protect as pylibsrtp declares it (libsrtp 2's API): the
# C fan-out (media/_fanout.c) calls it through this pointer, so it must be exactly this.
_PROTECT_CTYPE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"


def fanout_srtp(session: Any) -> tuple[int, int] | None:
    """(libsrtp context address, srtp_protect address) of a pylibsrtp Session, for the C
    fan-out; None if pylibsrtp's binding is not the one this was written against. The
    caller keeps `session` alive as long as it uses the context (a Route holds it)."""
    protect = _srtp_ffi.addressof(_srtp_lib, "srtp_protect")
    if _srtp_ffi.getctype(_srtp_ffi.typeof(protect)) != _PROTECT_CTYPE:
        return None
    context = session._srtp[0]
    return int(_srtp_ffi.cast("uintptr_t", context)), int(_srtp_ffi.cast("uintptr_t", protect))


def on_socket_closed(dtls: RTCDtlsTransport, callback: Callable[[], None]) -> bool:
    """Call `callback` when aioice's socket of the nominated pair is closed (consent
    expired, connection closed), before aiortc's state machine notices."""
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return False
    protocol: Any = pair.protocol
    original = protocol.connection_lost

    def connection_lost(exc: Exception | None) -> None:
        try:
            callback()
        finally:
            original(exc)

    protocol.connection_lost = connection_lost
    return True


class Nominated(NamedTuple):
    """The selected ICE pair for RTP: its socket's sendto, the remote address, and
    whether aioice has closed that socket (consent expired, connection closed):
    a closed asyncio transport drops writes with a log line each, it does not raise."""

    sendto: Callable[[bytes, Any], None]
    addr: Any
    is_closing: Callable[[], bool]
    socket: Any  # the event loop's wrapper of the socket (fileno() for the C fan-out)


def nominated_sendto(dtls: RTCDtlsTransport) -> Nominated | None:
    """The selected ICE pair for RTP, or None if none yet."""
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return None
    transport = pair.protocol.transport
    if transport is None:
        return None
    return Nominated(transport.sendto, pair.remote_addr, transport.is_closing, transport.get_extra_info("socket"))


def nominated_local_addr(dtls: RTCDtlsTransport) -> tuple[str, int] | None:
    """The local (host, port) of the selected ICE pair's socket, or None if none yet."""
    pair = dtls.transport._connection._nominated.get(1)
    transport = pair.protocol.transport if pair is not None else None
    if transport is None:
        return None
    host, port = transport.get_extra_info("sockname")[:2]
    return str(host), int(port)


# --- senders and transceivers ---------------------------------------------------


def sender_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


def negotiated_payload_type(transceiver: RTCRtpTransceiver) -> int | None:
    codecs = transceiver._codecs
    if not codecs or codecs[0].payloadType is None:
        return None
    return int(codecs[0].payloadType)


# --- aiortc's per-sender / per-receiver machinery -----------------------------------


async def _not_started(parameters: Any) -> None:
    return None


def never_start(transceiver: RTCRtpTransceiver) -> None:
    """aiortc will never start this transceiver's sender or receiver.

    Once DTLS is up, RTCPeerConnection starts media by calling
    `transceiver.sender.send(...)` and `transceiver.receiver.receive(...)`; instance
    attributes shadow those methods, so neither starts: no RTP task and no RTCP
    sender-report loop for a sender (a slot sender's reports would carry counts and
    RTP/NTP timestamps unrelated to what the fast path writes on its SSRC), no decoder
    thread and no RTCP loop for a receiver, and nothing registered with the transport's
    RTP router. `stop()` (pc.close()) skips a sender / receiver that never started.
    Call before the answer is applied.
    """
    transceiver.sender.send = _not_started  # type: ignore[method-assign]
    transceiver.receiver.receive = _not_started  # type: ignore[method-assign]


def sender_started(sender: RTCRtpSender) -> bool:
    """Whether aiortc started the sender's RTP and RTCP tasks (tests)."""
    return bool(sender._RTCRtpSender__started)  # type: ignore[attr-defined]


def receiver_started(receiver: RTCRtpReceiver) -> bool:
    """Whether aiortc started the receiver's decoder thread and RTCP task (tests)."""
    return bool(receiver._RTCRtpReceiver__started)  # type: ignore[attr-defined]
