"""The C fan-out (media/_fanout.c) on its own: real sockets, real libsrtp sessions.

Each packet is unprotected with the matching inbound session, so a wrong stamp, a
wrong context or a bad protect length fails here rather than in a listener.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator

import pytest
from pylibsrtp import Policy, Session

from parlor.media import _fanout  # built by `pip install`: this test fails, not skips, without it
from parlor.media import aiortc_private as priv

KEY = bytes(range(30))
LEVEL_EXTENSION = bytes((0xBE, 0xDE, 0, 1, 0x10, 0x85, 0, 0))
TEMPLATE = bytearray(struct.pack("!BBHII", 0x90, 0, 0, 0, 0) + LEVEL_EXTENSION + b"\x01" * 80)


def _session(direction: int) -> Session:
    return Session(policy=Policy(key=KEY, ssrc_type=direction, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))


class Listener:
    def __init__(self, key: str, ssrcs: list[int], seqs: list[int], tss: list[int], payload_type: int = 111) -> None:
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.bind(("127.0.0.1", 0))
        self.rx.settimeout(1.0)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inbound = _session(Policy.SSRC_ANY_INBOUND)
        outbound = _session(Policy.SSRC_ANY_OUTBOUND)
        pointers = priv.fanout_srtp(outbound)
        assert pointers is not None
        host, port = self.rx.getsockname()
        self.route = _fanout.Route(
            key, self.tx.fileno(), host, port, *pointers, outbound, payload_type, ssrcs, seqs, tss, 100.0
        )

    def receive(self) -> tuple[int, int, int, int, bytes]:
        """(marker|pt byte, seq, ts, ssrc, payload) of the next packet, verified."""
        packet = self.inbound.unprotect(self.rx.recv(2048))
        byte1, seq, ts, ssrc = struct.unpack_from("!xBHII", packet)
        return byte1, seq, ts, ssrc, packet[12:]

    def silent(self) -> bool:
        self.rx.settimeout(0.05)
        try:
            self.rx.recv(2048)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.route.close()
        self.rx.close()
        self.tx.close()


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made = [
        Listener("ann", [0xA1, 0xA2], [100, 65535], [1000, 0xFFFFFF00]),
        Listener("bob", [0xB1, 0xB2], [7, 8], [70, 80], payload_type=109),
    ]
    yield made
    for listener in made:
        listener.close()


def test_stamps_protects_and_sends_to_every_route_but_the_skipped(listeners: list[Listener]) -> None:
    ann, bob = listeners
    routes = [ann.route, bob.route]
    sent, failed = _fanout.fan_out(routes, None, 0, 1, TEMPLATE, 0x80, 5000, 960_000, 100.5)
    assert (sent, failed) == (2, [])
    byte1, seq, ts, ssrc, payload = ann.receive()
    # the first packet of a slot follows on from the slot's last (seq + 1, ts + 0.5 s)
    assert (byte1, seq, ts, ssrc) == (0x80 | 111, 101, 1000 + 24000, 0xA1)
    assert payload == bytes(TEMPLATE[12:])
    assert bob.receive()[:4] == (0x80 | 109, 8, 70 + 24000, 0xB1)

    # the same speaker goes on: offsets kept; bob's route is skipped (his own audio)
    sent, _ = _fanout.fan_out(routes, bob.route, 0, 1, TEMPLATE, 0, 5001, 960_960, 100.52)
    assert sent == 1
    assert ann.receive()[:4] == (111, 102, 1000 + 24000 + 960, 0xA1)
    assert bob.silent()


def test_a_new_speaker_on_a_slot_continues_its_numbering(listeners: list[Listener]) -> None:
    ann = listeners[0]
    _fanout.fan_out([ann.route], None, 1, 1, TEMPLATE, 0, 40_000, 5, 100.0)
    first = ann.receive()
    # both wrap: seq from 65535 to 0, ts by the minimum gap (20 ms) past 2^32
    assert first[1:4] == (0, (0xFFFFFF00 + 960) % 2**32, 0xA2)
    # another speaker (generation 2) takes slot 1 with unrelated numbers, 0.125 s later
    _fanout.fan_out([ann.route], None, 1, 2, TEMPLATE, 0, 123, 777_777, 100.125)
    second = ann.receive()
    assert second[1] == 1  # sequence continuous
    # timestamps move on by the time between, in whole frames (0.125 s is 6.25 frames: 6)
    assert (second[2] - first[2]) % 2**32 == 6 * 960
    assert second[3] == 0xA2


def test_a_failing_route_is_reported_and_the_others_still_get_theirs(listeners: list[Listener]) -> None:
    ann, bob = listeners
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, ann.route.fd)  # ann's socket is now something else: sendto fails
    os.close(devnull)
    sent, failed = _fanout.fan_out([ann.route, bob.route], None, 0, 1, TEMPLATE, 0, 1, 1, 100.0)
    assert sent == 1 and failed == [ann.route]
    assert bob.receive()[3] == 0xB1
    bob.route.close()
    assert bob.route.closed
    assert _fanout.fan_out([bob.route], None, 0, 1, TEMPLATE, 0, 2, 2, 100.0) == (0, [bob.route])


def test_bad_arguments_are_refused(listeners: list[Listener]) -> None:
    ann = listeners[0]
    with pytest.raises(ValueError):
        _fanout.fan_out([ann.route], None, 0, 1, b"short", 0, 1, 1, 0.0)
    with pytest.raises(ValueError):
        _fanout.fan_out([ann.route], None, 0, 1, bytes(1400), 0, 1, 1, 0.0)
    with pytest.raises(ValueError):
        _fanout.fan_out([ann.route], None, 99, 1, TEMPLATE, 0, 1, 1, 0.0)
    session = _session(Policy.SSRC_ANY_OUTBOUND)
    pointers = priv.fanout_srtp(session)
    assert pointers is not None
    good = ("k", ann.tx.fileno(), "127.0.0.1", 9, *pointers, session, 111, [1], [1], [1], 0.0)
    _fanout.Route(*good).close()
    for index, value in ((2, "localhost"), (3, 0), (4, 0), (7, 128), (8, []), (8, list(range(17))), (9, [1, 2])):
        bad = list(good)
        bad[index] = value
        with pytest.raises(ValueError):
            _fanout.Route(*bad)
