"""Guests in a real browser (Debian's Chromium through Playwright): two browsers with
no account meet in /r/<name> and hear each other; someone without an account listens
in a members' room by its link, and is out when the moderator turns the link off.

Run inside the private network namespace (scripts/test does it):
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_guests.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    dominant_frequency,
    expect_connected,
    inbound_audio,
    inbound_delta,
    launch,
    new_page,
    no_horizontal_overflow,
    poll,
    sign_in,
    start_room,
    write_tone_wav,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.storage.tables import reports

pytestmark = pytest.mark.browser

A_HZ, B_HZ = 440.0, 660.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1, guest_rooms=True)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


def near(hz: float | None, target: float, tolerance: float = 15.0) -> bool:
    return hz is not None and abs(hz - target) <= tolerance


async def enter_as(page: Page, name: str) -> None:
    await page.get_by_role("textbox", name="Your name").fill(name)
    await page.get_by_role("button", name="Enter the room").click()
    await expect_connected(page)


async def hears(page: Page, hz: float, who: str) -> None:
    await poll(
        lambda: inbound_delta(page, 1.0),
        lambda d: d["bytesReceived"] > 2000 and d["totalAudioEnergy"] > 0.01 and d["audioLevel"] > 0.05,
        timeout=20,
        what=f"{who} to receive audio",
    )
    await poll(lambda: dominant_frequency(page), lambda p: near(p and p["hz"], hz), timeout=15, what=f"{who}: {hz} Hz")


async def reports_stored(server: LiveServer) -> int:
    async with server.app.state.services.db.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(reports))).scalar_one())


async def test_two_browsers_without_accounts_meet_in_a_guest_room_and_hear_each_other(
    server: LiveServer, pw: Playwright, tmp_path: Path
) -> None:
    browser_a = await launch(pw, write_tone_wav(tmp_path / "a.wav", A_HZ))
    browser_b = await launch(pw, write_tone_wav(tmp_path / "b.wav", B_HZ))
    try:
        _, a = await new_page(browser_a)
        _, b = await new_page(browser_b, 390, 844)  # a phone
        # A bad name: a friendly page, no prompt.
        await a.goto(f"{server.url}/r/no")
        await expect(a.get_by_role("heading", name="Not a room name")).to_be_visible()
        await expect(a.get_by_role("textbox", name="Your name")).to_have_count(0)

        await a.goto(f"{server.url}/r/Garden-Party")
        await expect(a.get_by_text("Nobody is here yet")).to_be_visible()
        await enter_as(a, "Ada")
        await expect(a.get_by_role("heading", name="Garden-Party")).to_be_visible()
        stage_a = a.get_by_role("list", name="Stage")
        await expect(stage_a.get_by_role("listitem").filter(has_text="Ada")).to_contain_text("moderator")
        await expect(stage_a.get_by_role("listitem").filter(has_text="Ada")).to_contain_text("guest")

        # The other opens the same room under another case, and is on stage too.
        await b.goto(f"{server.url}/r/garden-party")
        await expect(b.get_by_text("1 person is here")).to_be_visible()
        await enter_as(b, "Bea")
        await expect(b.get_by_role("list", name="Stage")).to_contain_text("Ada")
        await expect(stage_a).to_contain_text("Bea")
        await no_horizontal_overflow(b)

        for page in (a, b):
            await poll(lambda page=page: inbound_audio(page), lambda s: s["pc"] == "connected", what="media")
            await page.get_by_role("button", name="Unmute", exact=True).click()
            await expect(page.get_by_role("button", name="Mute", exact=True)).to_be_visible()
        await hears(b, A_HZ, "Bea")
        await hears(a, B_HZ, "Ada")

        # The moderator turns the stage on: Bea goes to the audience and is heard no more.
        stage_switch = a.get_by_role("button", name="Stage on")
        await expect(stage_switch).to_have_attribute("aria-pressed", "false")
        await stage_switch.click()
        await expect(stage_switch).to_have_attribute("aria-pressed", "true")
        await expect(b.get_by_role("button", name="Raise hand")).to_be_visible()
        await poll(lambda: inbound_delta(a, 0.5), lambda d: d["bytesReceived"] == 0, timeout=10, what="silence")

        await expect(a.get_by_role("button", name="Report room")).to_have_count(0)
        # Both leave: the room is gone, and so is every guest.
        await b.get_by_role("button", name="Leave quietly").click()
        await expect(stage_a).not_to_contain_text("Bea")
        await a.get_by_role("button", name="Leave quietly").click()
        # The only moderator is asked what leaving does; alone, the room ends with them.
        await a.get_by_role("dialog").get_by_role("button", name="Leave and end the room").click()
        live = server.app.state.services.live
        await poll(lambda: _now(not live.rooms and not live.guests.by_id), bool, timeout=10, what="room gone")
    finally:
        await browser_a.close()
        await browser_b.close()


async def _now(value: bool) -> bool:
    return value


async def test_a_guest_listens_in_a_members_room_by_its_link(
    server: LiveServer, pw: Playwright, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        await make_member(server, http, "host")
    browser_h = await launch(pw, write_tone_wav(tmp_path / "h.wav", A_HZ))
    browser_g = await launch(pw)
    try:
        _, host = await new_page(browser_h)
        await sign_in(host, server.url, "host")
        url = await start_room(host, "Members evening")
        # Not yet open to guests: someone without an account is asked to sign in.
        _, guest = await new_page(browser_g)
        await guest.goto(url)
        await guest.wait_for_url("**/login**")

        link = host.get_by_role("button", name="Anyone with the link")
        await expect(link).to_have_attribute("aria-pressed", "false")
        await link.click()
        await expect(link).to_have_attribute("aria-pressed", "true")
        await host.get_by_role("button", name="Unmute", exact=True).click()

        await guest.goto(url)
        await expect(guest.get_by_role("heading", name="Members evening")).to_be_visible()
        await enter_as(guest, "Gus")
        audience = host.get_by_role("list", name="Audience")
        await expect(audience.get_by_role("listitem").filter(has_text="Gus")).to_contain_text("guest")
        await expect(guest.get_by_role("button", name="Raise hand")).to_be_visible()
        await hears(guest, A_HZ, "the guest")

        # A hand, an invitation, the stage, as for anyone.
        await guest.get_by_role("button", name="Raise hand").click()
        await host.get_by_role("list", name="Raised hands").get_by_role("button", name="Invite Gus to speak").click()
        await guest.get_by_role("button", name="Accept invitation to speak").click()
        await expect(host.get_by_role("list", name="Stage")).to_contain_text("Gus")

        # A guest may report the members' room (a guest room has no Report: nothing of it is
        # stored); told that a guest hears nothing back.
        await guest.get_by_role("button", name="Report room").click()
        await guest.get_by_label("Spam or scams").check()
        await guest.get_by_role("button", name="Send report").click()
        await expect(guest.get_by_text("As a guest you will not be told the outcome")).to_be_visible()
        await guest.get_by_role("button", name="Done").click()
        assert await reports_stored(server) == 1

        # Off: the guest is out at once and hears nothing more.
        await link.click()
        await expect(link).to_have_attribute("aria-pressed", "false")
        await expect(guest.get_by_text("You are no longer in this room.")).to_be_visible()
        await expect(host.get_by_role("list", name="Stage")).not_to_contain_text("Gus")
        assert not server.app.state.services.live.guests.by_id
    finally:
        await browser_h.close()
        await browser_g.close()
