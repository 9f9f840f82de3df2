"""Every use of aiortc / aioice internals, in one place (aiortc 1.16, aioice 0.13).

The SFU fast path (DESIGN §4) needs things aiortc does not expose: the decrypted
incoming RTP of a DTLS transport, its outbound SRTP session, the nominated ICE pair,
a sender's SSRC, the negotiated payload type, and the list of host addresses aioice
advertises. It also keeps aiortc's per-peer media machinery from ever starting (the
fast path does not use it, and idle it costs CPU for every connected peer): the slot
senders' RTP task and RTCP sender-report loop, the upstream receiver's decoder thread
and RTCP loop, and aiortc's parsing and routing of incoming RTCP. And it makes the
node an ICE-lite agent (`ice_lite`): it answers the peer's checks and sends none.
tests/media/test_aiortc_private.py fails loudly if an upgrade moves any of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NamedTuple, Protocol

import aioice.ice
import aioice.turn
from aioice.candidate import Candidate
from aioice.utils import random_string
from aiortc import (
    RTCDtlsTransport,
    RTCIceParameters,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.codecs import HEADER_EXTENSIONS
from pylibsrtp import Error as _SrtpError
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from parlor.media import socket_filter
from parlor.media.consent import ConsentAnswerer
from parlor.media.udp_mux import MuxProtocol, UdpMuxes

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


def _install_gathering() -> None:
    """Wrap aioice's Connection.get_component_candidates once (see above, and
    `udp_mux` below)."""
    global _ports_installed
    if _ports_installed:
        return
    original = aioice.ice.Connection.get_component_candidates

    async def get_component_candidates(
        self: Any, component: int, addresses: list[str], timeout: int = 5
    ) -> list[Any]:
        ports, muxes = _port_range.get(), _muxes.get()
        if ports is None and muxes is None:
            result: list[Any] = await original(self, component, addresses, timeout)
            return result
        if muxes is not None:
            made = [await muxes.protocol(self, component, a) for a in addresses]
        else:
            made = [await _bind_in_range(self, component, a, ports) for a in addresses]  # type: ignore[arg-type]
        protocols = [p for p in made if p]
        self._protocols += protocols
        rest: list[Any] = await original(self, component, [], timeout)
        return [p.local_candidate for p in protocols] + rest

    get_component_candidates.__wrapped__ = original  # type: ignore[attr-defined]  # inspect finds aioice's
    aioice.ice.Connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
    _ports_installed = True


@contextlib.contextmanager
def udp_port_range(ports: tuple[int, int] | None) -> Iterator[None]:
    """Within this block, ICE host candidates bind to ports in `ports` (if given)."""
    if ports is None:
        yield
        return
    _install_gathering()
    token = _port_range.set(ports)
    try:
        yield
    finally:
        _port_range.reset(token)


# --- one socket for all peers (media/udp_mux.py) -----------------------------------

_muxes: contextvars.ContextVar[UdpMuxes | None] = contextvars.ContextVar("parlor_media_udp_mux", default=None)


@contextlib.contextmanager
def udp_mux(muxes: UdpMuxes | None) -> Iterator[None]:
    """Within this block, ICE host candidates are on `muxes`' shared sockets (if given),
    one per address, instead of a socket of their own. For lite agents (`ice_lite`):
    an authenticated check is what claims a browser's address on the shared socket."""
    if muxes is None:
        yield
        return
    _install_gathering()
    token = _muxes.set(muxes)
    try:
        yield
    finally:
        _muxes.reset(token)


# --- ICE-lite (RFC 8445 §2.5) -------------------------------------------------------
# A full agent runs its own connectivity checks, nominates, then sends a consent check
# on the selected pair every ~5 s (RFC 7675): for a node with many idle peers, that is
# most of what an idle peer costs. As an ICE-lite agent (as Janus and mediasoup are) the
# node sends none: the offer says `a=ice-lite`, so the browser takes the controlling
# role, checks, and nominates a pair with USE-CANDIDATE; aioice still answers every
# check (Connection.request_received). The browser's consent checks keep coming, and
# are the node's evidence that the peer is alive: `consent_expired` says when they
# stopped, and the caller ends the peer with `expire_consent`, as aioice's own consent
# loop would have.

