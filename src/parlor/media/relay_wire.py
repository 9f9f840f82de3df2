"""The datagram one media worker sends another: a speaker's RTP packet for a room.

DESIGN §4 "Beyond one core": the speaker's worker relays each packet once to every
other worker with peers of the room, over UDP on loopback. Plain RTP (already
decrypted by the speaker's transport), behind a tiny header:

    version (1 byte, 1) | len(room) (1 byte) | room id (UTF-8) | len(speaker) (1 byte) | speaker id (UTF-8) | RTP

Pure functions, no I/O; `decode` never raises, it returns None for anything malformed.
"""

from __future__ import annotations

VERSION = 1
_MAX_ID = 255
_MIN_RTP = 12  # a fixed RTP header


def header(room_id: str, speaker_id: str) -> bytes:
    """The bytes in front of the RTP packet; cache it per (room, speaker)."""
    room = room_id.encode()
    speaker = speaker_id.encode()
    if not room or len(room) > _MAX_ID or not speaker or len(speaker) > _MAX_ID:
        raise ValueError("room and speaker ids must be 1..255 bytes of UTF-8")
    return bytes((VERSION, len(room))) + room + bytes((len(speaker),)) + speaker


def encode(room_id: str, speaker_id: str, rtp: bytes) -> bytes:
    return header(room_id, speaker_id) + rtp


def decode(data: bytes) -> tuple[str, str, bytes] | None:
    """(room id, speaker id, RTP) or None if `data` is not a well-formed relay datagram."""
    try:
        if len(data) < 3 or data[0] != VERSION:
            return None
        room_end = 2 + data[1]
        speaker_end = room_end + 1 + data[room_end]
        rtp = data[speaker_end:]
        if data[1] == 0 or data[room_end] == 0 or len(rtp) < _MIN_RTP or rtp[0] >> 6 != 2:
            return None
        return data[2:room_end].decode(), data[room_end + 1 : speaker_end].decode(), rtp
    except (IndexError, UnicodeDecodeError):
        return None
