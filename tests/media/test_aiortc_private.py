"""Fail loudly if an aiortc / aioice upgrade moves the internals the SFU relies on."""

from __future__ import annotations

import gc
import inspect
import struct
from pathlib import Path

import aioice.ice
import aiortc
import pytest
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from media_helpers import LOOPBACK
from pylibsrtp import Policy, Session

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


def test_connect_starts_media_through_the_instance() -> None:
    # never_start shadows sender.send / receiver.receive on the instance: aiortc must
    # still start media by calling them through the transceiver's sender / receiver
    source = inspect.getsource(RTCPeerConnection._RTCPeerConnection__connect)  # type: ignore[attr-defined]
    assert "await transceiver.sender.send(self.__localRtp(transceiver))" in source
    assert "await transceiver.receiver.receive(" in source


def test_sender_machinery_starts_in_send_only() -> None:
    assert list(inspect.signature(RTCRtpSender.send).parameters) == ["self", "parameters"]
    send = inspect.getsource(RTCRtpSender.send)
    assert "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())" in send
    assert "self.__started = True" in send
    assert "self.__started = False" in inspect.getsource(RTCRtpSender.__init__)
    # a sender that never started is skipped by stop() (pc.close())
    stop = inspect.getsource(RTCRtpSender.stop)
    assert "if self.__started:" in stop


def test_receiver_machinery_starts_in_receive_only() -> None:
    assert list(inspect.signature(RTCRtpReceiver.receive).parameters) == ["self", "parameters"]
    receive = inspect.getsource(RTCRtpReceiver.receive)
    assert "self.__decoder_thread.start()" in receive
    assert "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())" in receive
    assert "self.__started = True" in receive
    assert "self.__started = False" in inspect.getsource(RTCRtpReceiver.__init__)
    assert "if self.__started:" in inspect.getsource(RTCRtpReceiver.stop)
    # the disconnect path only joins a decoder thread that exists
    assert "if self.__decoder_thread:" in inspect.getsource(RTCRtpReceiver._RTCRtpReceiver__stop_decoder)  # type: ignore[attr-defined]


async def test_never_start_and_started_flags() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver(_SilentTrack(), direction="sendonly")
        assert priv.sender_started(transceiver.sender) is False
        assert priv.receiver_started(transceiver.receiver) is False
        priv.never_start(transceiver)
        await transceiver.sender.send(None)  # type: ignore[arg-type]
        await transceiver.receiver.receive(None)  # type: ignore[arg-type]
        assert priv.sender_started(transceiver.sender) is False
        assert priv.receiver_started(transceiver.receiver) is False
    finally:
        await pc.close()


def test_rtcp_paths() -> None:
    # decrypted RTCP goes through the instance's _handle_rtcp_data
    assert list(inspect.signature(RTCDtlsTransport._handle_rtcp_data).parameters) == ["self", "data"]
    assert inspect.iscoroutinefunction(RTCDtlsTransport._handle_rtcp_data)
    source = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "await self._handle_rtcp_data(data)" in source
    # aioice hands datagrams to the protocol's datagram_received, which queues non-STUN
    # data for the DTLS transport; the event loops look the method up on each datagram
    params = list(inspect.signature(aioice.ice.StunProtocol.datagram_received).parameters)
    assert params == ["self", "data", "addr"]
    assert "self.receiver.data_received(" in inspect.getsource(aioice.ice.StunProtocol.datagram_received)


def test_event_loops_look_up_datagram_received_per_datagram() -> None:
    import asyncio.selector_events

    source = inspect.getsource(asyncio.selector_events._SelectorDatagramTransport._read_ready)
    assert "self._protocol.datagram_received(data, addr)" in source
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return
    udp = Path(uvloop.__file__).parent / "handles" / "udp.pyx"
    if udp.exists():  # the node runs on uvloop
        assert "self._protocol.datagram_received, data, addr" in udp.read_text()


def test_lean_protect_matches_pylibsrtp() -> None:
    # two sessions with one key: pylibsrtp's own protect and the lean one agree, packet
    # for packet, and the lean one keeps its session alive on its own
    key = bytes(range(30))

    def session() -> Session:
        policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        return Session(policy=policy)

    reference = session()
    lean = priv.lean_protect(session())
    gc.collect()
    for seq in range(3):
        packet = bytearray(struct.pack("!BBHII", 0x80, 111, seq, seq * 960, 0x1234) + bytes(80))
        assert lean(packet) == reference.protect(bytes(packet))
    with pytest.raises(ValueError):
        lean(bytes(1500))


def test_host_candidates_are_bound_where_the_port_range_wrapper_expects() -> None:
    # priv.udp_port_range replaces get_component_candidates' host-socket binding: it
    # must still be the method that binds host sockets to port 0 for each address
    params = list(inspect.signature(aioice.ice.Connection.get_component_candidates).parameters)
    assert params[:3] == ["self", "component", "addresses"]
    source = inspect.getsource(aioice.ice.Connection.get_component_candidates)
    assert "local_addr=(address, 0)" in source
    assert "self._protocols += host_protocols" in source
    assert "aioice.ice.Connection.get_component_candidates(" in inspect.getsource(
        aioice.ice.Connection.gather_candidates
    ) or "self.get_component_candidates(" in inspect.getsource(aioice.ice.Connection.gather_candidates)


