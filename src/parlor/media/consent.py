"""Answering a connected peer's ICE consent checks without aioice (RFC 7675, RFC 8489).

Once a peer's pair is selected, the only STUN that reaches the node on it is the
peer's consent check, every 2.5-5 s from every browser: at 1,000 listeners, hundreds a
second. aioice parses each into a Message, checks it, and builds its answer by packing
every attribute three times over (ipaddress parsing included): ~100 µs of the event
loop's thread, profiled at a fifth of the node's Python time at 1,000 listeners
(docs/BENCHMARKS.md). A check is a fixed shape, and so is its answer: `answer` reads
the request in place, checks its USERNAME and MESSAGE-INTEGRITY (HMAC-SHA1 under the
node's ICE password), and builds the same Binding success response aioice would
(XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT, in that order), byte for byte.

Anything it does not vouch for (another method, a bad key or username, a role
conflict, a malformed message) it leaves to aioice, which answers errors as before.
"""

from __future__ import annotations

import binascii
import hmac
import socket

_HEADER = 20
_COOKIE = b"\x21\x12\xa4\x42"
_BINDING_REQUEST = b"\x00\x01"
_BINDING_SUCCESS = b"\x01\x01"
_USERNAME = 0x0006
_MESSAGE_INTEGRITY = 0x0008
_ICE_CONTROLLED = 0x8029
_INTEGRITY_ATTR = b"\x00\x08\x00\x14"  # type, length 20
_FINGERPRINT_ATTR = b"\x80\x28\x00\x04"
_FINGERPRINT_XOR = 0x5354554E


class ConsentAnswerer:
    """Answers one ICE pair's consent checks: the node's `local_username` and
    `password`, the peer's `remote_username`, the peer's address as it sends from."""

    __slots__ = ("_family", "_key", "_username", "_xaddr", "_xport", "answered")

    def __init__(self, local_username: str, remote_username: str, password: str, addr: tuple[str, int]) -> None:
        self._key = password.encode("utf8")
        self._username = f"{local_username}:{remote_username}".encode()
        host, port = addr[0].split("%", 1)[0], addr[1]  # an IPv6 scope is not in the answer
        try:
            packed, self._family = socket.inet_pton(socket.AF_INET, host), 1
        except OSError:
            try:
                packed, self._family = socket.inet_pton(socket.AF_INET6, host), 2
            except OSError as exc:
                raise ValueError(f"not an IP address: {host!r}") from exc
        self._xport = (port ^ 0x2112).to_bytes(2, "big")
        # IPv4 is XORed with the magic cookie alone: the same for every answer
        self._xaddr = packed if self._family == 2 else _xor(packed, _COOKIE)
        self.answered = 0

    def answer(self, data: bytes) -> bytes | None:
        """The Binding success response to `data`, or None if `data` is not an
        authenticated consent check of this pair's (aioice's path takes it then)."""
        size = len(data)
        if size < _HEADER or data[0:2] != _BINDING_REQUEST or data[4:8] != _COOKIE:
            return None
        if _HEADER + int.from_bytes(data[2:4], "big") != size:
            return None
        username = None
        integrity_at = -1
        pos = _HEADER
        while pos + 4 <= size:
            kind = (data[pos] << 8) | data[pos + 1]
            length = (data[pos + 2] << 8) | data[pos + 3]
            end = pos + 4 + length
            if end > size:
                return None
            if kind == _USERNAME:
                username = data[pos + 4 : end]
            elif kind == _MESSAGE_INTEGRITY:
                integrity_at = pos  # what follows it is not covered (only FINGERPRINT may)
                break
            elif kind == _ICE_CONTROLLED:
                return None  # the peer claims our role: aioice settles the conflict
            pos = end + (-length % 4)
        if integrity_at < 0 or integrity_at + 24 > size or username != self._username:
            return None
        # MESSAGE-INTEGRITY covers the message up to itself, with the header's length
        # as if it ended right after it (RFC 8489 §14.5)
        covered = data[0:2] + (integrity_at - _HEADER + 24).to_bytes(2, "big") + data[4:integrity_at]
        mac = hmac.digest(self._key, covered, "sha1")
        if not hmac.compare_digest(mac, data[integrity_at + 4 : integrity_at + 24]):
            return None
        transaction = data[8:_HEADER]
        xaddr = self._xaddr if self._family == 1 else _xor(self._xaddr, _COOKIE + transaction)
        mapped = (0x0020).to_bytes(2, "big") + (4 + len(xaddr)).to_bytes(2, "big")
        mapped += bytes((0, self._family)) + self._xport + xaddr
        head = _BINDING_SUCCESS + (len(mapped) + 24).to_bytes(2, "big") + _COOKIE + transaction
        mac = hmac.digest(self._key, head + mapped, "sha1")
        body = mapped + _INTEGRITY_ATTR + mac
        head = _BINDING_SUCCESS + (len(body) + 8).to_bytes(2, "big") + _COOKIE + transaction
        crc = binascii.crc32(head + body) ^ _FINGERPRINT_XOR
        self.answered += 1
        return head + body + _FINGERPRINT_ATTR + crc.to_bytes(4, "big")


def _xor(data: bytes, pad: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad[: len(data)], "big")).to_bytes(len(data), "big")
