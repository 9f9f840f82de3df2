"""Accessibility in Chromium: axe-core (vendored in tests/vendor, never fetched) on every
page, failing on any serious or critical violation; and a keyboard-only member who signs
in, joins a room from the hallway, raises a hand and accepts an invitation to speak."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright, expect
from tests.browser_helpers import PASSWORD, launch, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BAD_IMPACTS = ("serious", "critical")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=30.0)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def context(browser: Any, width: int = 1280, height: int = 800) -> tuple[BrowserContext, Page]:
    # bypass_csp: injecting axe must keep working once the pages get a strict CSP.
    ctx = await browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    await ctx.grant_permissions(["microphone"])
    page = await ctx.new_page()
    page.set_default_timeout(15_000)
    page.set_default_navigation_timeout(30_000)
    return ctx, page


async def axe(page: Page, name: str, found: dict[str, list[dict[str, Any]]]) -> None:
    """Run axe on what the page shows now; keep its serious and critical violations."""
    await expect(page.locator("h1").first).to_be_visible()
    await expect(page.locator("main .loading")).to_have_count(0)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BAD_IMPACTS
    ]
    found[name] = bad


async def test_axe_finds_no_serious_or_critical_violation_on_any_page(server: LiveServer, pw: Playwright) -> None:
    tokens = {}
    for name in ("alice", "bob"):
        async with httpx.AsyncClient(base_url=server.url) as http:
            tokens[name] = (await make_member(server, http, name))[1]
    async with httpx.AsyncClient(base_url=server.url) as admin_http:
        await admin_http.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        code = (await admin_http.post("/api/invites")).json()["code"]
        await admin_http.put("/api/admin/embed-origins", json={"origins": ["https://blog.example.org"]})
        body = {"name": "Axe club", "topics": ["art"], "rules": "Be kind"}
        club = (await admin_http.post("/api/clubs", json=body)).json()

    found: dict[str, list[dict[str, Any]]] = {}
    browser = await launch(pw)
    try:
        _, anon = await context(browser, 390, 844)
        _, alice = await context(browser)
        _, bob = await context(browser, 390, 844)
        _, admin = await context(browser)

        await anon.goto(f"{server.url}/")
        await axe(anon, "hallway (signed out)", found)
        for path, name in (
            ("/login", "login"),
            ("/signup", "signup"),
            ("/setup", "setup"),
            (f"/invite/{code}", "invite link"),
            ("/waitlist", "waitlist"),
            ("/no/such/page", "not found"),
            ("/static/offline.html", "offline page"),
        ):
            await anon.goto(f"{server.url}{path}")
            await axe(anon, name, found)

        await admin.goto(f"{server.url}/login")
        await admin.get_by_label("Username").fill(ADMIN["username"])
        await admin.get_by_label("Password").fill(ADMIN["password"])
        await admin.get_by_role("button", name="Sign in").click()
        await expect(admin.get_by_role("button", name="Start a room")).to_be_visible()
        await admin.goto(f"{server.url}/invites")
        await expect(admin.get_by_role("heading", name="Admin: embedding rooms")).to_be_visible()
        await axe(admin, "invites (admin)", found)
        # a club's page as its admin (every tool shown), and the console's Clubs section
        await admin.goto(f"{server.url}/clubs/{club['id']}")
        await expect(admin.get_by_role("button", name="Save club settings")).to_be_visible()
        await axe(admin, "club page (its admin)", found)
        await admin.goto(f"{server.url}/admin/clubs")
        await expect(admin.get_by_role("button", name="Remove Axe club")).to_be_visible()
        await axe(admin, "admin console: clubs", found)
        await sign_in(bob, server.url, "bob")  # (signed in from here on)
        for path, ready in (("/clubs", "Find clubs"), (f"/clubs/{club['id']}", "Join club")):
            await bob.goto(f"{server.url}{path}")
            await expect(bob.get_by_role("button", name=ready)).to_be_visible()
            await axe(bob, "clubs (phone)" if path == "/clubs" else "a club (phone)", found)

        await sign_in(alice, server.url, "alice")
        await axe(alice, "hallway (signed in)", found)
        for path, name in (
            ("/invites", "invites"),
            ("/people/bob", "profile"),
            ("/settings", "settings"),
            ("/contacts", "contacts"),
            ("/inbox", "inbox"),
        ):
            await alice.goto(f"{server.url}{path}")
            await axe(alice, name, found)

        await alice.goto(f"{server.url}/")
        await alice.get_by_role("textbox", name="Room title").fill("Checked by axe")
        await alice.get_by_role("button", name="Start a room").click()
        await alice.wait_for_url("**/rooms/*")
        room_id = alice.url.rsplit("/", 1)[1]
        await bob.goto(f"{server.url}/rooms/{room_id}")
        await bob.get_by_role("button", name="Raise hand").click()
        await expect(bob.get_by_role("button", name="Lower hand")).to_be_visible()
        await axe(bob, "live room (listener, hand raised)", found)
        await expect(alice.get_by_role("list", name="Raised hands")).to_contain_text("Bob")
        await axe(alice, "live room (moderator)", found)

        await anon.goto(f"{server.url}/embed/room/{room_id}")
        await expect(anon.get_by_role("list", name="Stage")).to_contain_text("Alice")
        await axe(anon, "embed", found)

        await alice.get_by_role("button", name="End room").click()
        await alice.get_by_role("button", name="Confirm end room").click()
        await expect(alice.get_by_text("This room has ended")).to_be_visible()
        await alice.goto(f"{server.url}/rooms/{room_id}")
        await expect(alice.get_by_text("This room has ended")).to_be_visible()
        await axe(alice, "ended room", found)

        # An end-to-end encrypted room: the lock and its state, safety codes on the
        # tiles and in a person's sheet.
        await alice.goto(f"{server.url}/")
        await alice.get_by_role("textbox", name="Room title").fill("Sealed by axe")
        await alice.get_by_role("checkbox", name="End-to-end encrypted").check()
        await alice.get_by_role("button", name="Start a room").click()
        await alice.wait_for_url("**/rooms/*")
        sealed_id = alice.url.rsplit("/", 1)[1]
        await bob.goto(f"{server.url}/rooms/{sealed_id}")
        for page in (alice, bob):
            await expect(page.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            await expect(page.locator(".mark-code")).to_have_count(2)
        await axe(alice, "encrypted room (moderator)", found)
        await axe(bob, "encrypted room (listener, phone)", found)
        await bob.locator("li.on-stage button.person-button").first.click()
        await expect(bob.get_by_role("dialog", name="Alice")).to_contain_text("Safety code:")
        await axe(bob, "encrypted room: a person's sheet with their safety code", found)
    finally:
        await browser.close()

    assert len(found) == 26, sorted(found)
    report = {page: v for page, v in found.items() if v}
    assert not report, "axe: serious or critical violations:\n" + "\n".join(
        f"- {page}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for page, vs in report.items() for v in vs
    )


# -- keyboard only ----------------------------------------------------------------------------

_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.labels && el.labels.length ? el.labels[0].textContent : '';
  const style = getComputedStyle(el);
  return {
    name: (el.getAttribute('aria-label') || label || el.textContent || '').trim(),
    tag: el.tagName.toLowerCase(),
    visible: style.boxShadow !== 'none' || (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0),
  };
}"""


