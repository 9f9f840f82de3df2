"""Clubs in a real browser (Debian's Chromium through Playwright): a member founds a club
once they hosted enough rooms, another member (at phone width, by keyboard) follows and
joins it, the founder starts a members-only club room, it shows in the member's hallway
and they join it; a non-member is refused with the reason.

Run inside the private network namespace (scripts/test does it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright, expect
from tests.browser_helpers import expect_connected, join_from_hallway, launch, new_page, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN

pytestmark = pytest.mark.browser

REFUSAL = "This room is for members of the club “Night Owls” only: join the club to come in."


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def test_found_join_and_meet_in_a_members_only_club_room(server: LiveServer, pw: Playwright) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url) as alice,
        httpx.AsyncClient(base_url=server.url) as bob,
        httpx.AsyncClient(base_url=server.url) as carl,
        httpx.AsyncClient(base_url=server.url) as admin,
    ):
        await make_member(server, alice, "alice")
        await make_member(server, bob, "bob")
        await make_member(server, carl, "carl")
        await admin.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        r = await admin.patch("/api/admin/settings", json={"club_min_rooms_hosted": 1})
        assert r.status_code == 200, r.text

        browser = await launch(pw)
        try:
            _, page = await new_page(browser)
            await sign_in(page, server.url, "alice")
            await page.get_by_role("link", name="Clubs").click()
            await page.wait_for_url("**/clubs")
            # The rule is not met yet: the page says what is missing, and offers no form.
            await expect(page.get_by_text("Host 1 more room to found a club")).to_be_visible()
            await expect(page.get_by_role("button", name="Found the club")).to_have_count(0)
            room = (await alice.post("/api/rooms", json={"title": "Warm-up"})).json()
            assert (await alice.post(f"/api/rooms/{room['id']}/end")).status_code == 200

            await page.reload()
            await page.get_by_role("textbox", name="Name").fill("Night Owls")
            await page.get_by_label("Description").fill("Talk after midnight")
            await page.get_by_role("group", name="Topics").get_by_label("music").check()
            await page.get_by_role("button", name="Found the club").click()
            await page.wait_for_url("**/clubs/c_*")
            await expect(page.get_by_role("heading", level=1, name="Night Owls")).to_be_visible()
            club_url = page.url
            await expect(page.get_by_role("list", name="Admins")).to_contain_text("@alice")

            # Bob, on a phone, finds the club and follows, then joins it, by keyboard.
            _, bob_page = await new_page(browser, 390, 844)
            await sign_in(bob_page, server.url, "bob")
            await bob_page.goto(f"{server.url}/clubs")
            await bob_page.get_by_role("searchbox", name="Club name").fill("night")
            await bob_page.get_by_role("button", name="Find clubs").click()
            await bob_page.get_by_role("list", name="Clubs found").get_by_role("link", name="Night Owls").click()
            await bob_page.wait_for_url(club_url)
            await bob_page.get_by_role("button", name="Follow club").focus()
            await bob_page.keyboard.press("Enter")
            await expect(bob_page.get_by_role("status")).to_have_text("You follow the club.")
            await bob_page.get_by_role("button", name="Join club").focus()
            await bob_page.keyboard.press("Enter")
            await expect(bob_page.get_by_role("status")).to_have_text("You joined the club.")
            await expect(bob_page.get_by_role("button", name="Leave club")).to_be_visible()
            # nothing is wider than the phone's screen
            width = await bob_page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, width
            # Alice's profile says she runs it; its link leads back to the club.
            await bob_page.goto(f"{server.url}/people/alice")
            clubs = bob_page.get_by_role("list", name="Clubs")
            await expect(bob_page.get_by_role("heading", name="Member of")).to_be_visible()
            await expect(clubs.get_by_role("listitem")).to_have_text("Night OwlsAdmin")
            await clubs.get_by_role("link", name="Night Owls").click()
            await bob_page.wait_for_url(club_url)

            # Alice starts a members-only club room from the club's page.
            await page.reload()
            await expect(page.get_by_role("list", name="Members")).to_contain_text("@bob")
            await page.get_by_role("textbox", name="Room title").fill("Owls only")
            await page.get_by_label("Members only").check()
            await page.get_by_role("button", name="Start a club room").click()
            await page.wait_for_url("**/rooms/*")
            await expect_connected(page)
            room_url = page.url

            # It shows in Bob's hallway, marked as the club's members-only room; he joins it.
            await bob_page.goto(f"{server.url}/")
            rooms = bob_page.get_by_role("list", name="Live rooms")
            card = rooms.get_by_role("listitem").filter(has_text="Owls only")
            await expect(card).to_contain_text("Night Owls")
            await expect(card).to_contain_text("Members only")
            await join_from_hallway(bob_page, "Owls only")
            assert bob_page.url == room_url

            # Carl is no member: not in his hallway, and refused with the reason by its link.
            _, carl_page = await new_page(browser)
            await sign_in(carl_page, server.url, "carl")
            await expect(carl_page.get_by_text("No live rooms right now. Start one!")).to_be_visible()
            await carl_page.goto(room_url)
            await expect(carl_page.get_by_role("heading", name="Cannot join this room")).to_be_visible()
            await expect(carl_page.get_by_text(REFUSAL)).to_be_visible()

            # Alice invites him: his inbox says so and leads to the club, where he accepts.
            club_id = club_url.rsplit("/", 1)[1]
            r = await alice.post(f"/api/clubs/{club_id}/invites", json={"username": "carl"})
            assert r.status_code == 200, r.text
            await carl_page.goto(f"{server.url}/inbox")
            item = carl_page.get_by_role("listitem").filter(has_text="invited you to join the club")
            await expect(item).to_contain_text("Alice invited you to join the club “Night Owls”")
            await item.get_by_role("link", name="See the club Night Owls").click()
            await carl_page.wait_for_url(club_url)
            await carl_page.get_by_role("button", name="Accept invitation").click()
            await expect(carl_page.get_by_role("status")).to_have_text("You joined the club.")
        finally:
            await browser.close()


async def test_a_club_leader_schedules_an_event_from_the_club_page_and_members_see_it(
    server: LiveServer, pw: Playwright
) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url) as alice,
        httpx.AsyncClient(base_url=server.url) as bob,
        httpx.AsyncClient(base_url=server.url) as admin,
    ):
        await make_member(server, alice, "alice")
        await make_member(server, bob, "bob")
        await admin.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        assert (await admin.patch("/api/admin/settings", json={"clubs_rule": "members"})).status_code == 200
        r = await alice.post("/api/clubs", json={"name": "Night Owls", "mode": "open"})
        assert r.status_code == 201, r.text
        club_id = r.json()["id"]
        assert (await bob.post(f"/api/clubs/{club_id}/join")).status_code == 200

        browser = await launch(pw)
        try:
            _, page = await new_page(browser, width=390, height=844)
            await sign_in(page, server.url, "alice")
            await page.goto(f"{server.url}/clubs/{club_id}")
            await expect(page.get_by_text("No upcoming events.")).to_be_visible()
            await page.get_by_role("link", name="Schedule an event").click()
            await page.wait_for_url("**/events/new?club=*")
            await expect(page.get_by_role("heading", name="Schedule a club event")).to_be_visible()
            await page.get_by_label("Event title").fill("Moon watch")
            starts = datetime.now() + timedelta(hours=2)  # the page's own zone: datetime-local
            await page.get_by_label("Starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
            await page.get_by_role("button", name="Schedule").click()
            await page.wait_for_url("**/events/e_*")
            await expect(page.get_by_role("heading", name="Moon watch")).to_be_visible()
            event_id = page.url.rsplit("/", 1)[1]
            assert (await bob.get(f"/api/events/{event_id}")).json()["club_id"] == club_id

            # bob, a member, finds it on the club's page
            _, bob_page = await new_page(browser)
            await sign_in(bob_page, server.url, "bob")
            await bob_page.goto(f"{server.url}/clubs/{club_id}")
            events = bob_page.get_by_role("list", name="Upcoming events")
            await expect(events.get_by_role("listitem")).to_have_count(1)
            await expect(events).to_contain_text("Moon watch")
            await expect(bob_page.get_by_role("link", name="Schedule an event")).to_have_count(0)  # not a leader
            await events.get_by_role("link", name="Details of Moon watch").click()
            await bob_page.wait_for_url(f"**/events/{event_id}")
        finally:
            await browser.close()
