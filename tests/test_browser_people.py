"""The people side of the web client in Debian's Chromium: no page ever shows "null" or
"undefined", pictures wherever a person appears, search → profile → follow, the
followers / following lists, follow buttons in lists, and the phone layout of
checkboxes and selects.

Run inside the private network namespace:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_people.py -q'
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Locator, Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    expect_connected,
    follow_name,
    launch,
    new_page,
    no_horizontal_overflow,
    poll,
    sign_in,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN
from tests.test_browser_a11y import axe, context
from tests.test_contacts import Caller

from parlor.client import contacts as cc
from parlor.storage import accounts, social

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1, contact_bucket_min=2)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def members(server: LiveServer, *names: str) -> dict[str, httpx.AsyncClient]:
    """Signed-up members, each with a cookie-signed-in client (close them with `close`)."""
    out = {}
    for name in names:
        http = httpx.AsyncClient(base_url=server.url)
        await make_member(server, http, name)
        out[name] = http
    return out


async def close(clients: dict[str, httpx.AsyncClient]) -> None:
    for http in clients.values():
        await http.aclose()


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, "PNG")
    return out.getvalue()


async def body_text(page: Page) -> str:
    text: str = await page.evaluate("() => document.body.innerText")
    return text


async def assert_no_null_text(page: Page, where: str) -> None:
    text = await body_text(page)
    for word in ("null", "undefined", "NaN", "[object Object]"):
        assert word not in text, f"{where} shows {word!r}: {text!r}"


# -- 1. no "null" anywhere, with empty profiles --------------------------------------------


async def test_no_page_shows_null_or_undefined_with_empty_profiles(server: LiveServer, pw: Playwright) -> None:
    clients = await members(server, "ann", "bob", "cat", "dan")
    try:
        # Nobody has a bio or a picture. Bob can be found by phone (contacts with results);
        # dan makes the buckets big enough to have prefix bits.
        await cc.add_findable(Caller(clients["bob"]), "phone", "+44 20 7946 0018")
        for i in range(4):
            await cc.add_findable(Caller(clients["dan"]), "email", f"dan{i}@example.net")
        assert (await clients["bob"].post("/api/users/ann/follow")).status_code == 200  # inbox, lists
        assert (await clients["ann"].post("/api/users/cat/follow")).status_code == 200
        room = (await clients["bob"].post("/api/rooms", json={"title": "Empty profiles"})).json()
        # A club and an event with nothing but a name, a title and a time; the embed on.
        async with httpx.AsyncClient(base_url=server.url) as root:
            await root.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
            assert (await root.patch("/api/admin/settings", json={"clubs_rule": "members"})).status_code == 200
            put = await root.put("/api/admin/embed-origins", json={"origins": ["http://localhost:9"]})
            assert put.status_code == 200, put.text
        club = await clients["bob"].post("/api/clubs", json={"name": "Quiet Club", "mode": "open"})
        assert club.status_code == 201, club.text
        starts = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
        event = await clients["bob"].post("/api/events", json={"title": "Bare event", "description": "",
                                                                "starts_at": starts})
        assert event.status_code == 201, event.text
        bob_id = (await clients["bob"].get("/api/me")).json()["id"]

        browser = await launch(pw)
        try:
            _, page = await new_page(browser, **PHONE)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # Signed out first: the welcome, sign in, sign up, the waitlist.
            for path, ready in (
                ("/", page.get_by_role("link", name="Sign in")),
                ("/login", page.get_by_role("button", name="Sign in")),
                ("/signup", page.get_by_role("button", name="Sign up")),
                ("/waitlist", page.get_by_role("button", name="Join the waitlist")),
            ):
                await page.goto(server.url + path)
                await expect(ready).to_be_visible()
                await assert_no_null_text(page, path)
                await no_horizontal_overflow(page)

            await sign_in(page, server.url, "ann")
            pages: list[tuple[str, Locator]] = [
                ("/", page.get_by_role("navigation", name="Your places")),
                ("/people/bob", page.get_by_role("heading", name="Bob", exact=True)),
                ("/people/ann", page.get_by_role("link", name="Edit profile")),
                ("/people/ann/followers", page.get_by_role("list", name="Followers of Ann").get_by_role("listitem")),
                ("/people/ann/following", page.get_by_role("list", name="People Ann follows").get_by_role("listitem")),
                ("/people/cat/following", page.get_by_text("They follow nobody yet.")),
                ("/search?q=b", page.get_by_role("list", name="People", exact=True).get_by_role("listitem")),
                ("/search?q=zzz", page.get_by_text("Nobody and no live room matches “zzz”.")),
                ("/settings", page.get_by_role("button", name="Save profile")),
                ("/invites", page.get_by_text("No invites yet.")),
                ("/inbox", page.get_by_role("list", name="Notifications").get_by_role("listitem")),
                ("/waitlist", page.get_by_role("button", name="Join the waitlist")),
                ("/clubs", page.get_by_role("heading", name="Clubs", exact=True)),
                (f"/clubs/{club.json()['id']}", page.get_by_role("heading", name="Quiet Club")),
                (f"/events/{event.json()['id']}", page.get_by_role("heading", name="Bare event")),
                ("/settings/security", page.get_by_role("heading", name="Recent sign-ins")),
                # signed in here too: the embed shows the member's "Join the room"
                (f"/embed/room/{room['id']}", page.get_by_role("button", name="Join the room")),
            ]
            for path, ready in pages:
                await page.goto(server.url + path)
                await expect(ready.first).to_be_visible()
                await assert_no_null_text(page, path)
                await no_horizontal_overflow(page)

            # The contacts page, with results (a member; nobody waiting).
            await page.goto(server.url + "/contacts")
            await page.get_by_label("Phone numbers and e-mail addresses").fill("020 7946 0018\nnobody@example.com")
            await page.get_by_label("Default country code").fill("+44")
            await page.get_by_role("button", name="Find my contacts").click()
            await expect(page.get_by_role("list", name="On Parlor").get_by_role("listitem")).to_have_count(1)
            await expect(page.get_by_role("heading", name="Waiting to join")).to_have_count(0)
            await assert_no_null_text(page, "/contacts with results")
            await no_horizontal_overflow(page)

            # A room.
            await page.goto(f"{server.url}/rooms/{room['id']}")
            await expect_connected(page)
            await expect(page.get_by_role("list", name="Stage")).to_contain_text("Bob")
            await assert_no_null_text(page, "a room")

            # The admin's page of a person with an empty profile.
            await page.goto(server.url + "/")
            await page.get_by_role("button", name="Sign out").click()
            await page.goto(f"{server.url}/login")
            await page.get_by_label("Username").fill(ADMIN["username"])
            await page.get_by_label("Password").fill(ADMIN["password"])
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(lambda url: not url.endswith("/login"))
            await page.goto(f"{server.url}/admin/people/{bob_id}")
            await expect(page.get_by_role("heading", name="Rooms they hosted")).to_be_visible()
            await expect(page.locator(".admin-person-name")).to_contain_text("Bob")
            await assert_no_null_text(page, "/admin/people/<id>")
            await no_horizontal_overflow(page)
            assert errors == []
        finally:
            await browser.close()
    finally:
        await close(clients)


# -- 2. pictures ---------------------------------------------------------------------------


async def avatar_src(row: Locator) -> str | None:
    """The picture's src in a row, or None when it shows initials; its alt must be empty."""
    img = row.locator("img.avatar")
    if await img.count() == 0:
        await expect(row.locator("span.avatar")).to_have_count(1)
        return None
    assert await img.get_attribute("alt") == ""
    # loaded and decoded: the server's 256×256 re-encoding
    await poll(lambda: img.evaluate("(el) => el.complete && el.naturalWidth"), lambda w: w == 256, what="the picture")
    return await img.get_attribute("src")