async def tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the focused control is `name`; every stop must show its focus."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUSED)
        if focused is None:
            continue
        seen.append(focused["name"])
        assert focused["visible"], f"no visible focus on {focused}"
        if focused["name"] == name:
            return
    raise AssertionError(f"Tab never reached {name!r}; went through {seen}")


async def test_keyboard_only_sign_in_join_raise_hand_and_accept_the_invitation(
    server: LiveServer, pw: Playwright
) -> None:
    ids = {}
    tokens = {}
    for name in ("alice", "bob"):
        async with httpx.AsyncClient(base_url=server.url) as http:
            ids[name], tokens[name] = await make_member(server, http, name)
    bearer = {"Authorization": f"Bearer {tokens['alice']}"}
    async with httpx.AsyncClient(base_url=server.url, headers=bearer) as alice:
        room = (await alice.post("/api/rooms", json={"title": "Keys only"})).json()
        browser = await launch(pw)
        try:
            _, page = await context(browser)
            await page.goto(f"{server.url}/login")
            await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
            await tab_to(page, "Username")
            await page.keyboard.type("bob")
            await tab_to(page, "Password")
            await page.keyboard.type(PASSWORD)
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("button", name="Start a room")).to_be_visible()

            await tab_to(page, "Join Keys only")
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"**/rooms/{room['id']}")
            await expect(page.get_by_role("status", name="Connection")).to_have_text("Connected")

            await tab_to(page, "Raise hand")
            await page.keyboard.press("Space")
            await expect(page.get_by_role("button", name="Lower hand")).to_be_visible()
            state = (await alice.get(f"/api/rooms/{room['id']}")).json()
            assert next(p for p in state["participants"] if p["user_id"] == ids["bob"])["hand_raised"] is True

            # The moderator (through the API) invites; the invitation takes the focus.
            r = await alice.post(f"/api/rooms/{room['id']}/speak-invites", json={"user_id": ids["bob"]})
            assert r.status_code == 200, r.text
            accept = page.get_by_role("button", name="Accept invitation to speak")
            await expect(accept).to_be_focused()
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("list", name="Stage")).to_contain_text("Bob")
            state = (await alice.get(f"/api/rooms/{room['id']}")).json()
            assert next(p for p in state["participants"] if p["user_id"] == ids["bob"])["role"] == "speaker"
        finally:
            await browser.close()


