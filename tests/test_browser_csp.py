"""Every page in Chromium under the real Content-Security-Policy (no bypass): signed out,
as a member, as an admin, a live room from both sides and the embed page. A
`securitypolicyviolation` listener installed before any page script, and the console,
must report nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, Playwright, async_playwright, expect
from tests.browser_helpers import launch, poll, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN

from parlor.app import ADMIN_PAGES, PAGES

pytestmark = pytest.mark.browser

# Runs in every document before its own scripts: keeps each violation the page reports.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                            sample: e.sample, source: e.sourceFile, line: e.lineNumber});
});
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", embed_origins="https://blog.example.org")) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


class Watched:
    """A page whose CSP violations and console complaints are collected."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.console: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.console.append(f"pageerror: {err}"))

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text or "Refused to" in text:
            self.console.append(text)

    async def visit(self, url: str, name: str, found: dict[str, Any]) -> None:
        await self.page.goto(url)
        await self.check(name, found)

    async def check(self, name: str, found: dict[str, Any]) -> None:
        await expect(self.page.locator("h1").first).to_be_visible()
        await expect(self.page.locator("main .loading")).to_have_count(0)
        violations = await self.page.evaluate("window.__violations")
        if violations or self.console:
            found[name] = {"violations": violations, "console": list(self.console)}
        self.console.clear()


async def watched(browser: Any, width: int = 1280, height: int = 800) -> Watched:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    await ctx.grant_permissions(["microphone"])
    await ctx.add_init_script(WATCH)
    page = await ctx.new_page()
    page.set_default_timeout(15_000)
    return Watched(ctx, page)