async def test_pictures_show_wherever_a_person_is_listed_and_initials_otherwise(
    server: LiveServer, pw: Playwright
) -> None:
    clients = await members(server, "ann", "bob", "cat")
    try:
        r = await clients["bob"].put(
            "/api/me/avatar", content=png((200, 40, 40)), headers={"content-type": "image/png"}
        )
        assert r.status_code == 200, r.text
        url = r.json()["avatar_url"]
        for fan in ("bob", "cat"):
            assert (await clients[fan].post("/api/users/ann/follow")).status_code == 200

        browser = await launch(pw)
        try:
            _, page = await new_page(browser, **DESKTOP)
            await sign_in(page, server.url, "ann")
            await page.goto(server.url + "/people/ann/followers")
            rows = page.get_by_role("list", name="Followers of Ann").get_by_role("listitem")
            await expect(rows).to_have_count(2)
            assert await avatar_src(rows.filter(has_text="Bob")) == url
            assert await avatar_src(rows.filter(has_text="Cat")) is None
            await expect(rows.filter(has_text="Cat").locator("span.avatar")).to_have_text("CA")

            await page.goto(server.url + "/search?q=b")
            result = page.get_by_role("list", name="People", exact=True).get_by_role("listitem")
            await expect(result).to_have_count(1)
            assert await avatar_src(result) == url

            await page.goto(server.url + "/people/bob")
            await expect(page.get_by_role("heading", name="Bob", exact=True)).to_be_visible()
            assert await avatar_src(page.locator(".profile-head")) == url
            # Colours of initials are set through the CSSOM, never a style attribute string.
            await page.goto(server.url + "/people/cat")
            initials = page.locator(".profile-head span.avatar")
            await expect(initials).to_have_text("CA")
            hue = await initials.evaluate("(el) => el.style.getPropertyValue('--avatar-hue')")
            assert hue.strip().isdigit()
            # A picture that cannot be loaded (removed since the list came) becomes initials.
            fallback = await page.evaluate(
                """async () => {
                  const { avatar } = await import('/static/dom.js');
                  const holder = document.createElement('div');
                  document.body.append(holder);
                  const gone = '/api/users/id/u_gone/avatar?v=0';
                  holder.append(avatar({ id: 'u_gone', display_name: 'Zoe Gone', avatar_url: gone }));
                  for (let i = 0; i < 100 && holder.querySelector('img'); i++) {
                    await new Promise((r) => setTimeout(r, 50));
                  }
                  return holder.innerHTML.includes('<img') ? 'still an image' : holder.textContent;
                }"""
            )
            assert fallback == "ZG"

            # The hallway: a live room's card shows its speakers' pictures, initials otherwise.
            room = (await clients["bob"].post("/api/rooms", json={"title": "Pictures on stage"})).json()
            cat_id = (await clients["cat"].get("/api/me")).json()["id"]
            assert (await clients["cat"].post(f"/api/rooms/{room['id']}/join")).status_code == 200
            invited = await clients["bob"].post(f"/api/rooms/{room['id']}/speak-invites", json={"user_id": cat_id})
            assert invited.status_code == 200, invited.text
            assert (await clients["cat"].post(f"/api/rooms/{room['id']}/speak-invite/accept")).status_code == 200
            await page.goto(server.url + "/")
            card = page.locator("li.room-card").filter(has_text="Pictures on stage")
            await expect(card.locator(".speaker-names")).to_have_text("Bob, Cat")
            stack = card.locator(".avatar-stack")
            picture = stack.locator("img.avatar")
            await expect(picture).to_have_count(1)
            assert await picture.get_attribute("src") == url
            await poll(lambda: picture.evaluate("(el) => el.complete && el.naturalWidth"), lambda w: w > 0,
                       what="the hallway picture to load")
            await expect(stack.locator("span.avatar")).to_have_text("CA")
        finally:
            await browser.close()
    finally:
        await close(clients)