# -- guests -----------------------------------------------------------------------------------


async def test_axe_on_the_guest_pages(tmp_path: Path, pw: Playwright) -> None:
    """/r/<name>: its name prompt (and a bad name's explanation), the guest room seen by
    its first guest; a members' room by its link: the prompt and the room as a guest."""
    from tests.test_browser_guests import enter_as

    found: dict[str, list[dict[str, Any]]] = {}
    settings = make_settings(tmp_path / "data", guest_rooms=True, embed_origins="https://blog.example.org")
    async with live_server(settings) as server:
        async with httpx.AsyncClient(base_url=server.url) as host:
            await make_member(server, host, "host")
            room_id = (await host.post("/api/rooms", json={"title": "Open door"})).json()["id"]
            assert (await host.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})).status_code == 200
            r = await host.post(f"/api/rooms/{room_id}/chat", json={"text": "welcome, guests"})
            assert r.status_code == 201, r.text
            browser = await launch(pw)
            try:
                _, phone = await context(browser, 390, 844)
                await phone.goto(f"{server.url}/r/abc")
                await axe(phone, "guest room: a bad name", found)
                await phone.goto(f"{server.url}/r/axe-checked")
                await expect(phone.get_by_role("textbox", name="Your name")).to_be_visible()
                await axe(phone, "guest room: the name prompt", found)
                await enter_as(phone, "Ada")
                await expect(phone.get_by_role("list", name="Stage")).to_contain_text("Ada")
                await axe(phone, "guest room (its moderator)", found)

                _, wide = await context(browser)
                await wide.goto(f"{server.url}/rooms/{room_id}")
                await expect(wide.get_by_role("textbox", name="Your name")).to_be_visible()
                await axe(wide, "members' room by its link: the name prompt", found)
                await enter_as(wide, "Gus")
                await expect(wide.get_by_role("log", name="Chat messages")).to_contain_text("welcome, guests")
                await axe(wide, "members' room as a guest", found)

                # an end-to-end encrypted guest room: the prompt with its key in the link, the
                # room with its lock, its state in words and the safety-code-free guest tiles
                _, locked = await context(browser, 390, 844)
                await locked.goto(f"{server.url}/r/axe-locked#k=AAECAwQFBgcICQoLDA0ODw")
                await expect(locked.get_by_text("the key is in this link")).to_be_visible()
                await axe(locked, "encrypted guest room: the name prompt", found)
                await enter_as(locked, "Lin")
                await expect(locked.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
                await axe(locked, "encrypted guest room (its moderator)", found)

                # an embedded guest room: its preview and name prompt (opened on its own here)
                _, embed = await context(browser, 390, 700)
                await embed.goto(f"{server.url}/embed/r/axe-embedded")
                await expect(embed.get_by_label("Your name")).to_be_visible()
                await axe(embed, "embedded guest room: the name prompt", found)
            finally:
                await browser.close()
    assert len(found) == 8, sorted(found)
    report = {page: v for page, v in found.items() if v}
    assert not report, "axe: serious or critical violations:\n" + "\n".join(
        f"- {page}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for page, vs in report.items() for v in vs
    )
