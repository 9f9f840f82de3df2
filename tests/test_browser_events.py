"""Events in a real browser (Debian's Chromium through Playwright): a member sees the
upcoming event of a club they are in (its host they follow) in the hallway, asks to be notified, is told when
the host starts it, and joins the live room from the event page.

Run inside the private network namespace (scripts/test does it).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright, expect
from tests.browser_helpers import expect_connected, launch, new_page, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


def soon(minutes: float) -> str:
    return datetime.fromtimestamp(time.time() + minutes * 60, UTC).isoformat()


async def test_a_member_is_told_when_a_followed_host_starts_an_event_and_joins_from_its_page(
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
        # bob's event is one of his club's (alice is a member)
        async with httpx.AsyncClient(base_url=server.url) as admin:
            await admin.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
            assert (await admin.patch("/api/admin/settings", json={"clubs_rule": "members"})).status_code == 200
        r = await bob.post("/api/clubs", json={"name": "Askers", "mode": "open"})
        assert r.status_code == 201, r.text
        club_id = r.json()["id"]
        assert (await alice.post(f"/api/clubs/{club_id}/join")).status_code == 200
        # carl's event is sooner, but alice follows bob: bob's comes first
        body = {"title": "Carl's chat", "description": "", "starts_at": soon(20)}
        assert (await carl.post("/api/events", json=body)).status_code == 201
        body = {"title": "Bob's Q&A", "description": "Ask me anything", "starts_at": soon(30), "club_id": club_id}
        r = await bob.post("/api/events", json=body)
        assert r.status_code == 201, r.text
        event_id = r.json()["id"]

        browser = await launch(pw)
        try:
            _, page = await new_page(browser, width=390, height=844)  # a phone's width
            await sign_in(page, server.url, "alice")
            events = page.get_by_role("list", name="Upcoming events")
            await expect(events.get_by_role("listitem")).to_have_count(2)
            await expect(events.get_by_role("listitem").first).to_contain_text("Bob's Q&A")
            await expect(events.get_by_role("listitem").first).to_contain_text("Bob")
            await expect(events.get_by_role("listitem").first.get_by_role("link", name="Askers")).to_have_attribute(
                "href", f"/clubs/{club_id}"
            )
            await expect(page.get_by_role("link", name="Schedule an event")).to_be_visible()

            # to the event's page, by keyboard
            link = events.get_by_role("link", name="Details of Bob's Q&A")
            await link.focus()
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"**/events/{event_id}")
            await expect(page.get_by_role("heading", name="Bob's Q&A")).to_be_visible()
            await expect(page.get_by_text("Ask me anything")).to_be_visible()
            await expect(page.get_by_role("link", name="Add to calendar")).to_have_attribute(
                "href", f"/api/events/{event_id}.ics"
            )
            await expect(page.get_by_role("button", name="Start the event")).to_have_count(0)  # not hers
            notify = page.get_by_role("button", name="Notify me")
            await expect(notify).to_have_attribute("aria-pressed", "false")
            await notify.click()
            await expect(notify).to_have_attribute("aria-pressed", "true")
            await expect(page.get_by_text("1 asked to be notified")).to_be_visible()
            assert (await alice.get(f"/api/events/{event_id}")).json()["notify"] is True
            await page.evaluate("() => { window.__noReload = true; }")

            # bob starts it: alice's open page turns live, her bell counts it, she joins
            r = await bob.post(f"/api/events/{event_id}/start")
            assert r.status_code == 200, r.text
            await expect(page.get_by_role("status").filter(has_text="Live now")).to_be_visible()
            await expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
            assert await page.evaluate("() => window.__noReload === true")
            await page.get_by_role("link", name="Join the live room").click()
            await page.wait_for_url("**/rooms/*")
            await expect_connected(page)
            await expect(page.get_by_role("list", name="Audience")).to_contain_text("Alice")
            await expect(page.get_by_role("list", name="Stage")).to_contain_text("Bob")
            assert page.url.endswith(r.json()["room_id"])

            # the inbox says what happened, with a way to the event
            await page.goto(f"{server.url}/inbox")
            notes = page.get_by_role("list", name="Notifications")
            await expect(notes).to_contain_text("Bob started “Bob's Q&A”: it is live")
            await expect(notes.get_by_role("link", name="See event Bob's Q&A")).to_be_visible()
        finally:
            await browser.close()


async def test_a_host_schedules_from_the_hallway_and_starts_it_from_the_event_page(
    server: LiveServer, pw: Playwright
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as bob:
        await make_member(server, bob, "bob")
        browser = await launch(pw)
        try:
            _, page = await new_page(browser)
            await sign_in(page, server.url, "bob")
            await page.get_by_role("link", name="Schedule an event").click()
            await page.wait_for_url("**/events/new")
            await page.get_by_label("Event title").fill("Morning pages")
            await page.get_by_label("Description").fill("Write, then talk")
            local = datetime.fromtimestamp(time.time() + 40 * 60).strftime("%Y-%m-%dT%H:%M")
            await page.get_by_label("Starts").fill(local)
            await page.get_by_label("Co-hosts (usernames, comma-separated, up to 5)").fill("nobody_here")
            await page.get_by_role("button", name="Schedule").click()
            await expect(page.get_by_role("alert")).to_contain_text("no member called @nobody_here")
            await page.get_by_label("Co-hosts (usernames, comma-separated, up to 5)").fill("")
            await page.get_by_role("button", name="Schedule").click()
            await page.wait_for_url("**/events/e_*")
            await expect(page.get_by_role("heading", name="Morning pages")).to_be_visible()
            await page.get_by_role("button", name="Start the event").click()
            await page.wait_for_url("**/rooms/*")
            await expect_connected(page)
            await expect(page.get_by_role("list", name="Stage")).to_contain_text("Bob")
        finally:
            await browser.close()


async def test_axe_on_the_event_pages_and_the_calendar_link(server: LiveServer, pw: Playwright) -> None:
    from tests.test_browser_a11y import axe, context

    async with httpx.AsyncClient(base_url=server.url) as ann, httpx.AsyncClient(base_url=server.url) as bob:
        await make_member(server, ann, "ann")
        await make_member(server, bob, "bob")
        body = {"title": "Axe hour", "description": "Checked", "starts_at": soon(90), "cohosts": ["bob"]}
        event_id = (await ann.post("/api/events", json=body)).json()["id"]
    found: dict[str, list[dict[str, Any]]] = {}
    browser = await launch(pw)
    try:
        _, page = await context(browser, 390, 844)
        await sign_in(page, server.url, "ann")
        await expect(page.get_by_role("list", name="Upcoming events")).to_contain_text("Axe hour")
        await axe(page, "hallway with events", found)
        await page.goto(f"{server.url}/events/new")
        await expect(page.get_by_label("Event title")).to_be_visible()
        await axe(page, "schedule form", found)
        await page.goto(f"{server.url}/events/{event_id}")
        await page.get_by_role("button", name="Edit event").click()
        await page.get_by_role("button", name="Cancel event").click()
        await expect(page.get_by_role("button", name="Yes, cancel the event")).to_be_visible()
        await axe(page, "event page (host, editing)", found)
        await page.goto(f"{server.url}/people/ann")
        await expect(page.get_by_role("list", name="Upcoming events")).to_contain_text("Axe hour")
        await axe(page, "profile with events", found)
        await page.goto(f"{server.url}/settings")
        await page.get_by_role("button", name="Make a calendar link").click()
        link = page.get_by_label("Calendar link")
        # the instance's public URL (PARLOR_PUBLIC_URL), then the secret
        await expect(link).to_have_value(re.compile(r"^http://[^/]+/calendar/[A-Za-z0-9_-]+\.ics$"))
        await axe(page, "settings with a calendar link", found)
        feed_url = server.url + "/calendar/" + (await link.input_value()).rsplit("/", 1)[1]
        feed = await page.request.get(feed_url)
        assert feed.ok and "BEGIN:VCALENDAR" in await feed.text() and "Axe hour" in await feed.text()
        await page.get_by_role("button", name="Turn off the calendar link").click()
        await expect(page.get_by_role("button", name="Make a calendar link")).to_be_visible()
        assert (await page.request.get(feed_url)).status == 404
    finally:
        await browser.close()

    assert len(found) == 5, sorted(found)
    report = {name: v for name, v in found.items() if v}
    assert not report, report
