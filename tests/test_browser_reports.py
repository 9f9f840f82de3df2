"""Reports in a real browser (Debian's Chromium through Playwright): a member reports
another from the room's person sheet, by keyboard; an admin opens /admin/reports, sees
the report with its context and dismisses it; the reporter's inbox says so, without
naming who handled it. A chat line reported from its menu reaches the queue with its
text; a guest is not offered "Report".

Run inside the private network namespace:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_reports.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import expect_connected, launch, sign_in, start_room
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN
from tests.test_browser_a11y import axe, context  # context: bypass_csp, for injecting axe

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1, guest_rooms=True)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def admin_page(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.get_by_label("Username").fill(ADMIN["username"])
    await page.get_by_label("Password").fill(ADMIN["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Start a room")).to_be_visible()


async def test_a_report_from_the_room_reaches_the_queue_and_its_outcome_the_reporter(
    server: LiveServer, pw: Playwright
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        await make_member(server, ann_http, "ann")
        bob_id, _ = await make_member(server, bob_http, "bob")
        r = await bob_http.patch("/api/me/profile", json={"bio": "Opinions on trains"})
        assert r.status_code == 200, r.text

    browser = await launch(pw)
    try:
        _, bob = await context(browser)
        await sign_in(bob, server.url, "bob")
        await start_room(bob, "Trains at night")
        _, ann = await context(browser)
        errors: list[str] = []
        ann.on("pageerror", lambda e: errors.append(str(e)))
        await sign_in(ann, server.url, "ann")
        await ann.goto(bob.url)
        await expect_connected(ann)

        # ann: Bob's tile → his sheet → Report, all by keyboard
        await ann.get_by_role("list", name="Stage").get_by_role("button", name="Bob", exact=True).focus()
        await ann.keyboard.press("Enter")
        sheet = ann.get_by_role("dialog", name="Bob")
        await expect(sheet).to_be_visible()
        await sheet.get_by_role("button", name="Report Bob").focus()
        await ann.keyboard.press("Enter")
        dialog = ann.get_by_role("dialog", name="Report Bob")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("Parlor records no audio")
        reasons = dialog.get_by_role("group", name="What is wrong?")
        await expect(reasons.get_by_role("radio")).to_have_count(9)
        found: dict[str, list[dict[str, Any]]] = {}
        await axe(ann, "report dialog", found)
        # sending without a reason says what is missing and sends nothing
        await dialog.get_by_role("button", name="Send report").click()
        await expect(dialog.get_by_role("alert")).to_have_text("Choose what is wrong.")
        first = reasons.get_by_role("radio", name="Harassment or bullying")
        await expect(first).to_be_focused()
        await ann.keyboard.press("Space")
        await expect(first).to_be_checked()
        await dialog.get_by_label("Anything moderators should know (optional)").fill("Kept talking over me")
        await dialog.get_by_role("button", name="Send report").click()
        await expect(dialog.get_by_role("status")).to_contain_text("your report was sent")
        await expect(dialog.get_by_role("button", name="Done")).to_be_focused()
        await ann.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        # focus goes back to Bob's tile
        await expect(
            ann.get_by_role("list", name="Stage").get_by_role("button", name="Bob", exact=True)
        ).to_be_focused()
        # the same again says it is already reported
        await ann.get_by_role("list", name="Stage").get_by_role("button", name="Bob", exact=True).click()
        await sheet.get_by_role("button", name="Report Bob").click()
        await dialog.get_by_role("radio", name="Spam or scams").check()
        await dialog.get_by_role("button", name="Send report").click()
        await expect(dialog.get_by_role("alert")).to_contain_text("You already reported this")
        await dialog.get_by_role("button", name="Cancel").click()
        # the room itself, from the room page; Bob's profile, from his profile page
        await ann.get_by_role("button", name="Report room").click()
        room_dialog = ann.get_by_role("dialog", name="Report room “Trains at night”")
        await room_dialog.get_by_role("radio", name="Hate speech").check()
        await room_dialog.get_by_role("button", name="Send report").click()
        await expect(room_dialog.get_by_role("status")).to_contain_text("your report was sent")
        await room_dialog.get_by_role("button", name="Done").click()
        await expect(ann.get_by_role("button", name="Report room")).to_be_focused()
        _, ann_profile = await context(browser)
        await sign_in(ann_profile, server.url, "ann")
        await ann_profile.goto(f"{server.url}/people/bob")
        await ann_profile.get_by_role("button", name="Report profile").click()
        profile_dialog = ann_profile.get_by_role("dialog", name="Report profile Bob")
        await profile_dialog.get_by_role("radio", name="Pretending to be someone else").check()
        await profile_dialog.get_by_role("button", name="Send report").click()
        await expect(profile_dialog.get_by_role("status")).to_contain_text("your report was sent")

        # the admin: the queue shows it with its context
        _, admin = await context(browser)
        await admin_page(admin, server.url)
        await admin.goto(f"{server.url}/admin/reports")
        await expect(admin.get_by_role("tab", name="Open")).to_have_attribute("aria-selected", "true")
        queue = admin.get_by_role("list", name="Open reports")
        item = queue.get_by_role("article", name="Person: Bob (@bob)")
        await expect(item).to_be_visible()
        await expect(item).to_contain_text("Harassment or bullying")
        await expect(item).to_contain_text("reported by Ann (@ann)")
        await expect(item).to_contain_text("Kept talking over me")
        await expect(item).to_contain_text("Opinions on trains")  # the profile when reported
        await expect(item).to_contain_text("“Trains at night”, open room, live")
        await expect(item).to_contain_text("Bob (@bob, moderator)")  # who was on stage
        await item.get_by_text("Room activity before the report").click()
        activity = item.get_by_role("list").last
        await expect(activity).to_contain_text("Bob (@bob) started the room")
        await expect(activity).to_contain_text("Ann (@ann) joined")
        await expect(item.get_by_role("link", name="View person: Bob")).to_have_attribute(
            "href", f"/admin/people/{bob_id}"
        )
        await expect(queue.get_by_role("article", name="Room: Trains at night")).to_contain_text("Hate speech")
        await expect(queue.get_by_role("article", name="Profile: Bob (@bob)")).to_contain_text(
            "Pretending to be someone else"
        )
        await axe(admin, "report queue", found)
        await item.get_by_role("button", name="Dismiss report about Bob (@bob)").click()
        await expect(admin.get_by_role("status")).to_contain_text("Dismissed: report about Bob (@bob)")
        await expect(queue.get_by_role("article")).to_have_count(2)
        await expect(queue.get_by_role("article", name="Person: Bob (@bob)")).to_have_count(0)
        await admin.get_by_role("tab", name="Handled").click()
        handled = admin.get_by_role("list", name="Handled reports").get_by_role("article", name="Person: Bob (@bob)")
        await expect(handled).to_contain_text("Dismissed by Root (@root)")

        # ann is told, live on her bell, and the inbox says the outcome but not who
        await expect(ann.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
        await ann.goto(f"{server.url}/inbox")
        notes = ann.get_by_role("list", name="Notifications")
        await expect(notes).to_contain_text(
            "Your report about Bob (@bob) was handled: a moderator looked at it and found nothing against the rules."
        )
        text = await notes.inner_text()
        assert "Root" not in text and "root" not in text
        assert errors == []
        assert found == {"report dialog": [], "report queue": []}
    finally:
        await browser.close()


async def test_a_chat_line_reported_from_its_menu_reaches_the_queue_with_its_text(
    server: LiveServer, pw: Playwright
) -> None:
    from tests.test_browser_guests import enter_as

    markup = "<img src=x onerror=alert(1)> trains are for losers"
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        await make_member(server, ann_http, "ann")
        await make_member(server, bob_http, "bob")
        r = await bob_http.post("/api/rooms", json={"title": "Trains by day"})
        room_id = r.json()["id"]
        assert (await bob_http.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})).status_code == 200
        assert (await ann_http.post(f"/api/rooms/{room_id}/join")).status_code == 200
        r = await bob_http.post(f"/api/rooms/{room_id}/chat", json={"text": markup})
        assert r.status_code == 201, r.text

        browser = await launch(pw)
        try:
            _, ann = await context(browser)
            await sign_in(ann, server.url, "ann")
            await ann.goto(f"{server.url}/rooms/{room_id}")
            await expect_connected(ann)
            log = ann.get_by_role("log", name="Chat messages")
            await expect(log).to_contain_text("trains are for losers")
            report = log.get_by_role("button", name="Report message from Bob")
            await report.focus()
            await ann.keyboard.press("Enter")
            dialog = ann.get_by_role("dialog", name="Report message from Bob")
            await expect(dialog).to_be_visible()
            found: dict[str, list[dict[str, Any]]] = {}
            await axe(ann, "report a chat line", found)
            assert found == {"report a chat line": []}, found
            await dialog.get_by_role("radio", name="Harassment or bullying").check()
            await dialog.get_by_role("button", name="Send report").click()
            await expect(dialog.get_by_role("status")).to_contain_text("your report was sent")
            await dialog.get_by_role("button", name="Done").click()
            await expect(report).to_be_focused()

            # a guest by the link sees the line, and may report it too (as "a guest")
            _, guest = await context(browser)
            await guest.goto(f"{server.url}/rooms/{room_id}")
            await enter_as(guest, "Gus")
            guest_log = guest.get_by_role("log", name="Chat messages")
            await expect(guest_log).to_contain_text("trains are for losers")
            await expect(guest_log.get_by_role("button", name="Report message from Bob")).to_have_count(1)

            _, admin = await context(browser)
            await admin_page(admin, server.url)
            await admin.goto(f"{server.url}/admin/reports")
            item = admin.get_by_role("list", name="Open reports").get_by_role(
                "article", name="Message: A chat message by Bob (@bob)"
            )
            await expect(item).to_contain_text("The chat message")
            await expect(item).to_contain_text(markup)  # as text, never as markup
            assert await item.locator("img").count() == 0
            await expect(item).to_contain_text("“Trains by day”, open room, live")
        finally:
            await browser.close()
