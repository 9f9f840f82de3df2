"""Browser acceptance tests: Debian's Chromium with fake media, driven by Playwright.

Run inside the private network namespace (scripts/test does it):
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright, expect
from tests.browser_helpers import (
    dominant_frequency,
    expect_connected,
    inbound_audio,
    inbound_delta,
    join_from_hallway,
    launch,
    new_page,
    no_horizontal_overflow,
    poll,
    sign_in,
    start_room,
    within_viewport,
    write_tone_wav,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

pytestmark = pytest.mark.browser

A_HZ = 440.0  # Alice's fake microphone
B_HZ = 660.0  # Bob's


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # workers=0 is the default: one media worker process per core
    async with live_server(make_settings(tmp_path / "data", workers=0)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def members(server: LiveServer, *usernames: str) -> None:
    for name in usernames:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await make_member(server, http, name)


def near(hz: float | None, target: float, tolerance: float = 15.0) -> bool:
    return hz is not None and abs(hz - target) <= tolerance


async def test_two_people_talk_through_the_stage(server: LiveServer, pw: Playwright, tmp_path: Path) -> None:
    await members(server, "alice", "bob")
    # One browser per person: the fake microphone file is per browser process.
    browser_a = await launch(pw, write_tone_wav(tmp_path / "a.wav", A_HZ))
    browser_b = await launch(pw, write_tone_wav(tmp_path / "b.wav", B_HZ))
    try:
        _, a = await new_page(browser_a)
        _, b = await new_page(browser_b)
        await sign_in(a, server.url, "alice")
        await sign_in(b, server.url, "bob")

        # A starts a room: on stage, muted, with a clear "Unmute" (nobody is live by surprise).
        await start_room(a, "Tea and tones")
        await expect(a.get_by_role("list", name="Stage")).to_contain_text("Alice")
        a_unmute = a.get_by_role("button", name="Unmute", exact=True)
        await expect(a_unmute).to_be_visible()
        await expect(a.get_by_text("You're muted: nobody hears you until you unmute.")).to_be_visible()
        await expect(a.get_by_role("list", name="Stage").locator("li", has_text="Alice")).to_contain_text("muted")

        # B joins from the hallway, as a listener, and hears nothing of A yet.
        await expect(b.get_by_role("link", name="Join Tea and tones")).to_be_visible()
        await join_from_hallway(b, "Tea and tones")
        await expect(b.get_by_role("list", name="Audience")).to_contain_text("Bob")
        await expect(b.get_by_role("button", name="Raise hand")).to_be_visible()
        await poll(lambda: inbound_audio(b), lambda s: s["pc"] == "connected", what="B's media connection")
        before = await inbound_delta(b, 1.5)
        assert before["bytesReceived"] == 0 and before["totalAudioEnergy"] < 1e-3, before

        # A unmutes: now B hears A.
        await a_unmute.click()
        await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()

        await poll(
            lambda: inbound_delta(b, 1.0),
            lambda d: d["bytesReceived"] > 2000 and d["totalAudioEnergy"] > 0.01 and d["audioLevel"] > 0.05,
            timeout=15,
            what="B to receive A's audio (bytes growing, level above silence)",
        )
        heard = await inbound_delta(b, 1.5)
        assert heard["bytesReceived"] > 3000, heard
        assert heard["packetsReceived"] > 30, heard  # ~50 packets/s of Opus at 20 ms
        assert heard["totalAudioEnergy"] > 0.05, heard
        assert heard["audioLevel"] > 0.05, heard
        # ... and it is A's tone that B hears.
        await poll(lambda: dominant_frequency(b), lambda p: near(p and p["hz"], A_HZ), what="B to hear 440 Hz")

        # A (alone on stage) does not get its own audio back.
        alone = await inbound_delta(a, 1.0)
        assert alone["bytesReceived"] == 0 and alone["totalAudioEnergy"] < 1e-3, alone

        # B raises a hand; A sees it and invites; B accepts and comes up muted.
        await b.get_by_role("button", name="Raise hand").click()
        await expect(b.get_by_role("button", name="Lower hand")).to_be_visible()
        hands = a.get_by_role("list", name="Raised hands")
        await hands.get_by_role("button", name="Invite Bob to speak").click()
        invite = b.get_by_role("alertdialog", name="You are invited to speak")
        await expect(invite).to_be_visible()
        await invite.get_by_role("button", name="Accept invitation to speak").click()
        await expect(invite).to_be_hidden()
        await expect(a.get_by_role("list", name="Stage")).to_contain_text("Bob")
        unmute = b.get_by_role("button", name="Unmute", exact=True)
        await expect(unmute).to_be_visible()

        # Muted on arrival: A hears nothing from B yet.
        quiet = await inbound_delta(a, 1.5)
        assert quiet["bytesReceived"] == 0 and quiet["totalAudioEnergy"] < 1e-3, quiet

        # B unmutes: A now receives B's audio (B's tone), and B still hears A.
        await unmute.click()
        mute = b.get_by_role("button", name="Mute", exact=True)
        await expect(mute).to_be_visible()
        await poll(
            lambda: inbound_delta(a, 1.0),
            lambda d: d["bytesReceived"] > 2000 and d["totalAudioEnergy"] > 0.01 and d["audioLevel"] > 0.05,
            timeout=15,
            what="A to receive B's audio",
        )
        talking = await inbound_delta(a, 1.5)
        assert talking["bytesReceived"] > 3000 and talking["totalAudioEnergy"] > 0.05, talking
        await poll(lambda: dominant_frequency(a), lambda p: near(p and p["hz"], B_HZ), what="A to hear 660 Hz")
        still = await inbound_delta(b, 1.0)
        assert still["bytesReceived"] > 2000 and still["totalAudioEnergy"] > 0.01, still

        # B mutes: the server stops forwarding B, so A's bytes and audio energy stop.
        await mute.click()
        await expect(unmute).to_be_visible()
        await expect(a.get_by_role("list", name="Stage").locator("li", has_text="Bob")).to_contain_text("muted")
        await poll(
            lambda: inbound_delta(a, 0.5),
            lambda d: d["bytesReceived"] == 0,
            timeout=5,
            what="A's inbound bytes to stop after B muted",
        )
        silent = await inbound_delta(a, 1.5)
        assert silent["bytesReceived"] == 0, silent
        assert silent["totalAudioEnergy"] < talking["totalAudioEnergy"] / 10, (silent, talking)
        assert silent["totalAudioEnergy"] < 1e-3, silent
        # B, a listener to A, is unaffected by its own mute.
        assert (await inbound_delta(b, 1.0))["totalAudioEnergy"] > 0.01
        # The connection stayed up throughout.
        assert (await inbound_audio(a))["pc"] == "connected"
        assert (await inbound_audio(b))["pc"] == "connected"
    finally:
        await browser_a.close()
        await browser_b.close()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)], ids=["phone", "desktop"])
async def test_usable_on_phone_and_desktop(
    server: LiveServer, pw: Playwright, tmp_path: Path, width: int, height: int
) -> None:
    await members(server, "alice", "bartholomew")
    browser = await launch(pw)
    try:
        _, a = await new_page(browser, width, height)
        _, b = await new_page(browser, width, height)
        await sign_in(a, server.url, "alice")
        await within_viewport(a, a.get_by_role("textbox", name="Room title"))
        await within_viewport(a, a.get_by_role("button", name="Start a room"))
        await no_horizontal_overflow(a)

        title = "A rather long room title about weekend plans, tea, and very long words"
        await start_room(a, title)
        await sign_in(b, server.url, "bartholomew")
        await within_viewport(b, b.get_by_role("link", name=f"Join {title}"))
        await no_horizontal_overflow(b)
        await b.screenshot(path=str(tmp_path / f"hallway-{width}.png"), full_page=True)
        await join_from_hallway(b, title)
        await b.get_by_role("button", name="Raise hand").click()

        # The moderator's page, with a listener who raised a hand.
        hands = a.get_by_role("list", name="Raised hands")
        await within_viewport(a, hands.get_by_role("button", name="Invite Bartholomew to speak"))
        await within_viewport(a, a.get_by_role("status", name="Connection"))
        for name in ("Unmute", "Leave the stage", "Leave quietly", "End room"):
            await within_viewport(a, a.get_by_role("button", name=name, exact=True))
        # Moderator actions are in the person's sheet, opened from their tile.
        await a.get_by_role("button", name="Bartholomew", exact=True).click()
        sheet = a.get_by_role("dialog", name="Bartholomew")
        for name in ("Invite Bartholomew to speak", "Remove Bartholomew", "Remove and block Bartholomew"):
            await within_viewport(a, sheet.get_by_role("button", name=name))
        await no_horizontal_overflow(a)
        await a.screenshot(path=str(tmp_path / f"room-sheet-{width}.png"), full_page=False)
        await sheet.get_by_role("button", name="Close").click()
        await no_horizontal_overflow(a)
        await a.screenshot(path=str(tmp_path / f"room-moderator-{width}.png"), full_page=True)

        # The listener's page.
        await expect_connected(b)
        for name in ("Lower hand", "Leave quietly"):
            await within_viewport(b, b.get_by_role("button", name=name, exact=True))
        await within_viewport(b, b.get_by_role("list", name="Stage").locator("li", has_text="Alice"))
        await no_horizontal_overflow(b)

        # Invited and on stage.
        await hands.get_by_role("button", name="Invite Bartholomew to speak").click()
        invite = b.get_by_role("alertdialog", name="You are invited to speak")
        await within_viewport(b, invite.get_by_role("button", name="Accept invitation to speak"))
        await within_viewport(b, invite.get_by_role("button", name="Decline"))
        await no_horizontal_overflow(b)
        await b.screenshot(path=str(tmp_path / f"room-invited-{width}.png"), full_page=True)
        await invite.get_by_role("button", name="Accept invitation to speak").click()
        for name in ("Unmute", "Leave the stage", "Leave quietly"):
            await within_viewport(b, b.get_by_role("button", name=name, exact=True))
        await a.get_by_role("list", name="Stage").get_by_role("button", name="Bartholomew", exact=True).click()
        sheet = a.get_by_role("dialog", name="Bartholomew")
        for name in ("Mute Bartholomew", "Lock mic for Bartholomew", "Move Bartholomew to audience",
                     "Make moderator: Bartholomew"):
            await within_viewport(a, sheet.get_by_role("button", name=name))
        await sheet.get_by_role("button", name="Close").click()
        await no_horizontal_overflow(a)
        await no_horizontal_overflow(b)
        await a.screenshot(path=str(tmp_path / f"room-two-speakers-{width}.png"), full_page=True)
    finally:
        await browser.close()
