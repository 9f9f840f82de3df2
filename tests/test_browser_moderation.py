"""The moderators' room-wide tools in a real browser (Debian's Chromium, Playwright):
the "Moderation" dialog by keyboard (mute everyone on stage, lower all hands, open a
closed room up, the moderation trail), withdrawing an invitation to speak from the
hands list and from the person sheet; on a phone and on a wide window, with axe.

Run inside the private network namespace (scripts/test does it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from tests.browser_helpers import expect_connected, launch, no_horizontal_overflow, poll, sign_in, within_viewport
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1, guest_rooms=True)) as s:
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await launch(pw)
        try:
            yield b
        finally:
            await b.close()


async def member(server: LiveServer, name: str, clients: list[httpx.AsyncClient]) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(base_url=server.url, timeout=60.0)
    clients.append(http)
    user_id, _ = await make_member(server, http, name)
    return http, user_id


async def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def someone(snapshot: dict[str, Any], user_id: str) -> dict[str, Any]:
    return next(p for p in snapshot["participants"] if p["user_id"] == user_id)


async def serious_violations(page: Page) -> list[tuple[str, str]]:
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"]) for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)], ids=["phone", "wide"])
async def test_the_moderation_dialog_by_keyboard(server: LiveServer, browser: Browser, width: int, height: int) -> None:
    clients: list[httpx.AsyncClient] = []
    try:
        alice, _ = await member(server, "alice", clients)
        bob, bob_id = await member(server, "bob", clients)
        cat, cat_id = await member(server, "cat", clients)
        rid = (await ok(await alice.post("/api/rooms", json={"title": "Quiet please", "kind": "closed"})))["id"]
        for name, http in (("bob", bob), ("cat", cat)):
            await ok(await alice.post(f"/api/rooms/{rid}/invites", json={"username": name}))
            await ok(await http.post(f"/api/rooms/{rid}/join"))
        await ok(await alice.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": cat_id}))
        await ok(await cat.post(f"/api/rooms/{rid}/speak-invite/accept"))
        await ok(await cat.post(f"/api/rooms/{rid}/mute", json={"muted": False}))
        await ok(await bob.post(f"/api/rooms/{rid}/hand", json={"raised": True}))
        # A guest by the link, invited to speak: the trail names it "a guest" (nothing more is kept).
        await ok(await alice.post(f"/api/rooms/{rid}/guests", json={"allowed": True}))
        gus = httpx.AsyncClient(base_url=server.url, timeout=60.0)
        clients.append(gus)
        entered = await ok(await gus.post(f"/api/guest/rooms/{rid}/enter", json={"display_name": "Gus"}))
        await ok(await alice.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": entered["guest"]["id"]}))

        # bypass_csp: axe is injected as a script (tests/test_browser_csp.py checks the policy)
        context = await browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        await context.grant_permissions(["microphone"])
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await sign_in(page, server.url, "alice")
        await page.goto(f"{server.url}/rooms/{rid}")
        await expect_connected(page)

        opener = page.get_by_role("button", name="Moderation")
        await opener.focus()
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Moderation")
        await expect(dialog).to_be_visible()
        await within_viewport(page, dialog)
        await no_horizontal_overflow(page)
        mute_all = dialog.get_by_role("button", name="Mute everyone on stage")
        await expect(mute_all).to_be_focused()
        assert await serious_violations(page) == []

        async def room() -> dict[str, Any]:
            return await ok(await alice.get(f"/api/rooms/{rid}"))

        await page.keyboard.press("Enter")
        await poll(room, lambda s: someone(s, cat_id)["self_muted"], what="cat muted")
        await expect(dialog.get_by_role("status")).to_contain_text("muted")
        await page.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name="Lower all hands")).to_be_focused()
        await page.keyboard.press("Enter")
        await poll(room, lambda s: not someone(s, bob_id)["hand_raised"], what="bob's hand down")
        await expect(dialog.get_by_role("status")).to_have_text("All hands are down.")
        await page.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name="Open the room to everyone")).to_be_focused()
        await page.keyboard.press("Enter")
        await poll(room, lambda s: s["kind"] == "open", what="the room open")
        await expect(dialog.get_by_role("button", name="Open the room to everyone")).to_have_count(0)

        trail = dialog.get_by_role("list", name="Moderation trail")
        await expect(trail.get_by_role("listitem").nth(0)).to_contain_text("Alice opened the room to everyone")
        await expect(trail.get_by_role("listitem").nth(1)).to_contain_text("Alice lowered all hands")
        await expect(trail.get_by_role("listitem").nth(2)).to_contain_text("Alice muted everyone on stage")
        await expect(trail).to_contain_text("Alice invited to speak: Cat")
        await expect(trail).to_contain_text("Alice invited to speak: a guest")
        await expect(trail).to_contain_text("Alice invited into the room: Bob")
        await no_horizontal_overflow(page)
        await page.screenshot(path=str(Path(server.settings.data_dir) / f"moderation-{width}.png"))

        # Escape closes it; focus goes back to the button that opened it
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(opener).to_be_focused()
        await expect(page.locator(".badge-kind")).to_have_text("Open")
        await context.close()
    finally:
        for c in clients:
            await c.aclose()


async def test_withdrawing_an_invitation_to_speak_from_the_hands_and_the_sheet(
    server: LiveServer, browser: Browser
) -> None:
    clients: list[httpx.AsyncClient] = []
    try:
        alice, _ = await member(server, "alice", clients)
        bob, bob_id = await member(server, "bob", clients)
        rid = (await ok(await alice.post("/api/rooms", json={"title": "Second thoughts"})))["id"]
        await ok(await bob.post(f"/api/rooms/{rid}/join"))
        await ok(await bob.post(f"/api/rooms/{rid}/hand", json={"raised": True}))

        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.grant_permissions(["microphone"])
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await sign_in(page, server.url, "alice")
        await page.goto(f"{server.url}/rooms/{rid}")
        await expect_connected(page)

        async def invited() -> bool:
            return bool(someone(await ok(await alice.get(f"/api/rooms/{rid}")), bob_id)["speak_invite"])

        # from the raised hands: Invite, then at once Withdraw invitation. The invitation's
        # answer is held back 1.5 s, so the withdrawal is pressed while the page still waits
        # for it (the socket has already shown the new button): the page must queue the
        # second press, not drop it.
        async def slow_answer(route: Route) -> None:
            answer = await route.fetch()
            await asyncio.sleep(1.5)
            await route.fulfill(response=answer)

        await page.route("**/speak-invites", slow_answer)
        hands = page.get_by_role("list", name="Raised hands")
        await hands.get_by_role("button", name="Invite Bob to speak").click()
        withdraw = hands.get_by_role("button", name="Withdraw invitation: Bob")
        await withdraw.focus()
        assert await invited(), "the invitation landed before its answer came back"
        await page.keyboard.press("Enter")
        await poll(invited, lambda v: not v, what="invitation withdrawn")
        await page.unroute("**/speak-invites")
        await expect(hands.get_by_role("button", name="Invite Bob to speak")).to_be_visible()

        # from Bob's sheet
        await ok(await alice.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": bob_id}))
        await page.get_by_role("list", name="Audience").get_by_role("button", name="Bob", exact=True).click()
        sheet = page.get_by_role("dialog", name="Bob")
        await sheet.get_by_role("button", name="Withdraw invitation: Bob").click()
        await poll(invited, lambda v: not v, what="invitation withdrawn from the sheet")
        await expect(sheet.get_by_role("button", name="Invite Bob to speak")).to_be_visible()
        await context.close()
    finally:
        for c in clients:
            await c.aclose()