async def test_media_peers_bind_inside_the_udp_port_range_and_still_connect(tone_wav: str) -> None:
    import socket

    from media_helpers import connected, join, wait_for

    from parlor.media.sfu import Sfu

    # a range of 4 free ports, one of them taken by someone else: peers skip it
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        first = probe.getsockname()[1]
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", first + 1))
    # a socket per peer (PARLOR_UDP_MUX=0); tests/media/test_udp_mux.py has the shared one
    sfu = Sfu(ice_hosts=LOOPBACK, udp_ports=(first, first + 3), udp_mux=False)
    clients: list = []
    try:
        sfu.set_audible("room-1", frozenset({"speaker"}))
        speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
        listener = await join(sfu, clients, "listener")
        await connected(speaker, listener)
        await wait_for(lambda: listener.packets_received > 20)
        offer = await sfu.open_peer("room-1", "third")
        ports = [int(line.split()[5]) for line in offer.splitlines() if line.startswith("a=candidate:")]
        assert ports and all(first <= p <= first + 3 and p != first + 1 for p in ports), ports
        for dtls in sfu_transports(sfu):
            port = dtls.transport._connection._nominated[1].local_candidate.port
            assert first <= port <= first + 3 and port != first + 1
        # the range is full now (3 free ports, 3 peers): a fourth gets no host candidate
        fourth = await sfu.open_peer("room-1", "fourth")
        assert not [line for line in fourth.splitlines() if line.startswith("a=candidate:")]
    finally:
        busy.close()
        for c in clients:
            await c.close()
        await sfu.close()
    # outside the block, aioice binds as before (any port)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        with priv.advertise_hosts(LOOPBACK):
            await pc.setLocalDescription(await pc.createOffer())
        ports = [int(line.split()[5]) for line in pc.localDescription.sdp.splitlines() if "candidate:" in line]
        assert ports
    finally:
        await pc.close()


def sfu_transports(sfu: object) -> list:
    """The DTLS transports of the SFU's connected peers (test-only reach)."""
    found = []
    for room in sfu._rooms.values():  # type: ignore[attr-defined]
        for peer in room.peers.values():
            pc = getattr(peer, "pc", None)
            if pc is not None and pc.connectionState == "connected":
                found.append(pc.getTransceivers()[0].receiver.transport)
    return found


def test_ice_lite_hooks() -> None:
    # priv.ice_lite swaps Connection.connect and check_incoming on the instance: aiortc
    # and aioice must still call them through it
    from aiortc.rtcicetransport import RTCIceTransport

    assert "await self._connection.connect()" in inspect.getsource(RTCIceTransport.start)
    request_received = inspect.getsource(aioice.ice.Connection.request_received)
    # every authenticated check is answered before it is acted on, or kept until connect()
    assert request_received.index("protocol.send_stun(response, addr)") < request_received.index(
        "self.check_incoming(message, addr, protocol)"
    )
    assert "self._early_checks.append((message, addr, protocol))" in request_received
    # the role-conflict rule the lite agent's tie-breaker of 0 relies on (it always loses)
    assert 'if self._tie_breaker < message.attributes["ICE-CONTROLLED"]:' in request_received
    assert list(inspect.signature(aioice.ice.Connection.check_incoming).parameters) == [
        "self", "message", "addr", "protocol"
    ]
    # the replaced connect() is where aioice would start its checks and its consent loop
    connect = inspect.getsource(aioice.ice.Connection.connect)
    assert "self._check_periodic()" in connect
    assert "asyncio.create_task(self.query_consent())" in connect
    assert "if res != ICE_COMPLETED:" in connect
    # aioice's own consent expiry closes the connection: priv.expire_consent does the same
    assert "return await self.close()" in inspect.getsource(aioice.ice.Connection.query_consent)
    # the internals the lite connect / check_incoming use
    maybe_complete = inspect.getsource(aioice.ice.Connection._check_list_maybe_complete)
    assert "self._check_list_state.put_nowait(ICE_COMPLETED)" in maybe_complete
    assert list(inspect.signature(aioice.ice.CandidatePair).parameters) == ["protocol", "remote_candidate"]
    init = inspect.getsource(aioice.ice.Connection.__init__)
    for name in ("_early_checks", "_early_checks_done", "_check_list_state", "_nominated", "_tie_breaker",
                 "_remote_candidates", "_local_candidates_end", "_check_list"):
        assert f"self.{name}" in init, name
    assert callable(aioice.ice.Connection._find_pair)
    # setLocalDescription(offer) leaves a role already set alone, and the offer's ICE
    # parameters (a=ice-lite among them) come from the gatherer
    from aiortc import rtcpeerconnection, sdp

    set_local = inspect.getsource(RTCPeerConnection.setLocalDescription)
    assert "if not iceTransport._role_set:" in set_local
    assert "media.ice = iceGatherer.getLocalParameters()" in inspect.getsource(
        rtcpeerconnection.add_transport_description
    )
    assert 'lines += ["a=ice-lite"]' in inspect.getsource(sdp.SessionDescription.__str__)


async def test_ice_lite_offer() -> None:
    pc = RTCPeerConnection()
    try:
        for _ in range(2):
            priv.never_start(pc.addTransceiver(_SilentTrack(), direction="sendonly"))
        priv.ice_lite(pc)
        with priv.advertise_hosts(LOOPBACK):
            await pc.setLocalDescription(await pc.createOffer())
        session = pc.localDescription.sdp.split("\r\nm=")[0]
        assert "a=ice-lite" in session.splitlines()
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            assert dtls.transport.role == "controlled"
            assert priv.is_ice_lite(dtls)
            assert not priv.consent_expired(dtls, float("inf"))  # not connecting yet
    finally:
        await pc.close()