# RFC 7675 §5.1: consent expires 30 s after the last check was answered.
CONSENT_EXPIRY_S = 30.0


def ice_lite(pc: RTCPeerConnection) -> None:
    """Make the node an ICE-lite agent on `pc`'s ICE transports.

    Call after adding the transceivers and before setLocalDescription(offer): the offer
    then carries `a=ice-lite`, the node is ICE-controlled (setLocalDescription leaves a
    role already set alone), and its aioice connections get the lite `connect` and
    `check_incoming` below, called through the instance.
    """
    transports = {id(t.receiver.transport.transport): t.receiver.transport.transport for t in pc.getTransceivers()}
    for transport in transports.values():
        connection: Any = transport._connection
        connection.ice_controlling = False
        transport._role_set = True
        # a peer that also claims the controlled role loses the tie (487, RFC 8445
        # §7.3.1.1) and switches, so a lite agent is never made controlling
        connection._tie_breaker = 0
        connection.connect = types.MethodType(_lite_connect, connection)
        connection.check_incoming = types.MethodType(_lite_check_incoming, connection)
        connection._parlor_heard = None  # monotonic time of the peer's last check, once connecting
        gatherer = transport.iceGatherer
        plain = gatherer.getLocalParameters

        def local_parameters(plain: Callable[[], RTCIceParameters] = plain) -> RTCIceParameters:
            parameters = plain()
            parameters.iceLite = True
            return parameters

        gatherer.getLocalParameters = local_parameters  # type: ignore[method-assign]


async def _lite_connect(self: Any) -> None:
    """aioice's Connection.connect for a lite agent: no check list of its own, no
    consent task; done when the peer nominates a pair (`_lite_check_incoming`)."""
    if not self._local_candidates_end:
        raise ConnectionError("Local candidates gathering was not performed")
    if self.remote_username is None or self.remote_password is None:
        raise ConnectionError("Remote username or password is missing")
    self._parlor_heard = time.monotonic()  # the expiry runs from here until the first check
    # checks that arrived before the answer (they were answered, not yet acted on)
    for early_check in self._early_checks:
        self.check_incoming(*early_check)
    self._early_checks.clear()
    self._early_checks_done = True
    # completed by a nomination; failed by close() (consent expired, peer closed)
    if await self._check_list_state.get() != aioice.ice.ICE_COMPLETED:
        raise ConnectionError("ICE negotiation failed")


def _lite_check_incoming(self: Any, message: Any, addr: tuple[str, int], protocol: Any) -> None:
    """aioice's Connection.check_incoming for a lite agent: an authenticated check
    (already answered) refreshes consent; one with USE-CANDIDATE selects its pair.

    The first nominated pair stays selected (the fan-out holds its socket and address);
    after that only checks on it count as consent (RFC 7675 is per pair).
    """
    component = protocol.local_candidate.component
    if isinstance(protocol, MuxProtocol):  # its DTLS and RTP will come from there
        protocol.mux.claim(protocol, addr)
    selected = self._nominated.get(component)
    if selected is not None:
        if selected.protocol is protocol and selected.remote_addr == addr:
            self._parlor_heard = time.monotonic()
        return
    self._parlor_heard = time.monotonic()
    if "USE-CANDIDATE" not in message.attributes:
        return
    remote = next(
        (c for c in self._remote_candidates if c._network_host == addr[0] and c.port == addr[1]), None
    )
    if remote is None:  # a peer-reflexive candidate (RFC 8445 §7.3.1.3)
        remote = Candidate(
            foundation=random_string(10),
            component=component,
            transport="udp",
            priority=message.attributes.get("PRIORITY", 0),
            host=addr[0],
            port=addr[1],
            type="prflx",
        )
        self._remote_candidates.append(remote)
    pair = self._find_pair(protocol, remote)
    if pair is None:
        pair = aioice.ice.CandidatePair(protocol, remote)
        self._check_list.append(pair)
    pair.state = aioice.ice.CandidatePair.State.SUCCEEDED
    pair.remote_nominated = pair.nominated = True
    self._nominated[component] = pair
    self._check_list_maybe_complete()


