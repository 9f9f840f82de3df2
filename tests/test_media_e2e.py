"""Audio through the whole stack: parlor.client bots ↔ a real server ↔ the SFU.

Real aiortc peers over loopback (ICE, DTLS, SRTP); the stage is changed through
the REST API, and the media plane must follow it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.media.media_helpers import write_tone

from parlor.client import ParlorClient
from parlor.client.media import MediaSession

pytestmark = pytest.mark.media
LOOPBACK = ("127.0.0.1",)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


async def bot(server: LiveServer, name: str) -> ParlorClient:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, name)
    client = ParlorClient(server.url, token, ice_hosts=LOOPBACK)
    await client.connect()
    return client


async def eventually(predicate: Callable[[], bool], within: float = 8.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


def packets(media: MediaSession | None) -> int:
    assert media is not None
    return media.packets_received


async def quiet_for(media: MediaSession | None, seconds: float = 1.5) -> int:
    """Packets that arrived during `seconds`, after letting in-flight ones land."""
    await asyncio.sleep(0.4)
    before = packets(media)
    await asyncio.sleep(seconds)
    return packets(media) - before


async def test_listeners_hear_the_speaker_and_a_tampering_listener_is_heard_by_nobody(
    server: LiveServer, tmp_path: Path
) -> None:
    ann_tone = write_tone(tmp_path / "ann.wav", seconds=3, freq=440)
    carl_tone = write_tone(tmp_path / "carl.wav", seconds=3, freq=660)
    ann, bob, carl = [await bot(server, n) for n in ("ann", "bob", "carl")]
    try:
        room = await ann.create_room("Tamper-proof")
        ann_room = await ann.join_room(room["id"], send_wav=ann_tone)
        await ann_room.post("mute", {"muted": False})  # the creator comes on stage muted
        bob_room = await bob.join_room(room["id"])
        # carl is a listener whose client sends audio anyway
        carl_room = await carl.join_room(room["id"], send_wav=carl_tone)

        await eventually(lambda: packets(bob_room.media) > 100 and packets(carl_room.media) > 100)
        assert bob_room.media is not None and bob_room.media.level() > 0.05
        # Only ann's stream reaches bob: one slot in use, never a second one for carl.
        assert len([n for n in bob_room.media.per_ssrc.values() if n > 0]) == 1
        sfu = server.app.state.services.media
        assert sfu.room_counters(room["id"])["dropped"] > 50  # carl's packets, dropped
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = dict(
                line.split(" ") for line in (await http.get("/metrics")).text.splitlines() if not line.startswith("#")
            )
        assert int(metrics["parlor_media_packets_forwarded_total"]) >= 200  # to bob and carl
        assert int(metrics["parlor_media_packets_dropped_total"]) > 50
        assert metrics["parlor_media_peers"] == "3"

        # ann mutes: now only the tamperer sends, and nobody gets anything.
        await ann_room.post("mute", {"muted": True})
        assert await quiet_for(bob_room.media) == 0
        assert await quiet_for(ann_room.media) == 0
        # ann unmutes: bob hears her again (so the silence above was the rule, not a broken link)
        await ann_room.post("mute", {"muted": False})
        start = packets(bob_room.media)
        await eventually(lambda: packets(bob_room.media) > start + 40)
    finally:
        for c in (ann, bob, carl):
            await c.close()


async def test_a_promoted_listener_is_heard_after_unmuting_and_not_after_muting(
    server: LiveServer, tmp_path: Path
) -> None:
    tone = write_tone(tmp_path / "bob.wav", seconds=3, freq=500)
    ann, bob = await bot(server, "ann"), await bot(server, "bob")
    try:
        room = await ann.create_room("Stage")
        ann_room = await ann.join_room(room["id"])  # ann says nothing
        bob_room = await bob.join_room(room["id"])
        await bob_room.post("hand", {"raised": True})
        await ann_room.post("speak-invites", {"user_id": bob.user_id})
        await bob_room.post("speak-invite/accept")
        assert bob_room.media is not None
        bob_room.media.set_microphone(tone)  # no renegotiation
        # on stage but muted (new speakers come up muted): not forwarded
        assert await quiet_for(ann_room.media) == 0
        await bob_room.post("mute", {"muted": False})
        await eventually(lambda: packets(ann_room.media) > 50)
        assert ann_room.media is not None and ann_room.media.level() > 0.05
        assert packets(bob_room.media) == 0  # nobody hears their own voice back
        await bob_room.post("mute", {"muted": True})
        assert await quiet_for(ann_room.media) == 0
        # a moderator moves bob to the audience: his (unmuted) client is cut off too
        await bob_room.post("mute", {"muted": False})
        await eventually(lambda: packets(ann_room.media) > 100)
        await ann_room.post("audience", {"user_id": bob.user_id})
        assert await quiet_for(ann_room.media) == 0
    finally:
        await ann.close()
        await bob.close()


async def test_bad_sdp_gets_an_error_and_the_room_keeps_playing(server: LiveServer, tmp_path: Path) -> None:
    from parlor import protocol as p

    tone = write_tone(tmp_path / "ann.wav", seconds=3)
    ann, bob, eve = [await bot(server, n) for n in ("ann", "bob", "eve")]
    try:
        room = await ann.create_room("Robust")
        await (await ann.join_room(room["id"], send_wav=tone)).post("mute", {"muted": False})
        bob_room = await bob.join_room(room["id"])
        await eventually(lambda: packets(bob_room.media) > 20)
        await eve.join_room(room["id"], media=False)
        await eve.send(p.MediaStart(room["id"]))
        await eve.send(p.MediaAnswer(room["id"], "v=0\r\nthis is not sdp\r\n"))
        await eve.wait_for(lambda: any(e.code == "invalid_sdp" for e in eve.errors))
        await eve.send(p.MediaAnswer("r_nope", "v=0\r\n"))
        await eve.wait_for(lambda: any(e.code == "room_not_found" for e in eve.errors))
        start = packets(bob_room.media)
        await eventually(lambda: packets(bob_room.media) > start + 40)
    finally:
        for c in (ann, bob, eve):
            await c.close()


async def test_no_audio_is_written_to_disk(server: LiveServer, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav", seconds=2)
    ann, bob = await bot(server, "ann"), await bot(server, "bob")
    try:
        room = await ann.create_room("Ephemeral")
        await (await ann.join_room(room["id"], send_wav=tone)).post("mute", {"muted": False})
        bob_room = await bob.join_room(room["id"])
        await eventually(lambda: packets(bob_room.media) > 150)
        await ann.call("POST", f"/api/rooms/{room['id']}/end")
    finally:
        await ann.close()
        await bob.close()
    data_dir = server.settings.data_dir
    found = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())
    allowed = {"parlor.db", "parlor.db-wal", "parlor.db-shm"}
    assert found and all(name in allowed or name.startswith("secrets/") for name in found), found
    for path in data_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for magic in (b"OggS", b"OpusHead", b"RIFF", b"WAVE", b"ID3", b"fLaC"):
                assert magic not in blob, (path, magic)
