"""The room's chat and reactions in Chromium: markup in a line stays text (no element is
made from it), a mention is highlighted for the person named, reactions float over
the sender's avatar, and a moderator's chat settings, timeout and delete reach the
others' pages; on a phone-sized window and a wide one, by keyboard.

Run inside the private network namespace (scripts/test does it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect
from tests.browser_helpers import launch, new_page, no_horizontal_overflow, poll, sign_in, start_room, within_viewport
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> <b>bold?</b> https://example.com'

WATCH_JS = """() => {
  window.__added = [];
  window.__floats = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      for (const el of [n, ...n.querySelectorAll('*')]) window.__added.push(el.tagName);
      if (n.classList.contains('reaction-float')) {
        const li = n.closest('li[data-user-id]');
        window.__floats.push({ emoji: n.textContent, user: li ? li.dataset.userId : null });
      }
    }
  }).observe(document.body, { subtree: true, childList: true });
}"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=1)) as s:
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    pw: Playwright
    async with async_playwright() as pw:
        b = await launch(pw)
        try:
            yield b
        finally:
            await b.close()


async def page_of(browser: Browser, server: LiveServer, username: str, width: int, height: int) -> Page:
    _, page = await new_page(browser, width, height)
    await sign_in(page, server.url, username)
    return page


async def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def test_chat_and_reactions_in_the_room_page(server: LiveServer, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        await make_member(server, ann_http, "ann")
        bob_id, _ = await make_member(server, bob_http, "bob")
    ann = await page_of(browser, server, "ann", 1280, 800)
    url = await start_room(ann, "Chat room")
    bob = await page_of(browser, server, "bob", 390, 760)  # a phone
    await bob.goto(url)
    await expect(bob.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
    await expect(ann.locator(f'li[data-user-id="{bob_id}"]')).to_be_visible()
    for page in (ann, bob):
        await page.evaluate(WATCH_JS)

    # Markup and links are shown as typed, and nothing is made of them.
    await say(ann, XSS)
    bob_log = bob.get_by_role("log", name="Chat messages")
    await expect(bob_log.locator(".chat-text")).to_have_text(XSS)
    for page in (ann, bob):
        made = await page.evaluate("() => window.__added")
        assert not {"IMG", "SCRIPT", "B", "A"} & set(made), made
        assert await page.evaluate("() => window.__xss") is None
        log = page.get_by_role("log", name="Chat messages")
        assert await log.locator("img, script, b, a").count() == 0
        assert await log.locator(".chat-text").evaluate("(el) => el.childNodes.length") == 1  # one text node

    # A mention is highlighted for the person named, not for the writer.
    await say(ann, "welcome @bob!")
    mention = bob_log.locator(".chat-line.mentions-me")
    await expect(mention).to_contain_text("welcome @bob!")
    await expect(mention).to_contain_text("mentions you")
    await expect(ann.locator(".chat-line.mentions-me")).to_have_count(0)

    # Bob writes from the phone, by keyboard; it reaches ann.
    await say(bob, "hello from the back row")
    ann_log = ann.get_by_role("log", name="Chat messages")
    await expect(ann_log.locator(".chat-line").last).to_contain_text("hello from the back row")
    await within_viewport(bob, bob.get_by_role("textbox", name="Message"))
    await within_viewport(bob, bob.get_by_role("button", name="React with fire"))
    await no_horizontal_overflow(bob)

    # Reactions float over the sender's avatar on the others' pages.
    await bob.get_by_role("button", name="React with fire").click()
    await bob.get_by_role("button", name="React with clapping hands").press("Enter")
    floats = await poll(
        lambda: ann.evaluate("() => window.__floats"),
        lambda f: {(x["emoji"], x["user"]) for x in f} >= {("🔥", bob_id), ("👏", bob_id)},
        what="bob's reactions over his avatar",
    )
    assert all(x["user"] == bob_id for x in floats)

    # The moderator: speakers only, then a timeout, then a deletion.
    await ann.get_by_text("Chat settings").click()
    await ann.get_by_role("radio", name="Speakers only").check()
    box = bob.get_by_role("textbox", name="Message")
    await expect(box).to_be_disabled()
    await expect(bob.locator(".chat-note")).to_contain_text("Only people on stage")
    await ann.get_by_role("radio", name="Everyone").check()
    await expect(box).to_be_enabled()
    await ann.get_by_role("button", name="Time out Bob").first.click()
    await ann.get_by_role("group", name="Time out Bob for").get_by_role("button", name="1 minute").click()
    await expect(box).to_be_disabled()
    await expect(bob.locator(".chat-note")).to_contain_text("timed you out")
    await ann.get_by_role("button", name="Delete message from Bob").click()
    await expect(bob_log.locator(".chat-line", has_text="hello from the back row")).to_have_count(0)
    await expect(ann_log.locator(".chat-line", has_text="hello from the back row")).to_have_count(0)
    await no_horizontal_overflow(ann)
