"""The security page (/settings/security) in Debian's Chromium: make a token (shown once),
revoke one from the list by keyboard, change the password — the other browser's socket
closes and its cookie is refused — and the sign-in history; no axe violation, no
"null", nothing wider than a phone.

Run inside the private network namespace:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_security.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import launch, no_horizontal_overflow, poll, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import MEMBER_PASSWORD
from tests.test_browser_a11y import axe, context
from tests.test_browser_people import assert_no_null_text

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a much better password"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def socket_state(page: Page) -> str:
    state: str = await page.evaluate("() => window.parlor && window.parlor.socketState")
    return state


async def test_security_page_tokens_password_and_history(server: LiveServer, pw: Playwright) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        wrong = await http.post("/api/login", json={"username": "ann", "password": "not the password"})
        assert wrong.status_code == 401

        browser = await launch(pw)
        try:
            ctx_a, page = await context(browser)
            ctx_b, other = await context(browser, 390, 844)
            closed: list[str] = []
            other.on("websocket", lambda ws: ws.on("close", lambda _ws: closed.append(ws.url)))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            await sign_in(other, server.url, "ann")
            await poll(lambda: socket_state(other), lambda s: s == "open", what="the other browser's socket")
            await sign_in(page, server.url, "ann")

            # from the settings page
            await page.goto(f"{server.url}/settings")
            await page.get_by_role("link", name="Password, sessions and tokens").click()
            await page.wait_for_url("**/settings/security")
            sessions = page.get_by_role("list", name="Where you are signed in")
            await expect(sessions.get_by_role("listitem")).to_have_count(3)  # the test's client, the phone, here
            await expect(sessions).to_contain_text("This browser")
            await expect(sessions).to_contain_text("Chrome on Linux")
            tokens = page.get_by_role("list", name="Your tokens")
            await expect(tokens).to_contain_text("tests")
            history = page.get_by_role("table", name="Your recent sign-ins")
            await expect(history).to_contain_text("Wrong password")
            await expect(history).to_contain_text("Signed in")
            await assert_no_null_text(page, "/settings/security")
            found: dict[str, list[dict[str, Any]]] = {}
            await axe(page, "security", found)
            assert found["security"] == [], found

            # a token: no expiration is warned about; the secret is shown once
            await page.get_by_label("Token name").fill("my bot")
            expiry = page.get_by_label("Expires after")
            await expect(expiry).to_have_value("30")
            await expiry.select_option("never")
            await expect(page.get_by_text("works until you revoke it")).to_be_visible()
            await expiry.select_option("90")
            await expect(page.get_by_text("works until you revoke it")).to_be_hidden()
            await page.get_by_role("button", name="Create token").click()
            await expect(page.get_by_text("the token is shown only once")).to_be_visible()
            secret = await page.get_by_label("New token “my bot”").input_value()
            assert secret.startswith("pt_")
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 200 and me.json()["username"] == "ann"
            await expect(tokens).to_contain_text("my bot")

            # revoke the test's token from the list, by keyboard
            await page.get_by_role("button", name="Revoke tests").focus()
            await page.keyboard.press("Enter")
            await expect(tokens.get_by_role("button", name="Revoke tests")).to_have_count(0)
            # its button went with it: focus is on the section's heading, not lost
            await expect(page.get_by_role("heading", name="Tokens", exact=True)).to_be_focused()
            gone = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert gone.status_code == 401

            # change the password (Enter in the last field submits)
            assert closed == []
            await page.get_by_label("Current password").fill(MEMBER_PASSWORD)
            await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
            await page.get_by_label("New password again").fill(NEW_PASSWORD)
            await page.get_by_label("New password again").press("Enter")
            # the phone, the test's client and "my bot"
            await expect(page.get_by_role("status").filter(has_text="Password changed")).to_have_text(
                "Password changed. 3 other sessions and tokens were signed out."
            )
            await poll(lambda: _value(closed), lambda c: len(c) >= 1, timeout=5, what="the phone's socket to close")
            assert (await ctx_b.request.get(f"{server.url}/api/me")).status == 401
            assert (await http.get("/api/me")).status_code == 401
            assert (await ctx_a.request.get(f"{server.url}/api/me")).status == 200
            await expect(sessions.get_by_role("listitem")).to_have_count(1)
            await expect(page.get_by_role("button", name="Sign out everywhere else")).to_be_hidden()
            await expect(tokens).to_contain_text("No tokens.")

            # a phone's width
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.reload()
            await expect(history).to_be_visible()
            await no_horizontal_overflow(page)
            assert errors == []
        finally:
            await browser.close()


async def _value(items: list[str]) -> list[str]:
    return list(items)