async def test_every_page_loads_under_the_policy_with_no_violation(server: LiveServer, pw: Playwright) -> None:
    ids = {}
    for name in ("alice", "bob"):
        async with httpx.AsyncClient(base_url=server.url) as http:
            ids[name] = (await make_member(server, http, name))[0]
    async with httpx.AsyncClient(base_url=server.url) as admin_http:
        await admin_http.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        code = (await admin_http.post("/api/invites")).json()["code"]
        # a club (admins may always found one) with a topic, for the club pages
        club = (await admin_http.post("/api/clubs", json={"name": "Policy club", "topics": ["music"]})).json()["id"]
        # guest rooms on, for the guest page (/r/<name>)
        r = await admin_http.patch("/api/admin/settings", json={"guest_rooms": True}, headers={"Origin": server.url})
        assert r.status_code == 200, r.text

    # Every page the app routes (app.PAGES, app.ADMIN_PAGES) is visited below; a new page
    # must be added here.
    visited: set[str] = set()
    found: dict[str, Any] = {}
    browser = await launch(pw)
    try:
        anon, alice, admin = await watched(browser), await watched(browser), await watched(browser)
        bob = await watched(browser, 390, 844)

        # A violation in a test page itself must be seen (the watch works at all).
        await anon.page.goto(f"{server.url}/login")
        await anon.page.evaluate("document.body.setAttribute('style', 'color: red')")
        await poll(lambda: anon.page.evaluate("window.__violations.length"), bool, timeout=5, what="the violation")
        await poll(lambda: asyncio.sleep(0, list(anon.console)), bool, timeout=5, what="the console's CSP report")
        anon.console.clear()

        for pattern, path in (
            ("/", "/"),
            ("/login", "/login"),
            ("/signup", "/signup"),
            ("/setup", "/setup"),
            ("/invite/{code}", f"/invite/{code}"),
            ("/waitlist", "/waitlist"),
            ("/privacy", "/privacy"),
            (None, "/no/such/page"),
            (None, "/static/offline.html"),
        ):
            await anon.visit(f"{server.url}{path}", f"signed out {path}", found)
            visited.add(pattern or path)

        await admin.page.goto(f"{server.url}/login")
        await admin.page.get_by_label("Username").fill(ADMIN["username"])
        await admin.page.get_by_label("Password").fill(ADMIN["password"])
        await admin.page.get_by_role("button", name="Sign in").click()
        await expect(admin.page.get_by_role("button", name="Start a room")).to_be_visible()
        await admin.check("admin hallway", found)
        for path in ("/invites", "/settings"):
            await admin.visit(f"{server.url}{path}", f"admin {path}", found)
        # The admin console: each section, and a person's page.
        await admin.visit(f"{server.url}/admin", "admin console", found)
        for section in ("reports", "people", "signups", "clubs", "settings", "audit"):
            await admin.visit(f"{server.url}/admin/{section}", f"admin console: {section}", found)
        await admin.visit(f"{server.url}/admin/people/{ids['alice']}", "admin console: a person", found)
        visited.update(("/admin", "/admin/{section}", "/admin/reports", "/admin/people/{user_id}"))
        await expect(admin.page.get_by_role("heading", name="Admin: embedding rooms")).to_have_count(0)
        await admin.page.goto(f"{server.url}/invites")
        await expect(admin.page.get_by_role("heading", name="Admin: embedding rooms")).to_be_visible()
        await admin.check("admin /invites (admin sections)", found)

        await sign_in(alice.page, server.url, "alice")
        await alice.check("member hallway", found)
        for pattern, path in (
            ("/invites", "/invites"),
            ("/people/{username}", "/people/bob"),
            ("/people/{username}/followers", "/people/bob/followers"),
            ("/people/{username}/following", "/people/bob/following"),
            ("/settings", "/settings"),
            ("/settings/security", "/settings/security"),
            ("/contacts", "/contacts"),
            ("/inbox", "/inbox"),
            ("/search", "/search"),
            ("/clubs", "/clubs"),
            ("/clubs/{club_id}", f"/clubs/{club}"),
        ):
            await alice.visit(f"{server.url}{path}", f"member {path}", found)
            visited.add(pattern)
        # events: the schedule form, and an event's page as its host
        await alice.visit(f"{server.url}/events/new", "member /events/new", found)
        visited.add("/events/new")
        soon = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
        made = await alice.page.request.post(
            f"{server.url}/api/events",
            data={"title": "Under policy too", "starts_at": soon},
            headers={"Origin": server.url},
        )
        assert made.ok, await made.text()
        await alice.visit(f"{server.url}/events/{(await made.json())['id']}", "member /events/{event_id}", found)
        visited.add("/events/{event_id}")

        # A live room: Alice moderates, Bob listens and raises a hand; icons, avatars,
        # the speaking ring, the socket and WebRTC all run under the policy.
        await alice.page.goto(f"{server.url}/")
        await alice.page.get_by_role("textbox", name="Room title").fill("Under policy")
        await alice.page.get_by_role("button", name="Start a room").click()
        await alice.page.wait_for_url("**/rooms/*")
        await expect(alice.page.get_by_role("status", name="Connection")).to_have_text("Connected")
        room_id = alice.page.url.rsplit("/", 1)[1]
        visited.add("/rooms/{room_id}")
        await sign_in(bob.page, server.url, "bob")
        await bob.page.goto(f"{server.url}/rooms/{room_id}")
        await expect(bob.page.get_by_role("status", name="Connection")).to_have_text("Connected")
        await bob.page.get_by_role("button", name="Raise hand").click()
        await expect(bob.page.get_by_role("button", name="Lower hand")).to_be_visible()
        await bob.check("live room (listener)", found)
        await expect(alice.page.get_by_role("list", name="Raised hands")).to_contain_text("Bob")
        await alice.check("live room (moderator)", found)

        await anon.visit(f"{server.url}/embed/room/{room_id}", "embed", found)
        await expect(anon.page.get_by_role("list", name="Stage")).to_contain_text("Alice")
        await anon.check("embed (live)", found)

        # A guest: the name prompt, then the guest room page with its socket and media.
        guest = await watched(browser)
        await guest.visit(f"{server.url}/r/policy-room", "guest /r/<name>", found)
        await guest.page.get_by_role("textbox", name="Your name").fill("Gus")
        await guest.page.get_by_role("button", name="Enter the room").click()
        await expect(guest.page.get_by_role("status", name="Connection")).to_have_text("Connected")
        await guest.check("guest room (moderator)", found)

        # An end-to-end encrypted guest room: its frames go through e2ee_worker.js (a
        # module worker, 'self' by script-src), which must load and run under the policy.
        locked = await watched(browser)
        link = f"{server.url}/r/policy-locked#k=AAECAwQFBgcICQoLDA0ODw"
        await locked.visit(link, "guest /r/<name> (encrypted)", found)
        await locked.page.get_by_role("textbox", name="Your name").fill("Lou")
        await locked.page.get_by_role("button", name="Enter the room").click()
        await expect(locked.page.get_by_role("status", name="Connection")).to_have_text("Connected")
        await expect(locked.page.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
        await poll(lambda: locked.page.evaluate("!!(window.parlor.pc && window.parlor.e2ee)"), bool, timeout=10,
                   what="the encrypted room's media and worker")
        await locked.check("encrypted guest room (moderator)", found)
    finally:
        await browser.close()
    assert found == {}
    assert visited >= {*PAGES, *ADMIN_PAGES}, {*PAGES, *ADMIN_PAGES} - visited
