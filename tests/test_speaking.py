""""Who is speaking" goes out only when it changes, coalesced per room, never in silence.

Pure parts first (media/levels.py's tracker, actions/speaking.py's board), then a real
server with parlor.client bots: a silent stage sends nothing to a subscribed socket, a
speaker starting and stopping sends a handful of messages, a late subscriber is told
who is speaking now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server
from tests.media.media_helpers import write_tone
from tests.test_media_e2e import bot

from parlor.actions.speaking import COALESCE_S, SpeakingBoard
from parlor.media.levels import HOLD_WINDOWS, LEVEL_STEP, SpeakingTracker

# -- the tracker: one room's speakers on one worker -------------------------------------


def test_a_steady_voice_is_reported_once_and_its_end_once() -> None:
    tracker = SpeakingTracker()
    assert tracker.update({"ann": 0.0}) == {}  # on stage, silent: nothing
    assert tracker.update({"ann": 0.76}) == {"ann": 0.8}
    for loudness in (0.77, 0.74, 0.79, 0.71, 0.8):  # wobbles within a step: nothing
        assert tracker.update({"ann": loudness}) == {}
    for _ in range(HOLD_WINDOWS - 1):  # a short gap between words: still speaking
        assert tracker.update({"ann": 0.0}) == {}
    assert tracker.update({"ann": 0.75}) == {}
    assert [tracker.update({"ann": 0.0}) for _ in range(HOLD_WINDOWS)][-1] == {"ann": 0.0}
    assert tracker.speaking == {}
    assert tracker.update({"ann": 0.0}) == {}


def test_a_level_moves_a_whole_step_and_leaving_the_stage_stops_at_once() -> None:
    tracker = SpeakingTracker()
    tracker.update({"ann": 0.5, "bob": 0.3})
    assert tracker.update({"ann": 0.5 + LEVEL_STEP * 1.2, "bob": 0.3}) == {"ann": 0.6}
    assert tracker.update({"ann": 0.6}) == {"bob": 0.0}  # bob muted or left: gone from the window


def test_the_board_merges_workers_and_coalesces() -> None:
    board = SpeakingBoard()
    stage = frozenset({"ann", "bob"})
    board.update("r", {"ann": 0.8}, stage)  # from ann's worker
    assert board.due("r", 10.0) == ({"ann": 0.8}, 0.0)
    board.update("r", {"bob": 0.5}, stage)  # from bob's worker, soon after
    levels, wait = board.due("r", 10.1)
    assert levels is None and wait == pytest.approx(COALESCE_S - 0.1)
    assert board.due("r", 10.0 + COALESCE_S) == ({"ann": 0.8, "bob": 0.5}, 0.0)
    assert board.due("r", 20.0) == (None, 0.0)  # nothing changed: nothing to send
    board.update("r", {}, frozenset({"bob"}))  # ann left the stage: not speaking
    assert board.due("r", 20.0) == ({"bob": 0.5}, 0.0)
    board.update("r", {"bob": 0.0}, frozenset({"bob"}))
    assert board.due("r", 30.0) == ({}, 0.0)  # the one message that says everyone stopped


# -- through the server -----------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.mark.media
async def test_silence_sends_nothing_and_a_speaker_sends_a_bounded_few(server: LiveServer, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "ann.wav", seconds=3, freq=440)
    ann, bob, carl = [await bot(server, n) for n in ("ann", "bob", "carl")]
    try:
        room_id = (await ann.create_room("Quiet please"))["id"]
        ann_room = await ann.join_room(room_id)  # on stage, microphone connected, silent
        await ann_room.post("mute", {"muted": False})
        bob_room = await bob.join_room(room_id)
        assert ann_room.media is not None and bob_room.media is not None
        stage = server.app.state.services.live.get(room_id).audible_speakers
        assert ann.user_id in stage  # audible: the server watches her level

        # Silence: not one `speaking` message in three seconds (it used to be 4 a second).
        await asyncio.sleep(3.0)
        assert bob.speaking_messages == 0, bob.speaking

        # ann talks (a steady tone) for about 3 s, then stops.
        ann_room.media.set_microphone(tone)
        await until(lambda: bob.speaking.get(room_id, {}).get(ann.user_id, 0) > 0.3)
        talking_since = time.monotonic()
        # a late subscriber is told at once who is speaking, though nothing changed
        carl_room = await carl.join_room(room_id, media=False)
        await until(lambda: ann.user_id in carl.speaking.get(room_id, {}), within=2)
        assert carl_room.room_id == room_id
        await asyncio.sleep(max(0.0, 3.0 - (time.monotonic() - talking_since)))
        ann_room.media.set_microphone(None)
        await until(lambda: bob.speaking.get(room_id) == {})
        stopped_at, count = time.monotonic(), bob.speaking_messages
        await asyncio.sleep(2.0)
        assert bob.speaking_messages == count  # silence again: nothing more

        talked = stopped_at - talking_since
        # start, a level settling, stop: a few messages, not 4 a second for every second
        assert 2 <= count <= 6, (count, talked)
        assert count < 4 * talked / 2
    finally:
        for c in (ann, bob, carl):
            await c.close()


@pytest.mark.media
@pytest.mark.browser
async def test_the_web_clients_ring_follows_a_speaker_who_starts_and_stops(server: LiveServer, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect
    from tests.browser_helpers import expect_connected, launch, new_page, sign_in

    tone = write_tone(tmp_path / "ann.wav", seconds=3, freq=440)
    ann = await bot(server, "ann")
    lena = await bot(server, "lena")
    await lena.close()  # lena uses the browser
    try:
        room_id = (await ann.create_room("Ring"))["id"]
        ann_room = await ann.join_room(room_id)
        await ann_room.post("mute", {"muted": False})
        assert ann_room.media is not None
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                _, page = await new_page(browser)
                await sign_in(page, server.url, "lena")
                await page.goto(f"{server.url}/rooms/{room_id}")
                await expect_connected(page)
                ring = page.locator(f'li[data-user-id="{ann.user_id}"]')
                await expect(ring).to_have_attribute("data-speaking", "false")
                ann_room.media.set_microphone(tone)
                # held while she talks steadily (messages stop coming: nothing changes) ...
                await expect(ring).to_have_attribute("data-speaking", "true")
                await asyncio.sleep(2.0)
                await expect(ring).to_have_attribute("data-speaking", "true", timeout=100)
                # ... and gone once she stops
                ann_room.media.set_microphone(None)
                await expect(ring).to_have_attribute("data-speaking", "false", timeout=5000)
            finally:
                await browser.close()
    finally:
        await ann.close()
