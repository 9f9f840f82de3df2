"""The kernel RTCP filter on real UDP sockets: RTCP dropped, STUN, DTLS and RTP through."""

from __future__ import annotations

import socket

import pytest

from parlor.media import socket_filter

DATAGRAMS = {
    "rtp, opus": bytes([0x80, 111]) + bytes(30),
    "rtp, marker set": bytes([0x80, 0x80 | 111]) + bytes(30),
    "rtcp sender report": bytes([0x80, 200]) + bytes(30),
    "rtcp receiver report": bytes([0x81, 201]) + bytes(30),
    "rtcp feedback (nack/pli)": bytes([0x81, 205]) + bytes(30),
    "rtcp, top of the range": bytes([0x80, 223]) + bytes(30),
    "stun binding request": bytes([0x00, 0x01]) + bytes(30),
    "dtls record": bytes([23, 0xFE]) + bytes(30),
}
DROPPED = {"rtcp sender report", "rtcp receiver report", "rtcp feedback (nack/pli)", "rtcp, top of the range"}


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    yield rx, tx
    rx.close()
    tx.close()


def _through(rx: socket.socket, tx: socket.socket) -> set[str]:
    got = set()
    for name, data in DATAGRAMS.items():
        tx.sendto(data, rx.getsockname())
        try:
            assert rx.recv(2048) == data
            got.add(name)
        except TimeoutError:
            pass
    return got


def test_without_the_filter_everything_arrives(pair: tuple[socket.socket, socket.socket]) -> None:
    assert _through(*pair) == set(DATAGRAMS)


def test_the_filter_drops_exactly_rtcp(pair: tuple[socket.socket, socket.socket]) -> None:
    rx, tx = pair
    assert socket_filter.attach(rx)
    assert _through(rx, tx) == set(DATAGRAMS) - DROPPED
