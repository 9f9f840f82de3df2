"""/contacts in Debian's Chromium: the browser's normaliser agrees with the Python one,
and a lookup sends no phone number or e-mail address, nor any full hash of one.

Run inside the private network namespace:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/test_browser_contacts.py -q'
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Playwright, Request, async_playwright, expect
from tests.browser_helpers import follow_name, launch, new_page, sign_in
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.test_contacts import Caller, forbidden_forms

from parlor.client import contacts as cc

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).parent / "data" / "contact_vectors.json"

# The same checks as tests/data/check_contact_vectors.mjs, in the page.
_CHECK_JS = """
async (v) => {
  const c = await import('/static/contacts.js');
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const problems = [];
  for (const p of v.phones) if (c.normalizePhone(p.raw, p.country) !== p.e164) problems.push(p);
  for (const e of v.emails) if (c.normalizeEmail(e.raw) !== e.normalized) problems.push(e);
  for (const k of v.kinds) if (!same(c.normalize(k.raw, k.country), k.expected)) problems.push(k);
  const key = await c.importKey(v.key);
  for (const h of v.hashes) if (await c.keyedHash(key, h.kind, h.value) !== h.hash) problems.push(h);
  for (const p of v.prefixes) if (c.prefixOf(p.hash, p.bits) !== p.prefix) problems.push(p);
  for (const p of v.parse) if (!same(c.parseContacts(p.text, p.filename), p.entries)) problems.push(p.filename);
  return problems;
}
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", contact_bucket_min=2)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def test_the_browser_normaliser_matches_the_shared_vectors(server: LiveServer, pw: Playwright) -> None:
    browser = await launch(pw)
    try:
        _, page = await new_page(browser)
        await page.goto(server.url + "/")
        assert await page.evaluate(_CHECK_JS, json.loads(VECTORS.read_text())) == []
    finally:
        await browser.close()


async def test_find_follow_and_let_in_from_the_contacts_page(
    server: LiveServer, pw: Playwright, tmp_path: Path
) -> None:
    tokens = {}
    for name in ("ann", "bob", "dan"):
        async with httpx.AsyncClient(base_url=server.url) as own:
            tokens[name] = (await make_member(server, own, name))[1]
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = Caller(http, {"Authorization": f"Bearer {tokens['bob']}"})
        await cc.add_findable(bob, "phone", "+44 20 7946 0018")
        dan = Caller(http, {"Authorization": f"Bearer {tokens['dan']}"})
        for i in range(4):  # more findable people, so that prefixes have bits
            await cc.add_findable(dan, "email", f"dan{i}@example.net")
        r = await http.post("/api/waitlist", json={"username": "eve", "display_name": "Eve"})
        assert r.status_code == 201, r.text
        eve_token = r.json()["token"]
        eve = Caller(http, {"X-Waitlist-Token": eve_token})
        await cc.add_findable(eve, "email", "eve@example.org", waitlist=True)

    pasted = ["020 7946 0018", "stranger@example.com"]
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("Name,Phone,Email\nEve,,Eve@Example.org\nNobody,07700 900123,\n")
    uploaded = [*pasted, "Eve@Example.org", "07700 900123"]

    browser = await launch(pw)
    try:
        _, page = await new_page(browser)
        await sign_in(page, server.url, "ann")
        sent: list[str] = []

        def record(request: Request) -> None:
            sent.append(f"{request.method} {request.url} {request.headers!r} {request.post_data or ''}".lower())

        page.on("request", record)
        await page.goto(server.url + "/contacts")
        await page.get_by_label("Phone numbers and e-mail addresses").fill("\n".join(pasted))
        await page.get_by_label("Import a contacts file (vCard or CSV)").set_input_files(str(csv_file))
        await expect(page.get_by_text("2 phone numbers and addresses read from contacts.csv.")).to_be_visible()
        await page.get_by_label("Default country code").fill("+44")
        await page.get_by_role("button", name="Find my contacts").click()

        await expect(page.get_by_role("status")).to_have_text("Checked 4 contacts.")
        members = page.get_by_role("list", name="On Parlor")
        await expect(members).to_contain_text("Bob")
        await expect(members.get_by_role("listitem")).to_have_count(1)
        follow_bob = members.get_by_role("button", name=follow_name("Bob"))
        await expect(follow_bob).to_have_attribute("aria-pressed", "false")
        await follow_bob.click()
        await expect(follow_bob).to_have_attribute("aria-pressed", "true")
        await expect(follow_bob).to_have_accessible_name("Following Bob")
        waiting = page.get_by_role("list", name="Waiting to join")
        await expect(waiting.get_by_role("listitem")).to_have_count(1)
        await waiting.get_by_role("button", name="Let in Eve").click()
        await expect(waiting.get_by_role("button", name="Eve was let in")).to_be_visible()

        # make yourself findable, then not
        await page.get_by_label("Kind").select_option("email")
        await page.get_by_label("Your phone number or e-mail address").fill("Ann@Example.org")
        await page.get_by_role("button", name="Make findable").click()
        mine = page.get_by_role("list", name="Your findable identifiers")
        await expect(mine.get_by_role("listitem")).to_have_count(1)
        await expect(mine).to_contain_text("E-mail address, added")
        await mine.get_by_role("button", name="Remove E-mail address", exact=False).click()
        await expect(mine.get_by_role("listitem")).to_have_count(0)
        await expect(page.get_by_text("Nobody can find you by phone number or e-mail address.")).to_be_visible()
        page.remove_listener("request", record)
    finally:
        await browser.close()

    async with httpx.AsyncClient(base_url=server.url) as http:
        ann = Caller(http, {"Authorization": f"Bearer {tokens['ann']}"})
        assert (await ann.call("GET", "/api/users/bob"))["followed_by_you"] is True
        status = (await http.get("/api/waitlist/me", headers={"X-Waitlist-Token": eve_token})).json()
        assert status["status"] == "admitted" and status["admitted_by"]["username"] == "ann"
        key = bytes.fromhex((await ann.call("GET", "/api/contacts/params"))["key"])

    assert any("/api/contacts/match" in line for line in sent)
    leaks: dict[str, Any] = {raw: forbidden_forms(raw, key, "+44") for raw in uploaded}
    for raw, forms in leaks.items():
        for form in forms:
            assert not any(form in line for line in sent), (raw, form)
