"""The admin console in Debian's Chromium: a member reports another who misbehaves in a
room; the admin finds the report in the console's queue, opens the person from it,
warns and suspends them; they are removed from the room (their page says so) and cannot
sign in. Also: members get the not-found page, the console's pages at phone width, with
no data and with some, and axe finds nothing serious.

(The report is made through the API here; tests/test_browser_reports.py makes one from
the room's person sheet.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    PASSWORD,
    expect_connected,
    join_from_hallway,
    launch,
    no_horizontal_overflow,
    start_room,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN
from tests.test_browser_a11y import axe, context

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=30.0)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def sign_in(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    """Through the login page. Patient: argon2 on a busy machine can take a while."""
    await page.goto(f"{url}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Start a room")).to_be_visible(timeout=20_000)


async def test_an_admin_suspends_a_member_who_is_removed_from_the_room_and_cannot_sign_in(
    server: LiveServer, pw: Playwright
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, ann_token = await make_member(server, http, "ann")
        bob_id, _ = await make_member(server, http, "bob")
    found: dict[str, list[dict[str, Any]]] = {}
    browser = await launch(pw)
    try:
        _, ann = await context(browser)
        _, bob = await context(browser, 390, 844)
        _, root = await context(browser, 390, 844)  # the admin, on a phone
        await sign_in(ann, server.url, "ann")
        room_id = (await start_room(ann, "Town hall")).rstrip("/").rsplit("/", 1)[-1]
        await sign_in(bob, server.url, "bob")
        await join_from_hallway(bob, "Town hall")
        await expect_connected(bob)
        people_in_room = ann.get_by_role("list", name="Audience")
        await expect(people_in_room).to_contain_text("Bob")
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {ann_token}"}) as http:
            body = {
                "target": {"kind": "person", "id": bob_id},
                "reason": "harassment",
                "note": "Shouting over everyone",
                "room_id": room_id,
            }
            r = await http.post("/api/reports", json=body)
            assert r.status_code == 201, r.text

        # The console: the "Admin" link in the top bar, empty sections first.
        await sign_in(root, server.url, ADMIN["username"], ADMIN["password"])
        await root.get_by_role("link", name="Admin", exact=True).click()
        await root.wait_for_url("**/admin")
        tabs = root.get_by_role("navigation", name="Admin sections")
        await expect(tabs.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")
        queue = root.get_by_role("list", name="Open reports")
        await expect(queue).to_contain_text("Bob")
        await expect(queue).to_contain_text("Shouting over everyone")
        await axe(root, "admin: reports", found)
        await tabs.get_by_role("link", name="Audit log").click()
        await expect(root.get_by_text("No admin has done anything yet.")).to_be_visible()
        await axe(root, "admin: audit log (empty)", found)
        await tabs.get_by_role("link", name="Settings").click()
        await expect(root.get_by_label("Invites per member")).to_have_value("5")
        await root.get_by_label("Invites per member").fill("3")
        await root.get_by_role("button", name="Save settings").click()
        await expect(root.get_by_text("Saved.", exact=True)).to_be_visible()
        await axe(root, "admin: settings", found)
        await tabs.get_by_role("link", name="Sign-ups").click()
        await expect(root.get_by_label("Sign-up mode")).to_be_visible()
        await axe(root, "admin: sign-ups", found)

        # People finds bob; the report in the queue opens his page.
        await tabs.get_by_role("link", name="People").click()
        await root.get_by_label("Find people").fill("bo")
        people = root.get_by_role("list", name="People")
        await expect(people.get_by_role("link", name="Bob")).to_be_visible()
        await tabs.get_by_role("link", name="Reports").click()
        await queue.get_by_role("link", name="View person: Bob").click()
        await root.wait_for_url(f"**/admin/people/{bob_id}")
        await expect(root.get_by_role("heading", name="Bob")).to_be_visible()
        await expect(root.get_by_text("In good standing.")).to_be_visible()
        await axe(root, "admin: a person", found)
        await no_horizontal_overflow(root)

        # Warn, by keyboard: the dialog opens on its message field.
        await root.get_by_role("button", name="Warn").focus()
        await root.keyboard.press("Enter")
        dialog = root.get_by_role("dialog", name="Warn Bob")
        await expect(dialog.get_by_label("Message they will read")).to_be_focused()
        await root.keyboard.type("Please let others speak.")
        await root.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name="Send warning")).to_be_focused()
        await root.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        sanctions = root.get_by_role("list", name="Sanctions")
        await expect(sanctions).to_contain_text("Please let others speak.")

        # Suspend for 3 days: bob is out of the room at once, and signed out.
        await root.get_by_role("button", name="Suspend").click()
        dialog = root.get_by_role("dialog", name="Suspend Bob")
        await dialog.get_by_label("For how long").select_option(label="3 days")
        await dialog.get_by_label("Reason (for the audit log)").fill("Shouting over everyone")
        await axe(root, "admin: suspend dialog", found)
        await dialog.get_by_role("button", name="Suspend").click()
        await expect(dialog).to_be_hidden()
        await expect(root.get_by_text("Suspended until")).to_be_visible()
        await expect(root.get_by_role("button", name="Lift suspension")).to_be_visible()

        await expect(bob.get_by_text("You are no longer in this room.")).to_be_visible()
        await expect(people_in_room).not_to_contain_text("Bob")
        await bob.goto(f"{server.url}/login")
        await bob.get_by_label("Username").fill("bob")
        await bob.get_by_label("Password").fill(PASSWORD)
        await bob.get_by_role("button", name="Sign in").click()
        await expect(bob.get_by_role("alert")).to_contain_text("suspended until", timeout=20_000)

        # The audit log shows what was done, newest first.
        await tabs.get_by_role("link", name="Audit log").click()
        log = root.get_by_role("list", name="Audit log")
        await expect(log.get_by_role("listitem").first).to_contain_text("@root suspended @bob")
        await expect(log).to_contain_text("Shouting over everyone")
        await expect(log).to_contain_text("changed the settings")
        await axe(root, "admin: audit log", found)
        await no_horizontal_overflow(root)

        # A member gets the not-found page, however they come.
        await ann.goto(f"{server.url}/admin/people")
        await expect(ann.get_by_role("heading", name="Page not found")).to_be_visible()
        await expect(ann.get_by_role("link", name="Admin", exact=True)).to_be_hidden()
    finally:
        await browser.close()
    assert not any(found.values()), {k: v for k, v in found.items() if v}
