"""Helpers for the media tests (real aiortc peers over loopback)."""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from collections.abc import Callable
from pathlib import Path

from parlor.client.media import MediaSession
from parlor.media.sfu import Sfu

LOOPBACK = ("127.0.0.1",)
ROOM = "room-1"


def write_tone(path: Path, seconds: float = 2.0, freq: float = 440.0, rate: int = 48000, amplitude: int = 12000) -> str:
    """A mono sine WAV (no external tools); the default is loud (about -11 dBov)."""
    n = int(seconds * rate)
    frames = b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return str(path)


async def wait_for(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def join(
    sfu: Sfu,
    clients: list[MediaSession],
    user_id: str,
    *,
    send_wav: str | None = None,
    room: str = ROOM,
    record_rtp: bool = False,
) -> MediaSession:
    client = MediaSession(send_wav=send_wav, ice_hosts=LOOPBACK, record_rtp=record_rtp)
    clients.append(client)
    offer = await sfu.open_peer(room, user_id)
    answer = await client.answer(offer)
    await sfu.accept_answer(room, user_id, answer)
    return client


async def connected(*sessions: MediaSession) -> None:
    await wait_for(lambda: all(s.connection_state == "connected" for s in sessions))


async def speaker_and_listener(
    sfu: Sfu, clients: list[MediaSession], tone_wav: str, *, record_rtp: bool = False
) -> tuple[MediaSession, MediaSession]:
    """The usual pair: an audible "speaker" sending `tone_wav` and a connected "listener"."""
    sfu.set_audible(ROOM, frozenset({"speaker"}))
    speaker = await join(sfu, clients, "speaker", send_wav=tone_wav)
    listener = await join(sfu, clients, "listener", record_rtp=record_rtp)
    await connected(speaker, listener)
    return speaker, listener
