"""The app shell in Chromium: closing a page leaves the room at once (a reload does
not), the not-found page, and the installable app (manifest, service worker, offline)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright, expect
from tests.browser_helpers import join_from_hallway, launch, new_page, poll, sign_in, start_room
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.protocol import BYE_GRACE_S

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # The default 30 s reconnect grace: only `bye` can make a closed page leave in 2 s.
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=30.0)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def members(server: LiveServer, *usernames: str) -> dict[str, str]:
    tokens = {}
    for name in usernames:
        async with httpx.AsyncClient(base_url=server.url) as http:
            tokens[name] = (await make_member(server, http, name))[1]
    return tokens


async def test_closing_a_page_leaves_the_room_within_two_seconds_and_a_reload_keeps_the_stage(
    server: LiveServer, pw: Playwright
) -> None:
    tokens = await members(server, "alice", "bob", "cara")
    browser = await launch(pw)
    try:
        _, a = await new_page(browser)
        b_context, b = await new_page(browser)
        _, c = await new_page(browser)
        await sign_in(a, server.url, "alice")
        await sign_in(b, server.url, "bob")
        await sign_in(c, server.url, "cara")
        room_url = await start_room(a, "Ghost town")
        room_id = room_url.rsplit("/", 1)[1]
        await join_from_hallway(b, "Ghost town")
        await join_from_hallway(c, "Ghost town")
        audience = a.get_by_role("list", name="Audience")
        await expect(audience).to_contain_text("Bob")
        await expect(audience).to_contain_text("Cara")

        # Bob closes his tab: Alice's page drops him within 2 s (the grace is 30 s).
        closed_at = time.monotonic()
        await b.close()
        await expect(audience).not_to_contain_text("Bob", timeout=2500)
        took = time.monotonic() - closed_at
        assert took < 2.0, took
        bearer = {"Authorization": f"Bearer {tokens['alice']}"}
        async with httpx.AsyncClient(base_url=server.url, headers=bearer) as api:
            people = [p["username"] for p in (await api.get(f"/api/rooms/{room_id}")).json()["participants"]]
            assert "bob" not in people and "cara" in people

            # Cara comes on stage, then reloads: she is still a speaker afterwards.
            cara_id = next(
                p["user_id"]
                for p in (await api.get(f"/api/rooms/{room_id}")).json()["participants"]
                if p["username"] == "cara"
            )
            await api.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": cara_id})
            await c.get_by_role("button", name="Accept invitation to speak").click()
            stage = a.get_by_role("list", name="Stage")
            await expect(stage).to_contain_text("Cara")
            await c.reload()
            await expect(c.get_by_role("status", name="Connection")).to_have_text("Connected")
            await expect(c.get_by_role("list", name="Stage")).to_contain_text("Cara")
            # Past the bye grace (the old page said bye): still on stage, as the API says too.
            await asyncio.sleep(BYE_GRACE_S + 1.0)
            room = (await api.get(f"/api/rooms/{room_id}")).json()
            cara = next(p for p in room["participants"] if p["username"] == "cara")
            assert cara["role"] == "speaker", room
            await expect(stage).to_contain_text("Cara")
        await b_context.close()
    finally:
        await browser.close()


async def test_an_unknown_address_shows_the_not_found_page(server: LiveServer, pw: Playwright) -> None:
    await members(server, "dora")
    browser = await launch(pw)
    try:
        _, page = await new_page(browser, 390, 844)
        response = await page.goto(f"{server.url}/no/such/page")
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        await expect(page).to_have_title("Page not found · Parlor")
        await page.get_by_role("link", name="Back to the hallway").click()
        await page.wait_for_url(f"{server.url}/")
        await expect(page.get_by_role("link", name="Sign in")).to_be_visible()

        # A room that does not exist, signed in: the room page says so.
        await sign_in(page, server.url, "dora")
        await page.goto(f"{server.url}/rooms/r_nothere")
        await expect(page.get_by_role("heading", name="Room not found")).to_be_visible()
        await expect(page.get_by_role("link", name="Back to the hallway")).to_be_visible()
    finally:
        await browser.close()


async def test_installable_manifest_and_the_shell_offline(server: LiveServer, pw: Playwright) -> None:
    await members(server, "erin")
    browser = await launch(pw)
    try:
        context, page = await new_page(browser)
        await sign_in(page, server.url, "erin")
        # The manifest the page links to, as the browser would read it.
        href = await page.locator('link[rel="manifest"]').get_attribute("href")
        assert href is not None
        manifest = await page.evaluate("(u) => fetch(u).then((r) => r.json())", href)
        assert manifest["name"] == "Parlor" and manifest["display"] == "standalone"
        assert manifest["start_url"] == "/"
        purposes = set()
        for icon in manifest["icons"]:
            loaded = await page.evaluate(
                """(src) => new Promise((ok) => { const i = new Image();
                     i.onload = () => ok([i.naturalWidth, i.naturalHeight]);
                     i.onerror = () => ok(null); i.src = src; })""",
                icon["src"],
            )
            assert loaded is not None, icon
            if icon["sizes"] != "any":
                assert f"{loaded[0]}x{loaded[1]}" == icon["sizes"], icon
            purposes.add((icon["sizes"], icon["purpose"]))
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes

        # The service worker takes control of the page.
        # polled with evaluate: wait_for_function evals its predicate, which the CSP refuses
        await poll(lambda: page.evaluate("navigator.serviceWorker.controller !== null"), bool, what="the worker")
        scope = await page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == f"{server.url}/"
        cached = await page.evaluate(
            "caches.keys().then((ks) => Promise.all(ks.map((k) => caches.open(k).then((c) => c.keys()))))"
            ".then((all) => all.flat().map((r) => new URL(r.url).pathname))"
        )
        assert "/static/app.js" in cached and "/" in cached
        assert not [u for u in cached if u.startswith(("/api", "/ws"))], cached

        # Offline: a reload still renders the app shell, which says it is offline.
        await context.set_offline(True)
        await page.reload()
        await expect(page.get_by_role("link", name="Parlor home")).to_be_visible()
        await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        await expect(page.get_by_role("button", name="Try again")).to_be_visible()
        # A page that is not part of the shell (an embed needs the live room): the offline page.
        await page.goto(f"{server.url}/embed/room/r_anything")
        await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        await expect(page).to_have_title("Offline · Parlor")

        # Back online, the same page comes from the network again.
        await context.set_offline(False)
        await page.goto(f"{server.url}/")
        await expect(page.get_by_role("button", name="Start a room")).to_be_visible()
    finally:
        await browser.close()
