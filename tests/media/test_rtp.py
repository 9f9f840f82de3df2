"""Pure functions of the fast path: RTP templates, SDP munging (slots: test_slots.py)."""

from __future__ import annotations

import struct

from parlor.media.rtp import STAMP, dtx_template, forward_template, level_to_loudness, opus_dtx
from parlor.media.sdp import with_opus_fmtp

PAYLOAD = b"opus-payload"


def packet(ext: bytes = b"", profile: int = 0xBEDE, csrcs: int = 0, marker: bool = False) -> bytes:
    b0 = 0x80 | csrcs | (0x10 if ext else 0)
    b1 = (0x80 if marker else 0) | 111
    head = struct.pack("!BBHII", b0, b1, 1234, 567890, 0xCAFE) + b"\x00\x00\x00\x07" * csrcs
    if ext:
        ext += b"\x00" * (-len(ext) % 4)
        head += struct.pack("!HH", profile, len(ext) // 4) + ext
    return head + PAYLOAD


def test_template_keeps_only_audio_level() -> None:
    # mid (id 1, 1 byte "0"), padding, audio level (id 2, V flag + 30)
    data = packet(bytes([0x10, ord("0"), 0x00, 0x20, 0x80 | 30]), csrcs=2, marker=True)
    result = forward_template(data, 2)
    assert result is not None
    template, level = result
    assert level == 0x80 | 30
    assert template[0] == 0x90  # version 2, extension, no CSRC
    assert template[1] == data[1]
    assert template[2:12] == data[2:12]
    assert template[12:20] == bytes([0xBE, 0xDE, 0, 1, 0x20, 0x80 | 30, 0, 0])
    assert template[20:] == PAYLOAD


def test_template_two_byte_extensions_and_none() -> None:
    data = packet(bytes([1, 1, ord("0"), 2, 1, 45]), profile=0x1000)
    result = forward_template(data, 2)
    assert result is not None and result[1] == 45
    assert result[0][20:] == PAYLOAD

    only_mid = forward_template(packet(bytes([0x10, ord("0")])), 2)
    assert only_mid is not None
    assert only_mid[1] is None
    assert only_mid[0][0] == 0x80 and only_mid[0][12:] == PAYLOAD

    plain = forward_template(packet(), 2)
    assert plain is not None and plain[0] == bytearray(packet())


def test_template_rejects_malformed() -> None:
    assert forward_template(b"\x80\x6f", 2) is None
    assert forward_template(b"\x00" * 20, 2) is None  # version 0
    truncated = packet(bytes([0x20, 10]))[:14]
    assert forward_template(truncated, 2) is None


def test_stamp_patches_header() -> None:
    result = forward_template(packet(marker=True), 2)
    assert result is not None
    template = result[0]
    STAMP.pack_into(template, 1, 0x80 | 96, 7, 99, 0xABCD)
    assert struct.unpack_from("!BBHII", template) == (0x80, 0x80 | 96, 7, 99, 0xABCD)


def test_opus_dtx_is_a_payload_of_two_bytes_at_most() -> None:
    def template(payload: bytes, level: bool = True, pad: int = 0) -> bytearray:
        data = packet(bytes([0x20, 0x80 | 30]) if level else b"")[: -len(PAYLOAD)] + payload
        if pad:
            data = bytes([data[0] | 0x20]) + data[1:] + bytes(pad - 1) + bytes([pad])
        result = forward_template(data, 2)
        assert result is not None
        return result[0]

    for level in (True, False):
        assert opus_dtx(template(b"\x78", level))  # the TOC byte alone (WebRTC's DTX packet)
        assert opus_dtx(template(b"\x78\x00", level))
        assert not opus_dtx(template(b"\x78" + bytes(60), level))  # a frame of audio
        assert opus_dtx(template(b"\x78", level, pad=4))  # padding is not audio
        assert not opus_dtx(template(b"\x78" + bytes(3), level, pad=4))
    # the SFU's own end-of-spurt packet is one
    spurt_end = dtx_template(template(b"\x78" + bytes(60)))
    assert spurt_end is not None and opus_dtx(spurt_end)


def test_level_to_loudness() -> None:
    assert level_to_loudness(0) == 1.0
    assert level_to_loudness(127) == 0.0
    assert 0.4 < level_to_loudness(60) < 0.6


def test_opus_fmtp() -> None:
    sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96 0\r\na=rtpmap:96 opus/48000/2\r\n" \
        "a=fmtp:96 minptime=20\r\na=rtpmap:0 PCMU/8000\r\n"
    out = with_opus_fmtp(sdp)
    assert "a=fmtp:96 minptime=10;useinbandfec=1;usedtx=1\r\n" in out
    assert "minptime=20" not in out
    assert out.count("a=fmtp:") == 1