# -- 3. search → profile → follow; lists ---------------------------------------------------


async def test_search_then_follow_from_the_profile_and_the_lists_show_it(server: LiveServer, pw: Playwright) -> None:
    clients = await members(server, "ann", "bob", "bobby", "cat")
    try:
        assert (await clients["cat"].post("/api/users/bob/follow")).status_code == 200
        browser = await launch(pw)
        try:
            _, page = await new_page(browser, **PHONE)
            await sign_in(page, server.url, "ann")

            # The top bar leads to search; results come as you type.
            await page.get_by_role("banner").get_by_role("link", name="Search", exact=True).click()
            await page.wait_for_url("**/search")
            box = page.get_by_role("searchbox", name="Search people and rooms")
            await expect(box).to_be_focused()
            await box.press_sequentially("bo", delay=30)
            people = page.get_by_role("list", name="People", exact=True)
            await expect(people.get_by_role("listitem")).to_have_count(2)
            await expect(page.get_by_role("status").filter(has_text="for “bo”")).to_be_visible()
            assert page.url.endswith("/search?q=bo")
            await box.press_sequentially("bb", delay=30)
            await expect(people.get_by_role("listitem")).to_have_count(1)
            await expect(people).to_contain_text("@bobby")
            await box.press("Backspace")
            await box.press("Backspace")
            await expect(people.get_by_role("listitem")).to_have_count(2)

            # Keyboard: ↓ to the first result, Enter opens the profile.
            await box.press("ArrowDown")
            await expect(people.get_by_role("link", name="Bob", exact=True)).to_be_focused()
            await page.keyboard.press("Enter")
            await page.wait_for_url("**/people/bob")

            counts = page.locator(".counts")
            await expect(counts).to_have_text("1 follower · 0 following")
            follow = page.get_by_role("button", name=follow_name("Bob"))
            await expect(follow).to_have_attribute("aria-pressed", "false")
            await expect(follow).to_have_accessible_name("Follow Bob")
            await follow.click()
            await expect(follow).to_have_attribute("aria-pressed", "true")
            await expect(follow).to_have_text("Following Bob")  # "Bob" for screen readers only
            await expect(follow).to_have_accessible_name("Following Bob")
            await expect(counts).to_have_text("2 followers · 0 following")
            assert (await clients["ann"].get("/api/users/bob")).json()["followed_by_you"] is True

            # Back in the search, the result says so too.
            await page.go_back()
            await page.wait_for_url("**/search?q=bo")
            result = page.get_by_role("list", name="People", exact=True).get_by_role("listitem").filter(has_text="@bob")
            await expect(result.first.get_by_role("button", name=follow_name("Bob"))).to_have_attribute(
                "aria-pressed", "true"
            )

            # Bob's followers list (from the profile's count) shows Ann; Ann's following shows Bob.
            await page.goto(server.url + "/people/bob")
            await page.get_by_role("link", name="2 followers").click()
            await page.wait_for_url("**/people/bob/followers")
            followers = page.get_by_role("list", name="Followers of Bob")
            await expect(followers.get_by_role("listitem")).to_have_count(2)
            await expect(followers.get_by_role("listitem").first).to_contain_text("@ann")  # newest first
            await expect(page.get_by_role("link", name="Followers 2")).to_have_attribute("aria-current", "page")
            await page.goto(server.url + "/people/ann")
            await page.get_by_role("link", name="1 following").click()
            following = page.get_by_role("list", name="People Ann follows")
            await expect(following.get_by_role("listitem")).to_have_count(1)
            await expect(following).to_contain_text("@bob")

            # Follow from a list: Cat, among Bob's followers; then unfollow again.
            await page.goto(server.url + "/people/bob/followers")
            cat = page.get_by_role("list", name="Followers of Bob").get_by_role("button", name=follow_name("Cat"))
            await expect(cat).to_have_attribute("aria-pressed", "false")
            await cat.click()
            await expect(cat).to_have_attribute("aria-pressed", "true")
            assert (await clients["cat"].get("/api/users/cat")).json()["follower_count"] == 1
            await cat.click()
            await expect(cat).to_have_attribute("aria-pressed", "false")
            assert (await clients["cat"].get("/api/users/cat")).json()["follower_count"] == 0
            # You are never offered to follow yourself.
            await expect(page.get_by_role("button", name=follow_name("Ann"))).to_have_count(0)
        finally:
            await browser.close()
    finally:
        await close(clients)


