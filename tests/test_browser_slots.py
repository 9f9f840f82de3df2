"""A Chromium listener decodes through several slot switches (issue 3).

Two parlor.client speaker bots share one slot (the node runs with slots=1): ann
alternates 2 s loud / 2 s very quiet, bob talks steadily in between, so the router
hands the slot back and forth every 2 s. Chromium must decode the one stream
through every switch with little concealment.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
import wave
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright
from tests.browser_helpers import expect_connected, inbound_audio, launch, new_page, poll, sign_in
from tests.conftest import make_settings
from tests.live import live_server, make_member

from parlor.client import ParlorClient

pytestmark = [pytest.mark.browser, pytest.mark.media]


def write_wav(path: Path, freq: float, amplitudes: list[float], seconds_each: float = 2.0, rate: int = 48000) -> str:
    """A tone whose amplitude steps through `amplitudes`, `seconds_each` apiece (the track loops)."""
    per = int(seconds_each * rate)
    frames = b"".join(
        struct.pack("<h", int(amplitudes[i // per] * 32767 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(per * len(amplitudes))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return str(path)


async def test_chromium_decodes_through_slot_switches(tmp_path: Path) -> None:
    # ann: 20 dB above bob, then 14 dB below him: each way well past the router's 6 dB margin
    alternating = write_wav(tmp_path / "ann.wav", 440, [0.5, 0.01])
    steady = write_wav(tmp_path / "bob.wav", 660, [0.05])
    async with live_server(make_settings(tmp_path / "data", slots=1)) as server:
        async with httpx.AsyncClient(base_url=server.url) as h1, httpx.AsyncClient(base_url=server.url) as h2:
            _, ann_token = await make_member(server, h1, "ann")
            _, bob_token = await make_member(server, h2, "bob")
        async with httpx.AsyncClient(base_url=server.url) as h3:
            await make_member(server, h3, "lena")
        ann = ParlorClient(server.url, ann_token, ice_hosts=("127.0.0.1",))
        bob = ParlorClient(server.url, bob_token, ice_hosts=("127.0.0.1",))
        await ann.connect()
        await bob.connect()
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                room = await ann.create_room("Switchboard")
                ann_room = await ann.join_room(room["id"], send_wav=alternating)
                await ann_room.post("mute", {"muted": False})  # the creator comes on stage muted
                bob_room = await bob.join_room(room["id"])
                await bob_room.post("hand", {"raised": True})
                await ann_room.post("speak-invites", {"user_id": bob.user_id})
                await bob_room.post("speak-invite/accept")
                await bob_room.post("mute", {"muted": False})
                assert bob_room.media is not None
                bob_room.media.set_microphone(steady)

                _, page = await new_page(browser)
                await sign_in(page, server.url, "lena")
                await page.goto(f"{server.url}/rooms/{room['id']}")
                await expect_connected(page)
                await poll(lambda: inbound_audio(page), lambda s: s["packetsReceived"] > 100, what="audio")

                sfu = server.app.state.services.media
                holders: list[str | None] = []
                before = await inbound_audio(page)
                end = time.monotonic() + 10.0
                while time.monotonic() < end:
                    holder = sfu.slot_holders(room["id"])[0]
                    if not holders or holders[-1] != holder:
                        holders.append(holder)
                    await asyncio.sleep(0.05)
                after = await inbound_audio(page)
            finally:
                await browser.close()
                await ann.close()
                await bob.close()
    switches = len(holders) - 1
    assert switches >= 3, holders
    assert after["streams"] == 1  # one slot, one stream: no renegotiation, no new track
    samples = after["totalSamplesReceived"] - before["totalSamplesReceived"]
    concealed = after["concealedSamples"] - before["concealedSamples"]
    assert samples > 48000 * 8  # ~10 s of audio played out
    assert concealed / samples < 0.05, (concealed, samples)
    assert after["packetsReceived"] - before["packetsReceived"] > 400
