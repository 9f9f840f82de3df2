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


def rtp_payload(data: bytes | bytearray) -> tuple[int, int, int] | None:
    """(payload type, payload start, payload end) of a well-formed RTP packet, else None.

    Checks the version, the CSRC list and header extension lengths and the padding
    count (RFC 3550 §5.1), so the payload bounds can be trusted.
    """
    n = len(data)
    if n < RTP_HEADER or data[0] >> 6 != 2:
        return None
    b0 = data[0]
    start = RTP_HEADER + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if start + 4 > n:
            return None
        start += 4 + 4 * ((data[start + 2] << 8) | data[start + 3])
    end = n
    if b0 & 0x20:
        pad = data[n - 1]
        if pad == 0:
            return None
        end -= pad
    if start > end:
        return None
    return data[1] & 0x7F, start, end


def opus_ok(payload: bytes | memoryview) -> bool:
    """Whether `payload` is a well-formed Opus packet (RFC 6716 §3.4, rules R1-R7).

    A TOC byte, then one frame (code 0), two equal frames (code 1), two frames with an
    explicit first length (code 2) or 1-48 frames of at most 120 ms in all (code 3,
    CBR or VBR, with optional padding). Frames are at most 1275 bytes. A packet of the
    TOC byte alone is a DTX / lost frame, which is well formed.
    """
    n = len(payload)
    if n < 1:
        return False
    toc = payload[0]
    code = toc & 0x03
    body = n - 1
    if code == 0:
        return body <= 1275
    if code == 1:
        return body % 2 == 0 and body // 2 <= 1275
    if code == 2:
        first, used = _frame_length(payload, 1)
        return first >= 0 and first <= body - used and body - used - first <= 1275
    if n < 2:
        return False
    count_byte = payload[1]
    frames = count_byte & 0x3F
    # frame duration from the TOC's configuration (RFC 6716 table 2), in 0.1 ms
    config = toc >> 3
    if config < 12:
        tenths = (100, 200, 400, 600)[config & 3]
    elif config < 16:
        tenths = (100, 200)[config & 1]
    else:
        tenths = (25, 50, 100, 200)[config & 3]
    if frames == 0 or frames * tenths > 1200:
        return False
    i = 2
    padding = 0
    if count_byte & 0x40:  # padding length bytes: 255 means 254 and another byte follows
        while True:
            if i >= n:
                return False
            p = payload[i]
            i += 1
            padding += 254 if p == 255 else p
            if p != 255:
                break
    remaining = n - i - padding
    if remaining < 0:
        return False
    if not count_byte & 0x80:  # CBR: equal frames
        return remaining % frames == 0 and remaining // frames <= 1275
    for _ in range(frames - 1):  # VBR: every length but the last is explicit
        length, used = _frame_length(payload, i)
        if length < 0:
            return False
        i += used
        remaining -= used + length
        if remaining < 0:
            return False
    return 0 <= remaining <= 1275


def _frame_length(payload: bytes | memoryview, i: int) -> tuple[int, int]:
    """(frame length, bytes used) of an RFC 6716 §3.2.1 length at `i`; (-1, 0) if cut off."""
    if i >= len(payload):
        return -1, 0
    first = payload[i]
    if first < 252:
        return first, 1
    if i + 1 >= len(payload):
        return -1, 0
    return first + 4 * payload[i + 1], 2


# The TOC byte of the DTX packet the server inserts in an encrypted room, where it cannot
# read the talker's: one 20 ms frame, hybrid fullband, mono, code 0 (RFC 6716 table 2).
ENCRYPTED_DTX_TOC = 15 << 3

SFRAME_TAG = 16  # AES_128_GCM_SHA256_128's tag (docs/E2EE.md §4)


def sframe_ok(payload: bytes | memoryview) -> bool:
    """Whether an encrypted room's payload can be an SFrame frame (RFC 9605 §4.3: a
    header that parses, then at least the 16-byte tag) or the 1–2 byte Opus DTX frame
    that senders leave in clear. The server cannot check more: it holds no key."""
    n = len(payload)
    if n <= 2:
        return n > 0
    config = payload[0]
    size = 1
    for nibble in (config >> 4, config & 0xF):
        if nibble & 0x8:
            size += (nibble & 0x7) + 1
    return n >= size + SFRAME_TAG


def opus_dtx(template: bytes | bytearray) -> bool:
    """Whether a `forward_template` packet is an Opus DTX packet: a payload of at most
    2 bytes (the TOC byte, maybe an empty frame), no audio. WebRTC's encoder sends one
    when its voice detector finds the talker has stopped, then nothing (bar a comfort
    noise refresh every 400 ms) until speech starts again."""
    b0 = template[0]
    start = RTP_HEADER + (8 if b0 & 0x10 else 0)  # forward_template's only two shapes
    end = len(template)
    if b0 & 0x20 and end > start:
        end -= template[end - 1]
    return end - start <= 2


def dtx_template(template: bytes | bytearray, toc: int | None = None) -> bytearray | None:
    """A DTX packet that ends a talk-spurt, from the last forwarded template.

    The same header and audio-level extension (level set to silence), no padding, and
    an Opus payload of the TOC byte alone (one frame, code 0): the listener's jitter
    buffer takes it as "silence from here" and plays comfort noise until the slot's
    next packet, instead of concealing a loss for every 10 ms of the gap. `toc`: the
    TOC byte to use instead of the template's (an encrypted room's payload has none; a
    1-byte frame goes to the decoder as is, docs/E2EE.md §4).
    """
    b0 = template[0]
    start = RTP_HEADER + (8 if b0 & 0x10 else 0)  # forward_template's only two shapes
    if len(template) <= start:
        return None
    out = bytearray(template[:start])
    out[0] = b0 & ~0x20 & 0xFF
    if b0 & 0x10:
        out[RTP_HEADER + 5] = SILENT_LEVEL
    out.append(template[start] & 0xFC if toc is None else toc)
    return out
