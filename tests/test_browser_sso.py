"""Single sign-on in Debian's Chromium, with the pages' real CSP: the sign-in page's
"Sign in with …" link, reached and followed by keyboard, goes through the tests' own
OpenID provider (which approves at once) and lands signed in; in SSO-only mode the
page offers nothing else.

Run inside the private network namespace:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_sso.py -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import launch, new_page
from tests.conftest import make_settings
from tests.live import LiveServer, live_server
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider

pytestmark = pytest.mark.browser
pytest.importorskip("authlib")


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


def sso_server(tmp_path: Path, op: Provider, **extra: Any) -> Any:
    settings = make_settings(
        tmp_path / "data",
        oidc_issuer=op.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_name="Acme",
        oidc_admin_group="admins",
        **extra,
    )
    return live_server(settings)


def watch_console(page: Page) -> list[str]:
    """Script errors and CSP refusals (a signed-out page's 401 from /api/me is expected)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


async def signed_in_as(page: Page, server: LiveServer) -> dict[str, Any]:
    r = await page.request.get(f"{server.url}/api/me")
    assert r.status == 200, await r.text()
    me: dict[str, Any] = await r.json()
    return me


async def test_sign_in_with_the_organisation_beside_the_password_form(tmp_path: Path, pw: Playwright) -> None:
    async with oidc_provider() as op:
        op.person = {"sub": "ada-1", "preferred_username": "ada", "name": "Ada L.", "groups": ["admins"]}
        async with sso_server(tmp_path, op) as server:
            browser = await launch(pw)
            try:
                ctx, page = await new_page(browser)
                problems = watch_console(page)
                await page.goto(f"{server.url}/login?next=/settings")
                link = page.get_by_role("link", name="Sign in with Acme")
                await expect(link).to_be_visible()
                await expect(page.get_by_label("Username")).to_be_focused()
                # By keyboard: back from the username field to the link, then Enter.
                await page.keyboard.press("Shift+Tab")
                await expect(link).to_be_focused()
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{server.url}/settings")
                me = await signed_in_as(page, server)
                assert me["username"] == "ada" and me["is_admin"] is True
                assert problems == []
                await ctx.close()
            finally:
                await browser.close()


async def test_sso_only_offers_just_the_organisation(tmp_path: Path, pw: Playwright) -> None:
    async with oidc_provider() as op:
        op.person = {"sub": "bo-1", "preferred_username": "bob"}
        async with sso_server(tmp_path, op, sso_only=True) as server:
            browser = await launch(pw)
            try:
                ctx, page = await new_page(browser)
                problems = watch_console(page)
                await page.goto(f"{server.url}/login")
                link = page.get_by_role("link", name="Sign in with Acme")
                await expect(link).to_be_focused()
                await expect(page.get_by_label("Password")).to_have_count(0)
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{server.url}/")
                assert (await signed_in_as(page, server))["username"] == "bob"
                # Deleting the account: no password to give; the page offers signing in
                # again (back to the same place), then deletes.
                await page.goto(f"{server.url}/settings")
                delete = page.get_by_role("region", name="Delete your account")
                await expect(delete.get_by_role("button", name="Delete my account")).to_be_visible()
                await expect(delete.get_by_label("Password")).to_have_count(0)
                await delete.get_by_role("link", name="Sign in again with Acme").click()
                await page.wait_for_url(f"{server.url}/settings#settings-delete")
                await delete.get_by_label("I understand this cannot be undone").check()
                await delete.get_by_role("button", name="Delete my account").click()
                await page.wait_for_url(f"{server.url}/")
                assert (await page.request.get(f"{server.url}/api/me")).status == 401
                # A refused sign-in comes back to the page, which says why.
                op.error = "access_denied"
                await page.request.post(f"{server.url}/api/logout")
                await page.goto(f"{server.url}/login")
                await page.get_by_role("link", name="Sign in with Acme").click()
                await page.wait_for_url(f"{server.url}/login?sso_error=sso_provider_error")
                await expect(page.get_by_role("alert")).to_contain_text("did not sign you in")
                assert problems == []
                await ctx.close()
            finally:
                await browser.close()
