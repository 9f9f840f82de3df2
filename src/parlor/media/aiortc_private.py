"""Every use of aiortc / aioice internals, in one place (aiortc 1.16, aioice 0.13).

The SFU fast path (DESIGN §4) needs things aiortc does not expose: the decrypted
incoming RTP of a DTLS transport, its outbound SRTP session, the nominated ICE pair,
a sender's SSRC, the negotiated payload type, and the list of host addresses aioice
advertises. tests/media/test_aiortc_private.py fails loudly if an upgrade moves them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

import aioice.ice
from aiortc import RTCDtlsTransport, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import HEADER_EXTENSIONS

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


# --- DTLS transport -------------------------------------------------------------


def hook_incoming_rtp(dtls: RTCDtlsTransport, handler: RtpHandler) -> None:
    """Replace the transport's decrypted-RTP handler: aiortc never sees the packets."""
    dtls._handle_rtp_data = handler  # type: ignore[method-assign,assignment]


def outbound_srtp(dtls: RTCDtlsTransport) -> SrtpSession | None:
    session: SrtpSession | None = dtls._tx_srtp
    return session


def nominated_sendto(
    dtls: RTCDtlsTransport,
) -> tuple[Callable[[bytes, Any], None], Any] | None:
    """(sendto, remote address) of the selected ICE pair for RTP, or None if none yet."""
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return None
    transport = pair.protocol.transport
    if transport is None:
        return None
    return transport.sendto, pair.remote_addr


# --- senders and transceivers ---------------------------------------------------


def sender_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


def negotiated_payload_type(transceiver: RTCRtpTransceiver) -> int | None:
    codecs = transceiver._codecs
    if not codecs or codecs[0].payloadType is None:
        return None
    return int(codecs[0].payloadType)
