"""Drop RTCP in the kernel: a classic BPF filter on a peer's UDP socket.

Nothing on the server reads peers' RTCP (DESIGN §4: receiver reports, NACK and PLI
are consumed). Chromium reports every second or so per stream; each report that
reaches Python costs an event-loop callback on the node that also runs the fan-out.
With the filter attached the kernel frees those datagrams before any wake-up.

The filter sees the datagram from its UDP header (8 bytes) on. It drops what RFC
5761 calls RTCP on a muxed port: version 2 (first byte 0b10xxxxxx) and a second byte
(the RTCP packet type) of 192–223. STUN (first byte 0–3), DTLS (20–63) and RTP pass.
Datagrams under 10 bytes are dropped too (the filter reads past their end), and
nothing legitimate is that short. Linux only; elsewhere `attach` answers False and
Python drops RTCP instead (aiortc_private.shortcut_datagrams).
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys
from typing import Any

_SO_ATTACH_FILTER = 26
_UDP_HEADER = 8

# (code, jump if true, jump if false, k): struct sock_filter
_PROGRAM = (
    (0x30, 0, 0, _UDP_HEADER),  # ldb [first payload byte]
    (0x54, 0, 0, 0xC0),  # and #0xc0
    (0x15, 0, 4, 0x80),  # jeq #0x80 (version 2) ? next : accept
    (0x30, 0, 0, _UDP_HEADER + 1),  # ldb [second payload byte]
    (0x35, 0, 2, 192),  # jge #192 ? next : accept
    (0x25, 1, 0, 223),  # jgt #223 ? accept : drop
    (0x06, 0, 0, 0),  # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # accept: ret #whole datagram
)
_CODE = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in _PROGRAM))
# struct sock_fprog {unsigned short len; struct sock_filter *filter;}; the kernel
# copies the program at attach time, _CODE only has to live until then (it lives on).
_FPROG = struct.pack("HL", len(_PROGRAM), ctypes.addressof(_CODE))


def attach(sock: Any) -> bool:
    """Attach the filter to `sock` (a socket or an event loop's socket wrapper)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, _FPROG)
    except (OSError, AttributeError, TypeError):
        return False
    return True
