"""A room embedded in another site's page, cross-site: the embedding page is served from
http://localhost:P by a tiny second server, Parlor from http://127.0.0.1:Q (different
sites, so Parlor's SameSite session cookie is not sent into the frame)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Frame, Page, Playwright, async_playwright, expect
from playwright.async_api import Route as PageRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from tests import browser_helpers
from tests.browser_helpers import PASSWORD, launch, new_page, poll, sign_in, start_room, write_tone_wav
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.transport.http.headers import parse_csp

pytestmark = pytest.mark.browser

# The embedding site's page: one iframe, and every message it receives kept in order.
HOST_PAGE = """<!doctype html><html lang="en"><head><title>A blog</title></head><body>
<h1>A blog post with a live room</h1>
<iframe title="Live room" src="{src}" width="420" height="520" allow="autoplay; microphone"></iframe>
<script>
  window.events = [];
  window.addEventListener('message', (e) => window.events.push({{origin: e.origin, data: e.data}}));
</script></body></html>"""


# In every framed page: window.parent (a [Replaceable] attribute) shadowed by a spy that
# records the target origin of each postMessage, then posts for real.
POST_SPY = """if (window.top !== window) {
  const real = window.parent;
  window.__posted = [];
  window.parent = { postMessage: (data, target) => {
    window.__posted.push({ event: data && data.event, target: String(target) });
    real.postMessage(data, target);
  } };
}"""


async def posted_targets(page: Page) -> list[dict[str, str]]:
    """What the embed in `page` posted, with the target origin of each message."""
    got: list[dict[str, str]] = await (await embed_frame(page)).evaluate("window.__posted || []")
    return got


@asynccontextmanager
async def other_site() -> AsyncIterator[str]:
    """A second web server (another site: http://localhost:P) serving HOST_PAGE."""

    async def host(request: Request) -> HTMLResponse:
        return HTMLResponse(HOST_PAGE.format(src=request.query_params["src"]))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/post", host)]), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def events(page: Page) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = await page.evaluate("window.events")
    return got


def named(event: str) -> Any:
    return lambda evs: any(e["data"].get("event") == event for e in evs)


async def embed_frame(page: Page) -> Frame:
    await page.wait_for_function("document.querySelector('iframe').contentWindow !== null")
    frame = await (await page.query_selector("iframe")).content_frame()  # type: ignore[union-attr]
    assert frame is not None
    return frame


async def test_a_room_embedded_on_a_listed_site_posts_its_events_and_plays_audio(
    pw: Playwright, tmp_path: Path
) -> None:
    async with other_site() as site, other_site() as unlisted:
        settings = make_settings(tmp_path / "data", embed_origins=site)
        async with live_server(settings) as server:
            await _embed_scenario(pw, tmp_path, server, site, unlisted)


async def _embed_scenario(pw: Playwright, tmp_path: Path, server: LiveServer, site: str, unlisted: str) -> None:
    for name in ("alice", "bob"):
        async with httpx.AsyncClient(base_url=server.url) as http:
            await make_member(server, http, name)
    speaker = await launch(pw, write_tone_wav(tmp_path / "a.wav", 440.0))
    viewer = await launch(pw)
    try:
        _, a = await new_page(speaker)
        await sign_in(a, server.url, "alice")
        room_url = await start_room(a, "Live on a blog")
        room_id = room_url.rsplit("/", 1)[1]
        unmute = a.get_by_role("button", name="Unmute", exact=True)
        if await unmute.is_visible():  # new speakers may start muted
            await unmute.click()
        await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()

        viewer_ctx, page = await new_page(viewer, 900, 800)
        await viewer_ctx.add_init_script(POST_SPY)
        await page.goto(f"{site}/post?src={server.url}/embed/room/{room_id}")
        frame = page.frame_locator("iframe")
        await expect(frame.get_by_role("heading", name="Live on a blog")).to_be_visible()
        await expect(frame.get_by_role("list", name="Stage")).to_contain_text("Alice")
        await expect(frame.get_by_text("0 listeners")).to_be_visible()

        # Not signed in inside the frame (the main cookie is SameSite): sign in there.
        await frame.get_by_label("Username").fill("bob")
        await frame.get_by_label("Password").fill(PASSWORD)
        await frame.get_by_role("button", name="Sign in and join").click()
        await poll(lambda: events(page), named("joined"), what="the joined event")
        await expect(frame.get_by_text("1 listener", exact=True)).to_be_visible()
        await expect(a.get_by_role("list", name="Audience")).to_contain_text("Bob")

        # Alice talks: the embed shows the ring, tells the page, and plays her audio.
        await poll(lambda: events(page), named("speaking"), timeout=15, what="a speaking event")
        speaking = next(e for e in await events(page) if e["data"]["event"] == "speaking")
        assert speaking["data"]["speakers"][0]["display_name"] == "Alice"
        await expect(frame.locator("li.is-speaking")).to_contain_text("Alice")
        inner = await embed_frame(page)
        await poll(
            lambda: inner.evaluate(browser_helpers._INBOUND_JS),
            lambda s: s["bytesReceived"] > 2000 and s["totalAudioEnergy"] > 0.01,
            timeout=15,
            what="audio reaching the embed",
        )

        # Hand up, then leave.
        await frame.get_by_role("button", name="Raise hand").click()
        await poll(lambda: events(page), named("hand"), what="the hand event")
        await expect(a.get_by_role("list", name="Raised hands")).to_contain_text("Bob")

        # Alice invites Bob up; he accepts and at once unmutes, while the acceptance's
        # answer is still on its way (held back 1.5 s; the socket has already shown him
        # on stage): the second press waits its turn instead of being lost.
        released = asyncio.Event()

        async def slow_answer(route: PageRoute) -> None:
            answer = await route.fetch()
            await asyncio.sleep(1.5)
            released.set()
            await route.fulfill(response=answer)

        await a.get_by_role("list", name="Raised hands").get_by_role("button", name="Invite Bob to speak").click()
        await page.route("**/speak-invite/accept", slow_answer)
        await frame.get_by_role("button", name="Accept invitation to speak").click()
        await frame.get_by_role("button", name="Unmute", exact=True).click()
        assert not released.is_set(), "the acceptance's answer came back before Unmute was pressed"
        await expect(frame.get_by_role("button", name="Mute", exact=True)).to_be_visible()
        assert released.is_set()
        await expect(a.get_by_role("list", name="Stage")).to_contain_text("Bob")
        await frame.get_by_role("button", name="Leave").click()
        await poll(lambda: events(page), named("left"), what="the left event")
        await expect(a.get_by_role("list", name="Audience")).not_to_contain_text("Bob")

        got = await events(page)
        assert {e["origin"] for e in got} == {server.url}
        # Posted to the listed site's origin only, never '*'.
        targets = await posted_targets(page)
        assert [p["event"] for p in targets] == [e["data"]["event"] for e in got]
        assert {p["target"] for p in targets} == {site}
        for e in got:
            assert e["data"]["type"] == "parlor.embed" and e["data"]["version"] == 1
            assert e["data"]["room_id"] == room_id
        by_name = [e["data"]["event"] for e in got]
        assert by_name.index("joined") < by_name.index("hand") < by_name.index("left")
        hand = next(e["data"] for e in got if e["data"]["event"] == "hand")
        assert hand["raised"] is True
        left = next(e["data"] for e in got if e["data"]["event"] == "left")
        assert left["reason"] == "left"

        # The same page on a site that is not listed: the browser refuses the frame.
        refused: list[str] = []
        blocked = await viewer.new_page()
        blocked.on("console", lambda m: refused.append(m.text))
        response_headers: dict[str, str] = {}

        async def on_response(r: Any) -> None:
            if "/embed/room/" in r.url:
                response_headers.update(await r.all_headers())

        blocked.on("response", on_response)
        await blocked.goto(f"{unlisted}/post?src={server.url}/embed/room/{room_id}")
        await poll(lambda: asyncio.sleep(0, refused), lambda r: any("frame-ancestors" in t for t in r),
                   what="Chromium to refuse the frame")
        assert parse_csp(response_headers["content-security-policy"])["frame-ancestors"] == (site,)
        inner_blocked = await embed_frame(blocked)
        assert not inner_blocked.url.startswith(server.url) or await inner_blocked.evaluate(
            "!document.querySelector('.embed-room')"
        )
        assert await blocked.evaluate("window.events.length") == 0

        # Bad input: a room that does not exist, and one that has ended.
        await page.goto(f"{site}/post?src={server.url}/embed/room/r_missing")
        await expect(page.frame_locator("iframe").get_by_role("heading", name="Room not found")).to_be_visible()
        await a.get_by_role("button", name="End room").click()
        await a.get_by_role("button", name="Confirm end room").click()
        await page.goto(f"{site}/post?src={server.url}/embed/room/{room_id}")
        await expect(page.frame_locator("iframe").get_by_role("heading", name="This room has ended")).to_be_visible()
    finally:
        await speaker.close()
        await viewer.close()


async def test_a_guest_room_embedded_on_a_listed_site_lets_a_viewer_in_by_name(
    pw: Playwright, tmp_path: Path
) -> None:
    async with other_site() as site, other_site() as unlisted:
        settings = make_settings(tmp_path / "data", embed_origins=site, guest_rooms=True)
        async with live_server(settings) as server:
            await _guest_embed_scenario(pw, tmp_path, server, site, unlisted)


async def _guest_embed_scenario(pw: Playwright, tmp_path: Path, server: LiveServer, site: str, unlisted: str) -> None:
    speaker = await launch(pw, write_tone_wav(tmp_path / "a.wav", 440.0))
    viewer = await launch(pw)
    try:
        # Ada opens the guest room on Parlor itself, without an account, and talks.
        _, a = await new_page(speaker)
        await a.goto(f"{server.url}/r/tea-time")
        await a.get_by_role("textbox", name="Your name").fill("Ada")
        await a.get_by_role("button", name="Enter the room").click()
        await a.get_by_role("button", name="Unmute", exact=True).click()
        await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()

        viewer_ctx, page = await new_page(viewer, 900, 800)
        await viewer_ctx.add_init_script(POST_SPY)
        await page.goto(f"{site}/post?src={server.url}/embed/r/tea-time")
        frame = page.frame_locator("iframe")
        await expect(frame.get_by_role("heading", name="tea-time")).to_be_visible()
        await expect(frame.get_by_role("list", name="Stage")).to_contain_text("Ada")
        # No sign-in in a guest room: a name and you are in (on stage muted: the stage is open).
        await expect(frame.get_by_label("Password")).to_have_count(0)
        await frame.get_by_label("Your name").fill("Gus")
        await frame.get_by_role("button", name="Enter the room").click()
        await poll(lambda: events(page), named("joined"), what="the joined event")
        await expect(a.get_by_role("list", name="Stage")).to_contain_text("Gus")
        await expect(frame.get_by_role("list", name="Stage")).to_contain_text("Gus")

        await poll(lambda: events(page), named("speaking"), timeout=15, what="a speaking event")
        speaking = next(e for e in await events(page) if e["data"]["event"] == "speaking")
        assert speaking["data"]["speakers"][0]["display_name"] == "Ada"
        inner = await embed_frame(page)
        await poll(
            lambda: inner.evaluate(browser_helpers._INBOUND_JS),
            lambda s: s["bytesReceived"] > 2000 and s["totalAudioEnergy"] > 0.01,
            timeout=15,
            what="audio reaching the embedded guest",
        )

        await frame.get_by_role("button", name="Leave").click()
        await poll(lambda: events(page), named("left"), what="the left event")
        await expect(a.get_by_role("list", name="Stage")).not_to_contain_text("Gus")
        await expect(frame.get_by_label("Your name")).to_be_visible()  # out: a guest no more

        got = await events(page)
        room_id = server.app.state.services.live.guests.rooms_by_name["tea-time"]
        assert {e["origin"] for e in got} == {server.url}
        assert {e["data"]["room_id"] for e in got} == {room_id}
        by_name = [e["data"]["event"] for e in got]
        assert by_name.index("joined") < by_name.index("speaking") < by_name.index("left")
        assert {p["target"] for p in await posted_targets(page)} == {site}

        # The same embed on a site that is not listed: the browser refuses the frame.
        refused: list[str] = []
        blocked = await viewer.new_page()
        blocked.on("console", lambda m: refused.append(m.text))
        await blocked.goto(f"{unlisted}/post?src={server.url}/embed/r/tea-time")
        await poll(lambda: asyncio.sleep(0, refused), lambda r: any("frame-ancestors" in t for t in r),
                   what="Chromium to refuse the frame")
        inner_blocked = await embed_frame(blocked)
        assert not inner_blocked.url.startswith(server.url) or await inner_blocked.evaluate(
            "!document.querySelector('.embed-room')"
        )
        assert await blocked.evaluate("window.events.length") == 0
    finally:
        await speaker.close()
        await viewer.close()