async def test_follow_lists_page_with_load_more(server: LiveServer, pw: Playwright) -> None:
    clients = await members(server, "ann", "star")
    try:
        star = (await clients["star"].get("/api/me")).json()["id"]
        # 33 followers, written straight to the database (signing 33 people up through
        # the API would hash 33 passwords); newest follow last.
        async with server.app.state.services.db.engine.begin() as conn:
            for i in range(33):
                fan = f"u_fan{i:02d}"
                await accounts.insert_user(
                    conn,
                    user_id=fan,
                    username=f"fan{i:02d}",
                    display_name=f"Fan {i:02d}",
                    password_hash="x",
                    is_admin=False,
                    invited_by=None,
                    now=1.0,
                )
                await social.follow(conn, fan, star, 100.0 + i)
        browser = await launch(pw)
        try:
            _, page = await new_page(browser, **DESKTOP)
            await sign_in(page, server.url, "ann")
            await page.goto(server.url + "/people/star/followers")
            rows = page.get_by_role("list", name="Followers of Star").get_by_role("listitem")
            await expect(rows).to_have_count(30)
            await expect(rows.first).to_contain_text("@fan32")  # newest first
            await page.get_by_role("button", name="Load more").click()
            await expect(rows).to_have_count(33)
            await expect(rows.last).to_contain_text("@fan00")
            await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
            # focus moved to the first person of the new page
            await expect(rows.nth(30).get_by_role("link")).to_be_focused()
            seen = await rows.evaluate_all("(els) => els.map((el) => el.dataset.userId)")
            assert len(set(seen)) == 33
            # and a follow from the second page
            await rows.last.get_by_role("button", name=follow_name("Fan 00")).click()
            await expect(rows.last.get_by_role("button", name=follow_name("Fan 00"))).to_have_attribute(
                "aria-pressed", "true"
            )
            assert (await clients["ann"].get("/api/users/fan00")).json()["followed_by_you"] is True
        finally:
            await browser.close()
    finally:
        await close(clients)


