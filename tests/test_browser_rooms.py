"""The room page's controls in a real browser (Debian's Chromium through Playwright):
removing (and blocking), the only moderator leaving, starting a closed room and
inviting into it, renaming, locking a mic, sharing, avatars on stage, the person
sheet by keyboard, announcements, and the layout on a phone and a desktop.

Run inside the private network namespace (scripts/test does it):
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_rooms.py -q'
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    expect_connected,
    inbound_delta,
    launch,
    new_page,
    no_horizontal_overflow,
    poll,
    sign_in,
    start_room,
    within_viewport,
    write_tone_wav,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.actions import rooms as room_actions
from parlor.domain.users import User

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # One media worker in-process: these tests are about the page more than the audio.
    async with live_server(make_settings(tmp_path / "data", workers=1)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture
async def browser(pw: Playwright) -> AsyncIterator[Browser]:
    b = await launch(pw)
    try:
        yield b
    finally:
        await b.close()


@dataclass
class Member:
    http: httpx.AsyncClient
    id: str


class People:
    """Members signed up through the API, each with their own cookie jar."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.clients: list[httpx.AsyncClient] = []

    async def add(self, name: str) -> Member:
        http = httpx.AsyncClient(base_url=self.server.url, timeout=60.0)
        self.clients.append(http)
        user_id, _ = await make_member(self.server, http, name)
        return Member(http, user_id)

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()


@pytest.fixture
async def people(server: LiveServer) -> AsyncIterator[People]:
    p = People(server)
    try:
        yield p
    finally:
        await p.close()


async def page_of(browser: Browser, server: LiveServer, username: str, width: int = 1280, height: int = 800) -> Page:
    _, page = await new_page(browser, width, height)
    await sign_in(page, server.url, username)
    return page


def room_id_of(page: Page) -> str:
    return page.url.rsplit("/", 1)[1]


async def open_sheet(page: Page, name: str) -> Any:
    """Open a person's sheet from their tile; returns the dialog."""
    await page.get_by_role("button", name=name, exact=True).click()
    sheet = page.get_by_role("dialog", name=name)
    await expect(sheet).to_be_visible()
    return sheet


# -- fix 2: remove, and remove and block -----------------------------------------------------------


async def test_a_removed_and_blocked_listener_cannot_rejoin_and_a_removed_one_can(
    server: LiveServer, browser: Browser, people: People
) -> None:
    await people.add("alice")
    await people.add("bob")
    carl_id = (await people.add("carl")).id
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "House rules")
    bob = await page_of(browser, server, "bob")
    carl = await page_of(browser, server, "carl")
    for page in (bob, carl):
        await page.goto(alice.url)
        await expect_connected(page)
    audience = alice.get_by_role("list", name="Audience")
    await expect(audience).to_contain_text("Bob")
    await expect(audience).to_contain_text("Carl")

    # A plain removal: Bob may come straight back.
    sheet = await open_sheet(alice, "Bob")
    await sheet.get_by_role("button", name="Remove Bob").click()
    await expect(sheet).to_be_hidden()
    await expect(bob.get_by_text("You are no longer in this room.")).to_be_visible()
    await bob.get_by_role("button", name="Join again").click()
    await expect_connected(bob)
    await expect(bob.get_by_role("button", name="Raise hand")).to_be_visible()
    await expect(audience).to_contain_text("Bob")

    # Alice talks: Carl hears her (his media is live before he is removed).
    await alice.get_by_role("button", name="Unmute", exact=True).click()
    await poll(lambda: inbound_delta(carl, 1.0), lambda d: d["packetsReceived"] > 20, timeout=20, what="Carl to hear")
    # Carl's connection as it is now, kept: after the removal it must receive nothing,
    # whatever his page does with it (a tampered client would keep it open).
    await carl.evaluate("window.__before = window.parlor.pc")

    # Removed and blocked (after a confirmation): to Carl the room is gone.
    sheet = await open_sheet(alice, "Carl")
    await sheet.get_by_role("button", name="Remove and block Carl").click()
    await sheet.get_by_role("button", name="Yes, remove and block Carl").click()
    await expect(sheet).to_be_hidden()
    await expect(audience).not_to_contain_text("Carl")
    await expect(carl.get_by_text("You are no longer in this room.")).to_be_visible()
    # The server dropped his media: no peer, and the connection he had receives nothing.
    media = server.app.state.services.media
    await poll(
        lambda: asyncio.sleep(0, media.peer_connection(room_id_of(alice), carl_id)),
        lambda pc: pc is None,
        what="Carl's peer to be closed",
    )
    packets = (
        "window.__before.getStats().then(r => { let n = 0; r.forEach(s => { "
        "if (s.type === 'inbound-rtp') n += s.packetsReceived; }); return n; })"
    )
    first = await carl.evaluate(packets)
    await asyncio.sleep(1.5)
    assert await carl.evaluate(packets) == first
    await carl.get_by_role("button", name="Join again").click()
    await expect(carl.get_by_role("heading", name="Room not found")).to_be_visible()
    await expect(carl.get_by_role("alert")).to_have_text("There is no such room.")
    await expect(audience).not_to_contain_text("Carl")
    # ... and the hallway does not offer it to him.
    await carl.get_by_role("link", name="Back to the hallway").click()
    await expect(carl.get_by_text("No live rooms right now. Start one!")).to_be_visible()


