"""RTP header surgery for the fast path: read the audio level, build one template.

Pure functions on bytes (RFC 3550 header, RFC 8285 header extensions, RFC 6464 level).
"""

from __future__ import annotations

import struct

RTP_HEADER = 12
SILENT_LEVEL = 127  # RFC 6464: 0 is 0 dBov (loudest), 127 is -127 dBov (silence)

# offset 1: marker|payload type, then sequence number, timestamp, SSRC
STAMP = struct.Struct("!BHII")


def level_to_loudness(level: int) -> float:
    """RFC 6464 level (-dBov, 0..127) to a 0..1 loudness for the UI."""
    return max(0.0, 1.0 - level / SILENT_LEVEL)


def _find_level(ext: bytes | memoryview, two_byte: bool, level_id: int) -> int | None:
    i, n = 0, len(ext)
    while i < n:
        if two_byte:
            ext_id = ext[i]
            if ext_id == 0:
                i += 1
                continue
            if i + 1 >= n:
                return None
            length = ext[i + 1]
            i += 2
        else:
            b = ext[i]
            ext_id, length = b >> 4, (b & 0x0F) + 1
            if ext_id == 0:
                i += 1
                continue
            if ext_id == 15:
                return None
            i += 1
        if ext_id == level_id and length >= 1 and i < n:
            return int(ext[i])
        i += length
    return None


def forward_template(data: bytes, level_id: int) -> tuple[bytearray, int | None] | None:
    """Template for forwarding one RTP packet, and its audio-level byte.

    The template has no CSRCs and one header extension, the audio level (one-byte
    form, id `level_id`), if the packet carried one; every other extension (the
    speaker's MID in particular) is dropped. The returned level byte is the raw
    RFC 6464 byte (V flag in the top bit). Returns None for a malformed packet.
    """
    n = len(data)
    if n < RTP_HEADER:
        return None
    b0 = data[0]
    if b0 >> 6 != 2:
        return None
    offset = RTP_HEADER + 4 * (b0 & 0x0F)
    level: int | None = None
    if b0 & 0x10:
        if offset + 4 > n:
            return None
        profile, words = struct.unpack_from("!HH", data, offset)
        ext_end = offset + 4 + 4 * words
        if ext_end > n:
            return None
        if profile == 0xBEDE:
            level = _find_level(memoryview(data)[offset + 4 : ext_end], False, level_id)
        elif profile & 0xFFF0 == 0x1000:
            level = _find_level(memoryview(data)[offset + 4 : ext_end], True, level_id)
        offset = ext_end
    if offset > n:
        return None
    if level is None:
        template = bytearray(data[:RTP_HEADER])
        template[0] = 0x80 | (b0 & 0x20)
    else:
        template = bytearray(data[:RTP_HEADER])
        template[0] = 0x90 | (b0 & 0x20)
        template += bytes((0xBE, 0xDE, 0, 1, level_id << 4, level, 0, 0))
    template += data[offset:]
    return template, level
