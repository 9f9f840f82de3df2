"""The hallway and the inbox in a real browser (Debian's Chromium through Playwright).

Run inside the private network namespace (scripts/test does it):
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_hallway.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright, expect
from tests.browser_helpers import launch, new_page, poll, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # No audio here: media stays in-process.
    async with live_server(make_settings(tmp_path / "data", workers=1)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def test_a_room_started_by_someone_you_follow_appears_live_and_a_blocked_ones_never(
    server: LiveServer, pw: Playwright
) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url) as alice,
        httpx.AsyncClient(base_url=server.url) as bob,
        httpx.AsyncClient(base_url=server.url) as carl,
    ):
        await make_member(server, alice, "alice")
        await make_member(server, bob, "bob")
        await make_member(server, carl, "carl")
        assert (await alice.post("/api/users/bob/follow")).status_code == 200
        assert (await alice.post("/api/users/carl/block")).status_code == 200

        browser = await launch(pw)
        try:
            _, page = await new_page(browser)
            await sign_in(page, server.url, "alice")
            await expect(page.get_by_text("No live rooms right now. Start one!")).to_be_visible()
            bell = page.get_by_role("link", name="Notifications, 0 unread")
            await expect(bell).to_be_visible()
            # A mark that a reload would wipe.
            await page.evaluate("() => { window.__noReload = true; }")

            # Carl (blocked) starts a room, then Bob (followed) does: only Bob's shows, live.
            assert (await carl.post("/api/rooms", json={"title": "Carl's secret"})).status_code == 201
            assert (await bob.post("/api/rooms", json={"title": "Bob's show"})).status_code == 201
            rooms = page.get_by_role("list", name="Live rooms")
            card = rooms.get_by_role("listitem").filter(has_text="Bob's show")
            await expect(card).to_be_visible()
            await expect(card).to_contain_text("Bob")
            await expect(card).to_contain_text("1 you follow on stage")
            await expect(card.get_by_role("link", name="Join Bob's show")).to_be_visible()
            await expect(rooms.get_by_role("listitem")).to_have_count(1)
            await expect(page.get_by_text("Carl's secret")).to_have_count(0)
            assert await page.evaluate("() => window.__noReload === true")

            # The bell counted it live; the inbox lists it with a way in.
            bell = page.get_by_role("link", name="Notifications, 1 unread")
            await expect(bell).to_be_visible()
            await bell.click()
            await page.wait_for_url("**/inbox")
            notes = page.get_by_role("list", name="Notifications")
            await expect(notes.get_by_role("listitem")).to_have_count(1)
            await expect(notes).to_contain_text("Bob started “Bob's show”")
            await expect(notes.get_by_role("link", name="Join Bob's show")).to_be_visible()
            await notes.get_by_role("button", name="Mark read: Bob started “Bob's show”").click()
            await expect(page.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()
            # Muting from the inbox is kept by the server.
            await page.get_by_role("checkbox", name="Mute new followers").check()
            await expect(page.get_by_role("checkbox", name="Mute new followers")).to_be_checked()

            # (the box ticks before the request lands: wait for the server to have it)
            async def muted() -> dict[str, bool]:
                return (await alice.get("/api/notifications/settings")).json()["muted"]  # type: ignore[no-any-return]

            settings = await poll(muted, lambda m: m["new_follower"] is True, what="the mute kept by the server")
            assert settings["ping"] is False
            assert await page.evaluate("() => window.__noReload === true")

            # Bob, in his room, pings Alice (a follower) from the room page; her open inbox
            # shows it live, and "Join" takes her in.
            _, bob_page = await new_page(browser)
            await sign_in(bob_page, server.url, "bob")
            await bob_page.get_by_role("list", name="Live rooms").get_by_role("link", name="Join Bob's show").click()
            await expect(bob_page.get_by_role("list", name="Stage")).to_contain_text("Bob")
            await bob_page.get_by_text("Ping a follower").click()
            await bob_page.get_by_role("button", name="Ping Alice").click()
            await expect(bob_page.get_by_role("button", name="Ping Alice")).to_have_text("Pinged")
            await expect(notes.get_by_role("listitem")).to_have_count(2)
            await expect(notes.get_by_role("listitem").first).to_contain_text(
                "Bob asks you to join them in “Bob's show”"
            )
            await expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
            await notes.get_by_role("listitem").first.get_by_role("link", name="Join Bob's show").click()
            await page.wait_for_url("**/rooms/*")
            await expect(page.get_by_role("list", name="Audience")).to_contain_text("Alice")
            await expect(page.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()
            assert await page.evaluate("() => window.__noReload === true")
        finally:
            await browser.close()
