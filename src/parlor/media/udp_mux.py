"""One UDP socket for all of the SFU's peers on an ICE host address (as mediasoup's
WebRtcServer and LiveKit's single-port mode do).

With a socket per peer, every packet of the fan-out is sent on a different socket:
each `sendto` looks up a cold descriptor and a cold socket, and each socket sits in the
event loop's epoll, so the kernel's write-space callback after each send takes that
socket's wait-queue lock. On one socket all of that stays hot (docs/BENCHMARKS.md,
"One UDP socket for all peers"). The browser sees one host candidate port for every
peer connection of the node; the node tells peers apart by their address:

- a STUN Binding request names its peer in USERNAME ("<our ufrag>:<their ufrag>"): it
  goes to the connection whose local ufrag that is; aioice authenticates it, and an
  authenticated check claims its source address for that connection
  (aiortc_private's lite `check_incoming`, or the node's own check in `request`);
- anything else (DTLS, RTP, RTCP, STUN responses) goes to the connection that claimed
  its source address, and is dropped if none did. Browsers send DTLS only once a
  check has succeeded, so the address is claimed by then.

Each peer's aioice `Connection` gets a `MuxProtocol`: aioice's own StunProtocol with the
shared socket as its transport, so aioice, the consent answerer (media/consent.py) and
the C fan-out (which sends on the shared descriptor) work unchanged. Closing it
releases the peer's ufrag and addresses; the socket lives as long as the SFU.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from typing import Any

import aioice.ice
import aioice.turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.utils import random_string

from parlor.media import socket_filter

logger = logging.getLogger(__name__)

_STUN_COOKIE = b"\x21\x12\xa4\x42"
_USERNAME = 0x0006
# Addresses one connection may claim: a browser checks from each of its candidates
# (host, server-reflexive, relayed; IPv4 and IPv6), a few at most.
MAX_ADDRS_PER_PEER = 16
# The fan-out sends a whole room's packet in one burst on this socket: on a real NIC
# the kernel holds each datagram against the send buffer until it leaves, so one socket
# needs the buffer that a thousand sockets had between them (net.core.wmem_max caps
# it; docs/DEPLOY.md).
SEND_BUFFER = 8 * 1024 * 1024
RECEIVE_BUFFER = 4 * 1024 * 1024


def stun_ufrag(data: bytes) -> bytes | None:
    """Our ufrag from a STUN Binding request's USERNAME ("ours:theirs"), or None if
    `data` is not a STUN request carrying one."""
    if len(data) < 20 or data[0] > 1 or data[4:8] != _STUN_COOKIE:
        return None
    kind = (data[0] << 8) | data[1]
    if kind & 0x0110:  # not the request class (RFC 8489 §5)
        return None
    end = min(len(data), 20 + ((data[2] << 8) | data[3]))
    pos = 20
    while pos + 4 <= end:
        attribute, length = struct.unpack_from("!HH", data, pos)
        if pos + 4 + length > end:
            return None
        if attribute == _USERNAME:
            value = data[pos + 4 : pos + 4 + length]
            ours, sep, _theirs = value.partition(b":")
            return ours if sep else None
        pos += 4 + length + (-length % 4)
    return None


class MuxProtocol(aioice.ice.StunProtocol):
    """A connection's view of the shared socket (see the module's docstring)."""

    def __init__(self, mux: UdpMux, connection: Any) -> None:
        super().__init__(connection)
        self.mux = mux
        self.ufrag = b""
        self.closed = False
        self.addrs: set[tuple[str, int]] = set()

    async def request(self, request: Any, addr: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        # a full agent's own checks: their answers come back from `addr`
        self.mux.claim(self, addr)
        return await super().request(request, addr, *args, **kwargs)

    async def close(self) -> None:
        self.closed = True
        self.mux.release(self)
        self.connection_lost(None)  # as the socket's own closing would (hooks included)


class UdpMux(asyncio.DatagramProtocol):
    """The shared socket on one address, and who its peers are."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.host = ""
        self.port = 0
        self._by_ufrag: dict[bytes, MuxProtocol] = {}
        self._by_addr: dict[tuple[str, int], MuxProtocol] = {}
        self.unrouted = 0  # datagrams from an address no peer claimed (dropped)

    async def open(self, address: str, ports: tuple[int, int] | None) -> bool:
        """Bind to `address` (to a free port of `ports`, if given); False if none is free."""
        loop = asyncio.get_running_loop()
        candidates = [0]
        if ports is not None:
            first, last = ports
            count = last - first + 1
            start = random.randrange(count)
            candidates = [first + (start + i) % count for i in range(count)]
        for port in candidates:
            try:
                transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(address, port))
            except OSError:
                continue  # in use (another worker's socket): the next one
            sock = transport.get_extra_info("socket")
            if sock is not None:
                _buffers(sock)
                # nothing on the fast path reads peers' RTCP (socket_filter's docstring)
                socket_filter.attach(sock)
            self.host, self.port = transport.get_extra_info("sockname")[:2]
            return True
        logger.warning("no free UDP port in %d-%d on %s: raise PARLOR_UDP_PORTS' range", *ports or (0, 0), address)
        return False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def protocol(self, connection: Any, component: int) -> MuxProtocol:
        """A new peer connection's protocol on this socket, with its host candidate."""
        protocol = MuxProtocol(self, connection)
        protocol.connection_made(self.transport)  # type: ignore[arg-type]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", self.host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=self.host,
            port=self.port,
            type="host",
        )
        protocol.ufrag = connection.local_username.encode()
        if protocol.ufrag in self._by_ufrag:  # UdpMuxes.protocol re-rolls first
            raise ValueError("ufrag in use")
        self._by_ufrag[protocol.ufrag] = protocol
        return protocol

    def has_ufrag(self, ufrag: bytes) -> bool:
        return ufrag in self._by_ufrag

    def claim(self, protocol: MuxProtocol, addr: tuple[str, int]) -> None:
        """Route datagrams from `addr` to `protocol`, unless another peer has it."""
        owner = self._by_addr.get(addr)
        if owner is None and len(protocol.addrs) < MAX_ADDRS_PER_PEER:
            self._by_addr[addr] = protocol
            protocol.addrs.add(addr)

    def release(self, protocol: MuxProtocol) -> None:
        for addr in protocol.addrs:
            if self._by_addr.get(addr) is protocol:
                del self._by_addr[addr]
        protocol.addrs.clear()
        if self._by_ufrag.get(protocol.ufrag) is protocol:
            del self._by_ufrag[protocol.ufrag]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        addr = (addr[0], addr[1])
        ufrag = stun_ufrag(data) if data[:1] in (b"\x00", b"\x01") else None
        # a check goes by the ufrag it names, not by who claimed its address: a spoofed
        # datagram cannot take a peer's checks away from it
        protocol = self._by_ufrag.get(ufrag) if ufrag is not None else self._by_addr.get(addr)
        if protocol is None:
            self.unrouted += 1
            return
        protocol.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for one peer's address: its consent will lapse on its own

    def close(self) -> None:
        for protocol in list(self._by_ufrag.values()):
            self.release(protocol)
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class UdpMuxes:
    """The SFU's shared sockets, one per ICE host address, opened on first use."""

    def __init__(self, ports: tuple[int, int] | None = None) -> None:
        self._ports = ports
        self._muxes: dict[str, UdpMux] = {}
        self._lock = asyncio.Lock()

    async def protocol(self, connection: Any, component: int, address: str) -> MuxProtocol | None:
        async with self._lock:
            mux = self._muxes.get(address)
            if mux is None:
                mux = UdpMux()
                if not await mux.open(address, self._ports):
                    return None
                self._muxes[address] = mux
            if not getattr(connection, "_parlor_muxed", False):
                # aioice's ufrags are 4 random characters: two peers of one socket
                # must not share one (checks find their peer by it)
                while any(m.has_ufrag(connection.local_username.encode()) for m in self._muxes.values()):
                    connection.local_username = random_string(4)
                connection._parlor_muxed = True
            return mux.protocol(connection, component)

    def sockets(self) -> list[tuple[str, int]]:
        return [(m.host, m.port) for m in self._muxes.values()]

    def close(self) -> None:
        for mux in self._muxes.values():
            mux.close()
        self._muxes.clear()


def _buffers(sock: socket.socket) -> None:
    receive = max(RECEIVE_BUFFER, aioice.turn.UDP_SOCKET_BUFFER_SIZE)
    for option, size in ((socket.SO_SNDBUF, SEND_BUFFER), (socket.SO_RCVBUF, receive)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
        except OSError:
            pass
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2  # Linux reports double
    if granted < SEND_BUFFER // 2:
        logger.warning(
            "the media socket's send buffer is %d KiB (net.core.wmem_max): a large room's burst may be "
            "dropped on a real network; raise net.core.wmem_max to %d (docs/DEPLOY.md)",
            granted // 1024,
            SEND_BUFFER,
        )
