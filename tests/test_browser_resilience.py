"""A browser whose network drops: back within the grace it keeps its place and hears
again without a reload; gone past it, it has left and the room was told.

Bob's browser reaches the server at 127.0.0.2 (the server listens on every loopback
address), so his socket's packets, and his media's UDP ports, can be dropped on `lo`
while Alice's traffic flows (tests/netdrop.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Locator, Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    PASSWORD,
    dominant_frequency,
    inbound_audio,
    inbound_delta,
    launch,
    new_page,
    poll,
    sign_in,
    start_room,
    write_tone_wav,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.netdrop import NetDrop

pytestmark = pytest.mark.browser

A_HZ = 440.0
B_HZ = 660.0
BOB_HOST = "127.0.0.2"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=0), bind="0.0.0.0") as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture
def net() -> Iterator[NetDrop]:
    drop = NetDrop()
    yield drop
    drop.restore()


def near(hz: float | None, target: float, tolerance: float = 15.0) -> bool:
    return hz is not None and abs(hz - target) <= tolerance


_UDP_PORTS_JS = """
async () => {
  const pc = window.parlor && window.parlor.pc;
  if (!pc) return [];
  const ports = [];
  (await pc.getStats()).forEach((s) => { if (s.type === 'local-candidate' && s.port) ports.push(s.port); });
  return ports;
}
"""


async def media_ports(page: Page) -> list[int]:
    ports: list[int] = await page.evaluate(_UDP_PORTS_JS)
    return ports


async def hears(page: Page, hz: float, timeout: float = 30.0) -> None:
    await poll(
        lambda: inbound_delta(page, 1.0),
        lambda d: d["bytesReceived"] > 2000 and d["totalAudioEnergy"] > 0.01 and d["audioLevel"] > 0.05,
        timeout=timeout,
        what=f"audio energy at {page.url}",
    )
    await poll(lambda: dominant_frequency(page), lambda p: near(p and p["hz"], hz), timeout=timeout, what=f"{hz} Hz")


def stage_tile(page: Page, name: str) -> Locator:
    return page.get_by_role("list", name="Stage").locator("li", has_text=name)


async def test_a_dropped_browser_comes_back_or_leaves(
    server: LiveServer, pw: Playwright, net: NetDrop, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        await make_member(server, http, "alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob_id, bob_token = await make_member(server, http, "bob")
    bob_url = server.url.replace("127.0.0.1", BOB_HOST)
    browser_a = await launch(pw, write_tone_wav(tmp_path / "a.wav", A_HZ))
    browser_b = await launch(pw, write_tone_wav(tmp_path / "b.wav", B_HZ))
    try:
        _, a = await new_page(browser_a)
        _, b = await new_page(browser_b)
        await sign_in(a, server.url, "alice")
        await sign_in(b, bob_url, "bob")
        room_url = await start_room(a, "Through the storm")
        room_id = room_url.rsplit("/", 1)[1]
        await a.get_by_role("button", name="Unmute", exact=True).click()

        # Bob joins, is invited on stage, accepts (over the API) and unmutes (in his page).
        await b.goto(f"{bob_url}/rooms/{room_id}")
        await expect(b.get_by_role("status", name="Connection")).to_have_text("Connected")
        alice_http = httpx.AsyncClient(base_url=server.url)
        await alice_http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        async with httpx.AsyncClient(base_url=server.url, headers={"authorization": f"Bearer {bob_token}"}) as bob_http:
            await expect(a.get_by_role("list", name="Audience")).to_contain_text("Bob")
            r = await alice_http.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": bob_id})
            assert r.status_code == 200, r.text
            r = await bob_http.post(f"/api/rooms/{room_id}/speak-invite/accept")
            assert r.status_code == 200, r.text
        await alice_http.aclose()
        await b.get_by_role("button", name="Unmute", exact=True).click()
        await expect(b.get_by_role("button", name="Mute", exact=True)).to_be_visible()
        await hears(b, A_HZ)
        await hears(a, B_HZ)
        # A reload would lose this.
        await b.evaluate("() => { window.__notReloaded = true; }")

        # --- a 10 s drop: Bob's socket and media packets vanish, then flow again ----
        net.cut([BOB_HOST], await media_ports(b))
        cut_at = time.monotonic()
        # While it lasts, Alice sees that Bob's link is poor (the server misses his
        # heartbeat), and so does Bob (his pongs are late, his media disconnected).
        await expect(stage_tile(a, "Bob")).to_have_attribute("data-link", "poor", timeout=9_500)
        await expect(stage_tile(a, "Bob")).to_contain_text("poor connection")
        await expect(b.get_by_role("status", name="Your link")).to_have_text("Poor connection", timeout=5_000)
        while time.monotonic() - cut_at < 10:
            await a.wait_for_timeout(200)
        net.restore()

        # Same page, same role and mute, hearing Alice again; Alice hears him again.
        assert await b.evaluate("() => window.__notReloaded === true")
        await expect(b.get_by_role("status", name="Connection")).to_have_text("Connected", timeout=30_000)
        await expect(b.get_by_role("button", name="Mute", exact=True)).to_be_visible(timeout=30_000)
        await expect(stage_tile(a, "Bob")).to_have_attribute("data-muted", "false")
        await expect(stage_tile(a, "Bob")).to_have_attribute("data-role", "speaker")
        await hears(b, A_HZ, timeout=40)
        await hears(a, B_HZ, timeout=40)
        await expect(stage_tile(a, "Bob")).to_have_attribute("data-link", "good", timeout=15_000)
        await expect(b.locator(".link-quality")).to_have_attribute("data-quality", "good", timeout=15_000)
        # ... and he is still there well past the 30 s grace: his client is really back.
        while time.monotonic() - cut_at < 45:
            await a.wait_for_timeout(500)
        await expect(stage_tile(a, "Bob")).to_have_attribute("data-muted", "false")
        await hears(b, A_HZ)
        assert await b.evaluate("() => window.__notReloaded === true")

        # --- a 40 s drop: past the 30 s grace Bob has left, and Alice's page says so ----
        net.cut([BOB_HOST], await media_ports(b))
        cut_at = time.monotonic()
        await expect(stage_tile(a, "Bob")).to_have_count(0, timeout=40_000)
        gone_after = time.monotonic() - cut_at
        assert gone_after < 40, gone_after
        await expect(a.get_by_role("list", name="Audience")).not_to_contain_text("Bob")
        while time.monotonic() - cut_at < 40:
            await a.wait_for_timeout(200)
        net.restore()
        # Back online, his page says he is out (it did not reload to find out).
        await expect(b.get_by_text("You are no longer in this room.")).to_be_visible(timeout=30_000)
        assert await b.evaluate("() => window.__notReloaded === true")
        assert (await inbound_audio(b))["pc"] is None
    finally:
        await browser_a.close()
        await browser_b.close()
