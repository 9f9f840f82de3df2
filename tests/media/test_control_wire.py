"""Framing of the pool ↔ worker control channel."""

from __future__ import annotations

import asyncio
import struct

import pytest

from parlor.media.control_wire import MAX_MESSAGE, ControlError, frame, read_message


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_messages_round_trip_and_a_clean_end_is_none() -> None:
    reader = reader_of(frame({"id": 1, "op": "open_peer", "room": "salón"}) + frame({"ev": "stats"}))
    assert await read_message(reader) == {"id": 1, "op": "open_peer", "room": "salón"}
    assert await read_message(reader) == {"ev": "stats"}
    assert await read_message(reader) is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00",  # cut inside the length
        struct.pack("!I", 10) + b"{}",  # cut inside the body
        struct.pack("!I", MAX_MESSAGE + 1),
        struct.pack("!I", 3) + b"{x}",
        struct.pack("!I", 2) + b"[]",
    ],
)
async def test_garbage_raises(data: bytes) -> None:
    with pytest.raises(ControlError):
        await read_message(reader_of(data))
