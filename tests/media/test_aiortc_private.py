"""Fail loudly if an aiortc / aioice upgrade moves the internals the SFU relies on."""

from __future__ import annotations

import inspect

import aioice.ice
import aiortc
import pytest
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpSender
from media_helpers import LOOPBACK

from parlor.media import aiortc_private as priv
from parlor.media.sfu import _SilentTrack

pytestmark = pytest.mark.media


def test_pinned_versions() -> None:
    assert aiortc.__version__ == "1.16.0"


def test_extension_ids() -> None:
    assert priv.AUDIO_LEVEL_EXT_ID == 2
    assert priv.MID_EXT_ID == 1


def test_get_host_addresses_signature() -> None:
    params = list(inspect.signature(aioice.ice.get_host_addresses).parameters)
    assert params == ["use_ipv4", "use_ipv6"]
    source = inspect.getsource(aioice.ice.Connection.gather_candidates)
    assert "get_host_addresses(" in source


def test_dtls_transport_internals() -> None:
    params = list(inspect.signature(RTCDtlsTransport._handle_rtp_data).parameters)
    assert params == ["self", "data", "arrival_time_ms"]
    assert inspect.iscoroutinefunction(RTCDtlsTransport._handle_rtp_data)
    # the receive loop calls the handler through the instance, so an instance hook wins
    source = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in source
    assert "self._tx_srtp" in inspect.getsource(RTCDtlsTransport.__init__)


async def test_peer_internals_and_host_override() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver(_SilentTrack(), direction="sendonly")
        assert isinstance(transceiver.sender, RTCRtpSender)
        assert isinstance(priv.sender_ssrc(transceiver.sender), int)
        assert transceiver._codecs == []
        assert priv.negotiated_payload_type(transceiver) is None
        dtls = transceiver.receiver.transport
        assert priv.outbound_srtp(dtls) is None
        assert dtls.transport._connection._nominated == {}
        assert priv.nominated_sendto(dtls) is None
        with priv.advertise_hosts(LOOPBACK):
            await pc.setLocalDescription(await pc.createOffer())
        hosts = {c.ip for c in dtls.transport.iceGatherer.getLocalCandidates()}
        assert hosts == {"127.0.0.1"}
        assert priv.negotiated_payload_type(transceiver) == 96
    finally:
        await pc.close()
    # outside the block aioice behaves as before: never loopback
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
