"""The datagram format between media workers (pure functions)."""

from __future__ import annotations

import pytest

from parlor.media import relay_wire

RTP = bytes([0x90, 0x6F, 0x12, 0x34]) + bytes(8) + b"opus payload"


def test_round_trip() -> None:
    data = relay_wire.encode("r_abc", "u_42", RTP)
    assert data == b"\x01\x05r_abc\x04u_42" + RTP
    assert relay_wire.decode(data) == ("r_abc", "u_42", RTP)


def test_non_ascii_ids_round_trip() -> None:
    data = relay_wire.encode("salón", "zoë", RTP)
    assert relay_wire.decode(data) == ("salón", "zoë", RTP)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x01\x05r_a",  # room id cut short
        b"\x02\x05r_abc\x04u_42" + RTP,  # unknown version
        b"\x01\x00\x04u_42" + RTP,  # empty room id
        b"\x01\x05r_abc\x00" + RTP,  # empty speaker id
        b"\x01\x05r_abc\x04u_42" + RTP[:11],  # shorter than an RTP header
        b"\x01\x05r_abc\x04u_42" + b"\x40" + RTP[1:],  # not RTP version 2
        b"\x01\x05r\xff\xfebc\x04u_42" + RTP,  # not UTF-8
        b"\x01\xff" + b"x" * 40,  # length past the end
    ],
)
def test_malformed_is_none(data: bytes) -> None:
    assert relay_wire.decode(data) is None


def test_ids_must_fit_one_length_byte() -> None:
    relay_wire.header("r", "u" * 255)
    with pytest.raises(ValueError):
        relay_wire.header("r", "u" * 256)
    with pytest.raises(ValueError):
        relay_wire.header("", "u")
