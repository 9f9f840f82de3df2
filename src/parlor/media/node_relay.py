"""Speakers' packets between the nodes of a cluster: each node does the last fan-out.

DESIGN §4 "Beyond one box". A listener's media is on the node its socket is on, not
necessarily the room's. The node that has a speaker's peer admits each packet (the
speaker is audible), fans it out to its own listeners, and sends it once to every other
node with peers of the room (`set_targets`); each of those admits it against its own
copy of the room's audible set and fans it out to its listeners (`Sfu.deliver`).

The datagram is the workers' relay datagram (`relay_wire`: room, speaker, plain RTP)
followed by the first `MAC_BYTES` of its HMAC-SHA256 with the cluster's node key
(cluster/hop.py has the key's story): a datagram without the right MAC, from anywhere,
is counted (`refused`) and dropped, never forwarded. Between machines the RTP goes in
clear inside the private network, as the DESIGN's origin/edge relay allows; the node
key only proves where it comes from.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from parlor.media import relay_wire

logger = logging.getLogger(__name__)

MAC_BYTES = 16
Addr = tuple[str, int]
DeliverCallback = Callable[[str, str, bytes], None]
_MAX_HEADERS = 10_000  # cached datagram headers, (room, speaker): forgotten in bulk past this


def seal(key: bytes, body: bytes) -> bytes:
    return body + hmac.digest(key, body, hashlib.sha256)[:MAC_BYTES]


def open_sealed(key: bytes, datagram: bytes) -> bytes | None:
    """The body of a sealed datagram, or None if its MAC is not the key's."""
    if len(datagram) <= MAC_BYTES or not key:
        return None
    body, mac = datagram[:-MAC_BYTES], datagram[-MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.digest(key, body, hashlib.sha256)[:MAC_BYTES]):
        return None
    return body


class NodeRelay(asyncio.DatagramProtocol):
    def __init__(self, deliver: DeliverCallback) -> None:
        self.key = b""
        self.address: Addr | None = None
        self._deliver = deliver
        self._transport: asyncio.DatagramTransport | None = None
        self._targets: dict[str, tuple[Addr, ...]] = {}
        self._headers: dict[tuple[str, str], bytes] = {}
        self.sent = 0  # datagrams sent (one per packet and other node)
        self.received = 0  # datagrams received and delivered
        self.refused = 0  # datagrams dropped: no valid MAC, or malformed

    async def start(self, host: str, key: bytes, port: int = 0) -> Addr:
        self.key = key
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        assert self._transport is not None
        sockname = self._transport.get_extra_info("sockname")
        self.address = (str(sockname[0]), int(sockname[1]))
        return self.address

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def set_targets(self, room_id: str, targets: list[Addr]) -> None:
        """The other nodes with peers of the room (replacing what was set before)."""
        if targets:
            self._targets[room_id] = tuple(targets)
        else:
            self._targets.pop(room_id, None)

    def targets(self, room_id: str) -> tuple[Addr, ...]:
        return self._targets.get(room_id, ())

    def send(self, room_id: str, speaker_id: str, rtp: bytes) -> None:
        """Sfu's on_upstream: an admitted packet of a local speaker, to the other nodes."""
        targets = self._targets.get(room_id)
        transport = self._transport
        if not targets or transport is None:
            return
        head = self._headers.get((room_id, speaker_id))
        if head is None:
            if len(self._headers) >= _MAX_HEADERS:
                self._headers.clear()
            head = self._headers[(room_id, speaker_id)] = relay_wire.header(room_id, speaker_id)
        datagram = seal(self.key, head + rtp)
        for addr in targets:
            transport.sendto(datagram, addr)
        self.sent += len(targets)

    # -- asyncio.DatagramProtocol ------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        body = open_sealed(self.key, data)
        decoded = relay_wire.decode(body) if body is not None else None
        if decoded is None:
            self.refused += 1
            return
        self.received += 1
        try:
            self._deliver(*decoded)
        except Exception:
            logger.exception("delivering a relayed packet failed")

    def error_received(self, exc: Exception) -> None:
        # A node that went away answers with ICMP port unreachable: not ours to fix here.
        logger.debug("node relay: %s", exc)