async def test_chromium_s_consent_checks_are_answered_at_the_socket_and_keep_its_peer(
    server: LiveServer, browser: Browser, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node answers a connected browser's ICE consent checks itself (media/consent.py),
    and each answered check keeps the peer alive: with consent expiring after 6 s, a
    listener that stays 12 s is still there, and hears the speaker."""
    from parlor.media import aiortc_private as priv

    await people.add("alice")
    bob_id = (await people.add("bob")).id
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "Consent")
    bob = await page_of(browser, server, "bob")
    await bob.goto(alice.url)
    await expect_connected(bob)
    media = server.app.state.services.media
    rid = room_id_of(alice)
    pc = await poll(
        lambda: asyncio.sleep(0, media.peer_connection(rid, bob_id)), lambda p: p is not None, what="Bob's peer"
    )
    transport = pc.getTransceivers()[0].receiver.transport
    await poll(
        lambda: asyncio.sleep(0, priv.consent_answered(transport)),
        lambda n: n >= 1,
        timeout=20,
        what="a check answered",
    )
    monkeypatch.setattr(priv, "CONSENT_EXPIRY_S", 6.0)
    answered = priv.consent_answered(transport)
    await asyncio.sleep(12.0)
    assert media.peer_connection(rid, bob_id) is pc  # not expired, not replaced
    assert priv.consent_answered(transport) >= answered + 2
    await alice.get_by_role("button", name="Unmute", exact=True).click()
    await poll(lambda: inbound_delta(bob, 1.0), lambda d: d["packetsReceived"] > 20, timeout=20, what="Bob to hear")


# -- fix 3: the only moderator leaving -------------------------------------------------------------


async def test_the_only_moderator_leaving_is_offered_a_hand_over_or_the_end(
    server: LiveServer, browser: Browser, people: People
) -> None:
    await people.add("alice")
    bob_m = await people.add("bob")
    await people.add("carl")
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "Hand over")
    rid = room_id_of(alice)
    bob = await page_of(browser, server, "bob")
    carl = await page_of(browser, server, "carl")
    for page in (bob, carl):
        await page.goto(alice.url)
        await expect_connected(page)
    # Bob comes on stage (by the API: the stage flow has tests of its own).
    alice_http = people.clients[0]
    assert (await alice_http.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": bob_m.id})).status_code == 200
    await bob.get_by_role("button", name="Accept invitation to speak").click()
    await expect(alice.get_by_role("list", name="Stage")).to_contain_text("Bob")

    # Alice, the only moderator, leaves quietly: warned, offered Bob; "Cancel" keeps her in.
    await alice.get_by_role("button", name="Leave quietly").click()
    dialog = alice.get_by_role("dialog", name="You're the only moderator")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("radio", name="Bob")).to_be_checked()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(alice.get_by_role("button", name="Leave quietly")).to_be_focused()
    await expect(alice.get_by_role("list", name="Stage")).to_contain_text("Alice")

    # Now she hands over to Bob and leaves; the room goes on with Bob as moderator.
    await alice.get_by_role("button", name="Leave quietly").click()
    await dialog.get_by_role("button", name="Make moderator and leave").click()
    await expect(alice.get_by_role("button", name="Start a room")).to_be_visible()
    bob_tile = carl.get_by_role("list", name="Stage").get_by_role("listitem").filter(has_text="Bob")
    await expect(bob_tile).to_contain_text("moderator")
    await expect(carl.get_by_role("list", name="Stage")).not_to_contain_text("Alice")
    await expect(bob.get_by_role("status", name="Announcements")).to_have_text("You're a moderator now.")

    # Bob alone on stage: leaving ends the room, and he is told so first.
    await bob.get_by_role("button", name="Leave quietly").click()
    dialog = bob.get_by_role("dialog", name="You're the only moderator")
    await expect(dialog).to_contain_text("Nobody else is on stage: if you leave, the room ends for everyone.")
    await dialog.get_by_role("button", name="Leave and end the room").click()
    await expect(carl.get_by_text("This room has ended")).to_be_visible()
    await expect(bob.get_by_text("This room has ended")).to_be_visible()


# -- fix 5: avatars --------------------------------------------------------------------------------


def png_bytes(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), color).save(out, "PNG")
    return out.getvalue()


async def test_an_uploaded_avatar_renders_on_the_stage_tile(
    server: LiveServer, browser: Browser, people: People
) -> None:
    alice_m = await people.add("alice")
    await people.add("bob")
    picture_bytes = png_bytes((30, 120, 200))
    r = await alice_m.http.put("/api/me/avatar", content=picture_bytes, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "Faces")
    bob = await page_of(browser, server, "bob")
    await bob.goto(alice.url)
    await expect_connected(bob)
    tile = bob.get_by_role("list", name="Stage").get_by_role("listitem").filter(has_text="Alice")
    picture = tile.locator(f'img[src="{url}"]')
    await expect(picture).to_be_visible()
    await poll(
        lambda: picture.evaluate("(img) => img.complete && img.naturalWidth"),
        lambda w: bool(w),
        what="the avatar to load",
    )
    # Bob has none: his tile shows initials.
    bob_tile = alice.get_by_role("list", name="Audience").get_by_role("listitem").filter(has_text="Bob")
    await expect(bob_tile).to_contain_text("BO")
    # Speaking ring still wraps the picture.
    assert await tile.locator(".ring > img").count() == 1


# -- kinds: starting a closed room, inviting into it -------------------------------------------------


async def test_starting_a_closed_room_and_inviting_someone_into_it(
    server: LiveServer, browser: Browser, people: People
) -> None:
    await people.add("alice")
    await people.add("bob")
    await people.add("carl")
    alice = await page_of(browser, server, "alice")
    bob = await page_of(browser, server, "bob")
    carl = await page_of(browser, server, "carl")

    await alice.get_by_role("textbox", name="Room title").fill("Book club")
    await alice.get_by_role("radio", name="Closed").check()
    await alice.get_by_role("button", name="Start a room").click()
    await alice.wait_for_url("**/rooms/*")
    await expect_connected(alice)
    await expect(alice.locator(".room-meta")).to_contain_text("Closed")
    room_url = alice.url

    # Neither Bob nor Carl sees it, and the link alone does not let them in.
    for page in (bob, carl):
        await expect(page.get_by_text("No live rooms right now. Start one!")).to_be_visible()
    await carl.goto(room_url)
    await expect(carl.get_by_role("heading", name="Cannot join this room")).to_be_visible()
    await expect(carl.get_by_role("alert")).to_contain_text("only people a moderator invited")

    # Alice invites Bob from the room settings; his open hallway shows the room at once.
    await alice.get_by_role("button", name="Room settings").click()
    settings = alice.get_by_role("dialog", name="Room settings")
    await settings.get_by_role("textbox", name="Username to invite").fill("bob")
    await settings.get_by_role("button", name="Invite", exact=True).click()
    await expect(settings.get_by_role("status")).to_have_text("Invited @bob")
    await settings.get_by_role("button", name="Close").click()
    await bob.get_by_role("list", name="Live rooms").get_by_role("link", name="Join Book club").click()
    await expect_connected(bob)
    await expect(alice.get_by_role("list", name="Audience")).to_contain_text("Bob")
    # Carl still cannot, and his hallway still does not show it.
    await carl.goto(server.url)
    await expect(carl.get_by_text("No live rooms right now. Start one!")).to_be_visible()


async def test_a_social_room_lets_in_people_the_host_follows_and_its_kind_changes_in_settings(
    server: LiveServer, browser: Browser, people: People
) -> None:
    alice_m = await people.add("alice")
    await people.add("bob")
    await people.add("carl")
    assert (await alice_m.http.post("/api/users/bob/follow")).status_code == 200
    alice = await page_of(browser, server, "alice")
    bob = await page_of(browser, server, "bob")
    carl = await page_of(browser, server, "carl")

    await alice.get_by_role("textbox", name="Room title").fill("Friends only")
    await alice.get_by_role("radio", name="Social").check()
    await alice.get_by_role("button", name="Start a room").click()
    await alice.wait_for_url("**/rooms/*")
    await expect_connected(alice)
    await expect(alice.locator(".room-meta")).to_contain_text("Social")
    room_url = alice.url

    # Bob, whom Alice follows, sees it in his hallway and joins.
    await bob.get_by_role("list", name="Live rooms").get_by_role("link", name="Join Friends only").click()
    await expect_connected(bob)
    await expect(alice.get_by_role("list", name="Audience")).to_contain_text("Bob")
    # Carl, a stranger to her, cannot.
    await carl.goto(room_url)
    await expect(carl.get_by_role("heading", name="Cannot join this room")).to_be_visible()
    await expect(carl.get_by_role("button", name="Leave quietly")).to_have_count(0)

    # Alice opens it to everyone in Room settings: Carl comes in, and everyone sees the kind.
    await alice.get_by_role("button", name="Room settings").click()
    settings = alice.get_by_role("dialog", name="Room settings")
    await expect(settings.get_by_role("radio", name="Social")).to_be_checked()
    await settings.get_by_role("radio", name="Open").check()
    await settings.get_by_role("button", name="Save changes").click()
    await expect(settings).to_be_hidden()
    await expect(alice.locator(".room-meta")).to_contain_text("Open")
    await expect(bob.locator(".room-meta")).to_contain_text("Open")
    await carl.goto(room_url)
    await expect_connected(carl)
    await expect(alice.get_by_role("list", name="Audience")).to_contain_text("Carl")
    snap = (await alice_m.http.get(f"/api/rooms/{room_id_of(alice)}")).json()
    assert snap["kind"] == "open"


async def test_hand_raising_turned_off_in_room_settings(server: LiveServer, browser: Browser, people: People) -> None:
    alice_m = await people.add("alice")
    bob_m = await people.add("bob")
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "No questions")
    rid = room_id_of(alice)
    bob = await page_of(browser, server, "bob")
    await bob.goto(alice.url)
    await expect_connected(bob)
    raise_hand = bob.get_by_role("button", name="Raise hand")
    await expect(raise_hand).to_be_visible()

    await alice.get_by_role("button", name="Room settings").click()
    settings = alice.get_by_role("dialog", name="Room settings")
    await settings.get_by_label("Who can raise a hand").select_option(label="Nobody (hand raising off)")
    await settings.get_by_role("button", name="Save changes").click()
    await expect(settings).to_be_hidden()

    # Bob's button is gone without a reload; the API says hand raising is off and refuses a hand.
    await expect(raise_hand).to_have_count(0)
    await expect(bob.get_by_role("group", name="Your controls")).to_be_visible()
    assert (await alice_m.http.get(f"/api/rooms/{rid}")).json()["hand_raise"] == "off"
    refused = await bob_m.http.post(f"/api/rooms/{rid}/hand", json={"raised": True})
    assert refused.status_code == 403, refused.text
    await alice.get_by_role("button", name="Room settings").click()
    await expect(settings.get_by_label("Who can raise a hand")).to_have_value("off")


# -- moderators: rename, lock a mic --------------------------------------------------------------------


async def test_rename_and_lock_a_speakers_mic(
    server: LiveServer, pw: Playwright, people: People, tmp_path: Path
) -> None:
    await people.add("alice")
    bob_m = await people.add("bob")
    browser_a = await launch(pw)
    browser_b = await launch(pw, write_tone_wav(tmp_path / "b.wav", 660.0))
    try:
        alice = await page_of(browser_a, server, "alice")
        await start_room(alice, "Morning show")
        rid = room_id_of(alice)
        bob = await page_of(browser_b, server, "bob")
        await bob.goto(alice.url)
        await expect_connected(bob)

        # Rename: everyone sees the new title.
        await alice.get_by_role("button", name="Room settings").click()
        settings = alice.get_by_role("dialog", name="Room settings")
        await settings.get_by_role("textbox", name="Room title").fill("Evening show")
        await settings.get_by_role("button", name="Save changes").click()
        await expect(settings).to_be_hidden()
        await expect(bob.get_by_role("heading", name="Evening show")).to_be_visible()
        await expect(alice.get_by_role("heading", name="Evening show")).to_be_visible()

        # Bob on stage and talking: Alice hears him.
        r = await people.clients[0].post(f"/api/rooms/{rid}/speak-invites", json={"user_id": bob_m.id})
        assert r.status_code == 200
        await bob.get_by_role("button", name="Accept invitation to speak").click()
        await bob.get_by_role("button", name="Unmute", exact=True).click()
        await expect(bob.get_by_role("button", name="Mute", exact=True)).to_be_visible()
        await poll(
            lambda: inbound_delta(alice, 1.0),
            lambda d: d["bytesReceived"] > 2000 and d["totalAudioEnergy"] > 0.01,
            timeout=15,
            what="Alice to hear Bob",
        )

        # Alice locks his mic: he cannot unmute, sees why, and nobody receives his audio.
        sheet = await open_sheet(alice, "Bob")
        await sheet.get_by_role("button", name="Lock mic for Bob").click()
        await expect(sheet.get_by_role("button", name="Allow unmute for Bob")).to_be_visible()
        await sheet.get_by_role("button", name="Close").click()
        unmute = bob.get_by_role("button", name="Unmute", exact=True)
        await expect(unmute).to_be_disabled()
        controls = bob.get_by_role("group", name="Your controls")
        await expect(controls.get_by_text("A moderator muted you and locked your mic")).to_be_visible()
        await expect(bob.get_by_role("status", name="Announcements")).to_have_text(
            "A moderator muted you and locked your mic."
        )
        bob_tile = alice.get_by_role("list", name="Stage").get_by_role("listitem").filter(has_text="Bob")
        await expect(bob_tile).to_contain_text("locked")
        await poll(lambda: inbound_delta(alice, 0.5), lambda d: d["bytesReceived"] == 0, timeout=5, what="silence")
        silent = await inbound_delta(alice, 1.5)
        assert silent["bytesReceived"] == 0 and silent["totalAudioEnergy"] < 1e-3, silent
        # Even a tampered client's unmute is refused by the server.
        r = await bob.evaluate(
            f"""async () => (await fetch('/api/rooms/{rid}/mute', {{method: 'POST',
                headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{muted: false}})}})).status"""
        )
        assert r == 403

        # "Allow unmute" lifts the lock; Bob unmutes himself and is heard again.
        sheet = await open_sheet(alice, "Bob")
        await sheet.get_by_role("button", name="Allow unmute for Bob").click()
        await sheet.get_by_role("button", name="Close").click()
        await expect(unmute).to_be_enabled()
        await unmute.click()
        await poll(
            lambda: inbound_delta(alice, 1.0),
            lambda d: d["bytesReceived"] > 2000,
            timeout=15,
            what="Alice to hear Bob again",
        )
    finally:
        await browser_a.close()
        await browser_b.close()


# -- share -----------------------------------------------------------------------------------------


async def test_share_copies_the_room_link(server: LiveServer, browser: Browser, people: People) -> None:
    await people.add("alice")
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.grant_permissions(["microphone", "clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await sign_in(page, server.url, "alice")
    await start_room(page, "Share me")
    await page.get_by_role("button", name="Share").click()
    await expect(page.get_by_role("status", name="Share")).to_have_text("Link copied")
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    assert copied == f"{server.url}/rooms/{room_id_of(page)}"


async def test_share_on_a_phone_opens_the_system_share_sheet_with_the_room_link(
    server: LiveServer, browser: Browser, people: People
) -> None:
    await people.add("alice")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await context.grant_permissions(["microphone"])
    # A stand-in for the system share sheet: records what it was given.
    await context.add_init_script(
        """window.__shared = [];
        Object.defineProperty(Navigator.prototype, 'share', { configurable: true,
          value(data) { window.__shared.push(data); return Promise.resolve(); } });"""
    )
    page = await context.new_page()
    await sign_in(page, server.url, "alice")
    await start_room(page, "Share me")
    await page.get_by_role("button", name="Share").click()
    await poll(lambda: page.evaluate("window.__shared"), lambda s: len(s) == 1, what="navigator.share")
    shared = await page.evaluate("window.__shared")
    assert shared == [{"title": "Share me", "url": f"{server.url}/rooms/{room_id_of(page)}"}]
    await expect(page.get_by_role("status", name="Share")).to_have_text("")  # not the copy fallback
    await context.close()


# -- keyboard and announcements -------------------------------------------------------------------------


async def test_person_sheet_by_keyboard_follow_and_announcements(
    server: LiveServer, browser: Browser, people: People
) -> None:
    await people.add("alice")
    await people.add("bob")
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "Keys")
    bob = await page_of(browser, server, "bob")
    await bob.goto(alice.url)
    await expect_connected(bob)
    # The creator is told they are on stage, muted.
    await expect(alice.get_by_role("status", name="Announcements")).to_contain_text("You're on stage, muted")

    # Bob raises a hand: the moderator hears of it.
    await bob.get_by_role("button", name="Raise hand").click()
    await expect(alice.get_by_role("status", name="Announcements")).to_have_text("Bob raised a hand.")

    # Bob, by keyboard only: focus Alice's tile, open her sheet, follow her, close with Escape.
    tile = bob.get_by_role("button", name="Alice", exact=True)
    await tile.focus()
    await bob.keyboard.press("Enter")
    sheet = bob.get_by_role("dialog", name="Alice")
    await expect(sheet).to_be_visible()
    await expect(sheet.get_by_role("link", name="View profile of Alice (opens in a new tab)")).to_have_attribute(
        "href", "/people/alice"
    )
    follow = sheet.get_by_role("button", name="Follow Alice")
    await follow.focus()
    focus_ring = await follow.evaluate("(el) => getComputedStyle(el).boxShadow")
    assert focus_ring not in ("", "none"), focus_ring  # a visible focus ring
    await bob.keyboard.press("Enter")
    await expect(sheet.get_by_role("button", name="Unfollow Alice")).to_be_visible()
    assert (await people.clients[1].get("/api/users/alice")).json()["followed_by_you"] is True
    # A listener's sheet has no moderator actions.
    await expect(sheet.get_by_role("group", name="Moderator actions")).to_have_count(0)
    await bob.keyboard.press("Escape")
    await expect(sheet).to_be_hidden()
    await expect(tile).to_be_focused()

    # Alice invites Bob from his sheet, by keyboard; Bob is told.
    alice_tile = alice.get_by_role("list", name="Audience").get_by_role("button", name="Bob", exact=True)
    await alice_tile.focus()
    await alice.keyboard.press("Enter")
    sheet = alice.get_by_role("dialog", name="Bob")
    await sheet.get_by_role("button", name="Invite Bob to speak").focus()
    await alice.keyboard.press("Enter")
    await expect(bob.get_by_role("status", name="Announcements")).to_have_text("You're invited to speak.")
    await bob.get_by_role("button", name="Accept invitation to speak").press("Enter")
    await expect(bob.get_by_role("status", name="Announcements")).to_contain_text("You're on stage")


# -- layout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1440, 900)], ids=["phone", "desktop"])
async def test_room_layout_empty_and_full(
    server: LiveServer, browser: Browser, people: People, tmp_path: Path, width: int, height: int
) -> None:
    await people.add("alice")
    alice = await page_of(browser, server, "alice", width, height)
    await start_room(alice, "A room with a title long enough to wrap on a phone")
    rid = room_id_of(alice)

    async def check(label: str) -> None:
        await no_horizontal_overflow(alice)
        for name in ("Unmute", "Leave the stage", "Leave quietly", "End room", "Share", "Room settings"):
            await within_viewport(alice, alice.get_by_role("button", name=name, exact=True))
        # The control bar's buttons stay inside the page's column (no overflow past it).
        edges = await alice.evaluate(
            """() => {
              const main = document.querySelector('main').getBoundingClientRect();
              const pad = parseFloat(getComputedStyle(document.querySelector('main')).paddingRight);
              const buttons = [...document.querySelectorAll('.controls-row .btn')]
                .map((b) => b.getBoundingClientRect());
              return {right: Math.max(...buttons.map((r) => r.right)), left: Math.min(...buttons.map((r) => r.left)),
                      column: main.right - pad, start: main.left, inner: window.innerWidth};
            }"""
        )
        assert edges["right"] <= edges["column"] + 1 and edges["left"] >= edges["start"] - 1, edges
        # Nothing hides behind the control bar once scrolled to the end.
        gap = await alice.evaluate(
            """() => { window.scrollTo(0, document.documentElement.scrollHeight);
              const last = document.querySelector('.ping-panel').getBoundingClientRect();
              const bar = document.querySelector('.controls').getBoundingClientRect();
              return bar.top - last.bottom; }"""
        )
        assert gap >= 0, gap
        await alice.screenshot(path=str(tmp_path / f"room-{label}-{width}.png"), full_page=True)

    await check("empty")
    # A full room: 60 listeners (joined through the action, as test_presence_scale does).
    s = server.app.state.services
    for i in range(60):
        user = User(f"u_crowd{i:05d}", f"crowd{i:05d}", f"Listener {i}", False, 0.0)
        await room_actions.do_join(s, user, rid)
        s.live.attach(rid, user.id)
    await expect(alice.get_by_role("list", name="Audience").get_by_role("listitem")).to_have_count(50)
    # The audience starts right under the stage: no stray gap above it.
    space = await alice.evaluate(
        """() => { const stage = document.querySelector('.stage').getBoundingClientRect();
          const hands = document.querySelector('.hands').getBoundingClientRect();
          const heading = document.getElementById('audience-h').getBoundingClientRect();
          return {stageToHands: hands.top - stage.bottom, handsToAudience: heading.top - hands.bottom}; }"""
    )
    assert 0 <= space["stageToHands"] <= 24 and 0 <= space["handsToAudience"] <= 24, space
    await check("full")


# -- the dialogs pass axe-core (vendored: tests/vendor/axe-core) ------------------------------------

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


async def serious_violations(page: Page) -> list[tuple[str, str]]:
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"]) for v in result["violations"] if v["impact"] in ("serious", "critical")]


async def test_the_room_dialogs_pass_axe(server: LiveServer, browser: Browser, people: People) -> None:
    alice_m = await people.add("alice")
    bob_m = await people.add("bob")
    r = await alice_m.http.post("/api/rooms", json={"title": "Axe", "kind": "closed"})
    rid = r.json()["id"]
    assert (await alice_m.http.post(f"/api/rooms/{rid}/invites", json={"username": "bob"})).status_code == 200
    assert (await bob_m.http.post(f"/api/rooms/{rid}/join")).status_code == 200
    assert (await bob_m.http.post(f"/api/rooms/{rid}/hand", json={"raised": True})).status_code == 200
    # bypass_csp: axe is injected as a script, which the pages' strict CSP refuses
    # (tests/test_browser_csp.py checks the pages under that policy).
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    await context.grant_permissions(["microphone"])
    alice = await context.new_page()
    alice.set_default_timeout(10_000)
    await sign_in(alice, server.url, "alice")
    await alice.goto(f"{server.url}/rooms/{rid}")
    await expect_connected(alice)
    found: dict[str, list[tuple[str, str]]] = {}
    await open_sheet(alice, "Bob")
    found["person sheet"] = await serious_violations(alice)
    await alice.keyboard.press("Escape")
    await alice.get_by_role("button", name="Room settings").click()
    settings = alice.get_by_role("dialog", name="Room settings")
    await expect(settings.get_by_role("textbox", name="Username to invite")).to_be_visible()
    found["room settings"] = await serious_violations(alice)
    await alice.keyboard.press("Escape")
    await alice.get_by_role("button", name="Leave quietly").click()
    await expect(alice.get_by_role("dialog", name="You're the only moderator")).to_be_visible()
    found["leaving as the only moderator"] = await serious_violations(alice)
    assert len(found) == 3 and not any(found.values()), found


async def test_a_moderator_changes_the_room_s_topics_by_keyboard_and_everyone_sees_them(
    server: LiveServer, browser: Browser, people: People
) -> None:
    alice_m = await people.add("alice")
    await people.add("bob")
    alice = await page_of(browser, server, "alice")
    await start_room(alice, "Late show")
    rid = room_id_of(alice)
    bob = await page_of(browser, server, "bob")
    await bob.goto(alice.url)
    await expect_connected(bob)
    await expect(bob.get_by_role("list", name="Room topics")).to_have_count(0)  # none yet
    # Bob, a listener, has no settings to open.
    await expect(bob.get_by_role("button", name="Room settings")).to_have_count(0)

    # Alice, by keyboard: the settings dialog has the topic boxes; she ticks two and saves.
    await alice.get_by_role("button", name="Room settings").focus()
    await alice.keyboard.press("Enter")
    settings = alice.get_by_role("dialog", name="Room settings")
    topics = settings.get_by_role("group", name="Topics")
    for topic in ("music", "comedy"):
        await topics.get_by_role("checkbox", name=topic).focus()
        await alice.keyboard.press("Space")
        await expect(topics.get_by_role("checkbox", name=topic)).to_be_checked()
    await settings.get_by_role("button", name="Save changes").focus()
    await alice.keyboard.press("Enter")
    await expect(settings).to_be_hidden()

    # Both pages show them without a reload, and the API agrees.
    for page in (alice, bob):
        await expect(page.get_by_role("list", name="Room topics")).to_contain_text("music")
        await expect(page.get_by_role("list", name="Room topics")).to_contain_text("comedy")
    snap = (await alice_m.http.get(f"/api/rooms/{rid}")).json()
    assert sorted(snap["topics"]) == ["comedy", "music"]

    # Unticking one saves only that change.
    await alice.get_by_role("button", name="Room settings").click()
    await settings.get_by_role("group", name="Topics").get_by_role("checkbox", name="music").uncheck()
    await settings.get_by_role("button", name="Save changes").click()
    await expect(settings).to_be_hidden()
    await expect(bob.get_by_role("list", name="Room topics")).not_to_contain_text("music")
    assert (await alice_m.http.get(f"/api/rooms/{rid}")).json()["topics"] == ["comedy"]