# -- 4. layout: checkboxes and selects on a phone ------------------------------------------


async def box_of(locator: Locator) -> dict[str, Any]:
    box: dict[str, Any] = await locator.evaluate(
        "(el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top,"
        " bottom: r.bottom, height: r.height, radius: getComputedStyle(el).borderTopLeftRadius}; }"
    )
    return box


async def assert_beside(page: Page, name: str) -> None:
    # Both measured in one go: a section above that finishes loading between two
    # measurements would move one and not the other.
    checkbox = await page.get_by_role("checkbox", name=name).element_handle()
    text = await page.locator("label", has_text=name).element_handle()
    box, label = await page.evaluate(
        "(els) => els.map((el) => { const r = el.getBoundingClientRect();"
        " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })",
        [checkbox, text],
    )
    # the label starts to the right of the box, on the box's line (not wrapped under it)
    assert label["left"] >= box["right"], (name, box, label)
    assert label["top"] < box["bottom"] and box["top"] < label["bottom"], (name, box, label)


async def test_checkboxes_and_selects_on_a_phone(server: LiveServer, pw: Playwright) -> None:
    clients = await members(server, "ann")
    try:
        browser = await launch(pw)
        try:
            _, page = await new_page(browser, **PHONE)
            await sign_in(page, server.url, "ann")
            await page.goto(server.url + "/inbox")
            long_label = "Mute rooms started by people you follow"
            await expect(page.get_by_role("checkbox", name=long_label)).to_be_visible()
            for name in ("Mute pings", long_label, "Mute sign-ups of people you let in"):
                await assert_beside(page, name)
            await no_horizontal_overflow(page)

            await page.goto(server.url + "/settings")
            await assert_beside(page, "I understand this cannot be undone")
            await no_horizontal_overflow(page)

            await page.goto(server.url + "/contacts")
            select = await box_of(page.get_by_label("Kind"))
            field = await box_of(page.get_by_label("Your phone number or e-mail address"))
            assert select["height"] >= 44 and select["radius"] == field["radius"] != "0px", (select, field)
            assert (select["left"], select["right"]) == (field["left"], field["right"])
        finally:
            await browser.close()
    finally:
        await close(clients)


# -- 5. accessibility of the new pages ---------------------------------------------------------


async def test_axe_finds_nothing_serious_on_the_people_pages(server: LiveServer, pw: Playwright) -> None:
    clients = await members(server, "ann", "bob")
    try:
        r = await clients["bob"].put(
            "/api/me/avatar", content=png((40, 90, 200)), headers={"content-type": "image/png"}
        )
        assert r.status_code == 200, r.text
        assert (await clients["bob"].post("/api/users/ann/follow")).status_code == 200
        assert (await clients["ann"].post("/api/users/bob/follow")).status_code == 200
        found: dict[str, list[dict[str, Any]]] = {}
        browser = await launch(pw)
        try:
            for width, height in ((390, 844), (1440, 900)):
                _, page = await context(browser, width, height)
                await sign_in(page, server.url, "ann")
                for path, ready in (
                    ("/search?q=b", page.get_by_role("list", name="People", exact=True)),
                    ("/people/ann", page.get_by_role("link", name="Edit profile")),
                    ("/people/bob", page.get_by_role("button", name=follow_name("Bob"))),
                    ("/people/ann/followers", page.get_by_role("list", name="Followers of Ann")),
                    ("/people/bob/following", page.get_by_role("list", name="People Bob follows")),
                ):
                    await page.goto(server.url + path)
                    await expect(ready).to_be_visible()
                    await axe(page, f"{path} at {width}", found)
        finally:
            await browser.close()
        report = {where: v for where, v in found.items() if v}
        assert len(found) == 10 and not report, report
    finally:
        await close(clients)