def is_ice_lite(dtls: RTCDtlsTransport) -> bool:
    """Whether the transport's ICE connection is a lite agent's (`ice_lite`)."""
    return hasattr(dtls.transport._connection, "_parlor_heard")


def consent_expired(dtls: RTCDtlsTransport, now: float) -> bool:
    """Whether a lite transport's peer has sent no check for CONSENT_EXPIRY_S since it
    started connecting (RFC 7675); False before that and for a full agent."""
    heard: float | None = getattr(dtls.transport._connection, "_parlor_heard", None)
    return heard is not None and now - heard > CONSENT_EXPIRY_S


async def expire_consent(dtls: RTCDtlsTransport) -> None:
    """End the ICE connection as aioice does when consent expires (its consent loop
    calls Connection.close()): its sockets close, the ICE transport and then the peer
    connection fail, and whoever watches them sees a peer gone."""
    await dtls.transport._connection.close()


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


def shortcut_datagrams(dtls: RTCDtlsTransport) -> bool:
    """At the nominated ICE pair's socket: drop SRTCP, and answer the peer's consent
    checks there (media/consent.py) on a lite agent's selected pair; False if no pair yet.

    RTCP is dropped in the kernel first (media/socket_filter.py), then in Python for
    anything that still gets through. Cheaper than `drop_incoming_rtcp` by far: aioice
    no longer tries to parse it as STUN and queues it, the DTLS transport's task no
    longer wakes up and decrypts it. It is not authenticated first, which does not
    matter for a packet nobody reads. (RFC 5761: RTCP is the muxed packet whose second
    byte, the RTCP packet type, is 192–223.) DTLS, RTP and any STUN the answerer leaves
    alone still take aioice's path.
    """
    connection: Any = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return False
    protocol: Any = pair.protocol
    if protocol.transport is not None:
        # in the kernel, where the platform allows; the wrapper below catches the
        # rest (what was queued before the filter, other platforms)
        socket_filter.attach(protocol.transport.get_extra_info("socket"))
    original: Callable[[bytes, Any], None] = protocol.datagram_received
    peer_addr = pair.remote_addr
    answerer: ConsentAnswerer | None = None
    if is_ice_lite(dtls) and connection.remote_username:
        try:
            answerer = ConsentAnswerer(
                connection.local_username, connection.remote_username, connection.local_password, peer_addr
            )
        except ValueError:  # an address it cannot answer for: aioice answers, as before
            answerer = None
    connection._parlor_consent = answerer

    def datagram_received(data: bytes, addr: Any) -> None:
        if len(data) > 1 and 127 < data[0] < 192 and 191 < data[1] < 224:
            return
        if answerer is not None and data[:1] == b"\x00" and not connection._closing:
            if addr[0] == peer_addr[0] and addr[1] == peer_addr[1]:
                response = answerer.answer(data)
                if response is not None and protocol.transport is not None:
                    protocol.transport.sendto(response, addr)
                    connection._parlor_heard = time.monotonic()  # consent (_lite_check_incoming)
                    return
        original(data, addr)

    protocol.datagram_received = datagram_received
    return True


def consent_answered(dtls: RTCDtlsTransport) -> int:
    """How many consent checks `shortcut_datagrams` answered on the transport's pair."""
    answerer: ConsentAnswerer | None = getattr(dtls.transport._connection, "_parlor_consent", None)
    return 0 if answerer is None else answerer.answered


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
    protocol: Any = pair.protocol
    transport = protocol.transport
    if transport is None:
        return None
    is_closing: Callable[[], bool] = transport.is_closing
    if isinstance(protocol, MuxProtocol):  # the shared socket stays open: is the peer's side?
        is_closing = lambda: protocol.closed or transport.is_closing()  # noqa: E731
    return Nominated(transport.sendto, pair.remote_addr, is_closing, transport.get_extra_info("socket"))


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
