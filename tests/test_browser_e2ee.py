"""An end-to-end encrypted room in Chromium (docs/E2EE.md): three people on stage hear
one another through frames the server cannot read (tone energy at each listener, not
only packets); a late joiner gets a new room key and hears them; a listener whose key
is withheld sees "can't decrypt" while the room goes on; the safety codes each page
shows are parlor.e2ee.safety_code of the published keys; chat travels sealed.

Run inside the private network namespace, as the other media tests:
    unshare -n sh -c 'ip link set lo up && PARLOR_IN_NETNS=1 python -m pytest tests/test_browser_e2ee.py'
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Playwright, async_playwright, expect
from tests.browser_helpers import (
    expect_connected,
    inbound_audio,
    launch,
    new_page,
    poll,
    sign_in,
    write_tone_wav,
)
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor import e2ee

pytestmark = [pytest.mark.browser, pytest.mark.media]

TONES = {"alice": 440.0, "bob": 660.0, "carol": 880.0}

# Drops the `e2ee.key` messages the server delivers to this page (the first LIMIT of
# them): a key withheld, or missed.
WITHHOLD_KEYS = """
(() => {
  let dropped = 0;
  const slot = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    configurable: true,
    get() { return slot.get.call(this); },
    set(fn) {
      slot.set.call(this, !fn ? fn : (e) => {
        try {
          if (JSON.parse(e.data).type === 'e2ee.key' && dropped < LIMIT) { dropped += 1; return; }
        } catch { /* not JSON */ }
        return fn.call(this, e);
      });
    },
  });
})();
"""

# The level (dB) of each tone in what the page plays: every received track through one
# AnalyserNode; the loudest reading per tone over `ms` (the fake microphones play bursts).
_TONES_JS = """
async ({freqs, ms}) => {
  const pc = window.parlor && window.parlor.pc;
  if (!pc) return null;
  if (!window.__tones || window.__tones.pc !== pc) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    window.__tones = {pc, ctx, analyser, tracks: new Set()};
  }
  const t = window.__tones;
  for (const r of pc.getReceivers()) {
    const track = r.track;
    if (!track || track.kind !== 'audio' || t.tracks.has(track.id)) continue;
    t.tracks.add(track.id);
    t.ctx.createMediaStreamSource(new MediaStream([track])).connect(t.analyser);
  }
  if (t.ctx.state !== 'running') await t.ctx.resume();
  const bins = new Float32Array(t.analyser.frequencyBinCount);
  const best = {};
  for (const f of freqs) best[f] = -Infinity;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    t.analyser.getFloatFrequencyData(bins);
    for (const f of freqs) {
      const i = Math.round(f * t.analyser.fftSize / t.ctx.sampleRate);
      best[f] = Math.max(best[f], bins[i - 1], bins[i], bins[i + 1]);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return best;
}
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=0)) as s:
        yield s


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


async def tone_levels(page: Page, ms: int = 2500) -> dict[float, float]:
    got: dict[str, float] | None = await page.evaluate(_TONES_JS, {"freqs": list(TONES.values()), "ms": ms})
    if got is None:  # no media connection yet
        return {hz: float("-inf") for hz in TONES.values()}
    return {float(k): float(v) for k, v in got.items()}


def hears(levels: dict[float, float], *names: str) -> bool:
    # A tone played is 40 dB and more above what the analyser reads with nothing on it.
    return all(levels[TONES[n]] > -60 for n in names)


async def call(page: Page, method: str, *args: Any) -> Any:
    """A room action through the page's own API module (the person's session)."""
    return await page.evaluate(
        "async ([method, args]) => { const {Api} = await import('/static/api.js'); return Api[method](...args); }",
        [method, list(args)],
    )


async def lock(page: Page) -> dict[str, str]:
    info: dict[str, str] = await page.locator("p.lock").evaluate(
        "(el) => ({state: el.dataset.state, epoch: el.dataset.epoch, text: el.innerText})"
    )
    return info


async def room_people(page: Page) -> dict[str, dict[str, Any]]:
    room = await page.evaluate("window.parlor.room")
    return {p["username"]: p for p in room["participants"]}


async def shown_code(page: Page, viewer_of: str) -> str | None:
    """The safety code on `viewer_of`'s tile (user id) on this page."""
    loc = page.locator(f'li[data-user-id="{viewer_of}"] .mark-code')
    if await loc.count() == 0:
        return None
    return await loc.first.get_attribute("data-safety-code")


async def test_three_people_hear_each_other_in_an_encrypted_room(
    server: LiveServer, pw: Playwright, tmp_path: Path
) -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "finn"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in names:
            await make_member(server, http, name)
    browsers = {
        n: await launch(pw, write_tone_wav(tmp_path / f"{n}.wav", hz)) for n, hz in TONES.items()
    }
    browsers["late"] = await launch(pw)
    try:
        pages: dict[str, Page] = {}
        for n in ["alice", "bob", "carol"]:
            _, pages[n] = await new_page(browsers[n])
            await sign_in(pages[n], server.url, n)
        a, b, c = pages["alice"], pages["bob"], pages["carol"]

        # Alice starts an encrypted room: the lock says so, and links to the privacy page.
        await a.get_by_role("textbox", name="Room title").fill("Quiet words")
        await a.get_by_role("checkbox", name="End-to-end encrypted").check()
        await a.get_by_role("button", name="Start a room").click()
        await a.wait_for_url("**/rooms/*")
        await expect_connected(a)
        room_id = a.url.rsplit("/", 1)[1]
        badge = a.get_by_role("link", name="End-to-end encrypted: what the server can and cannot see")
        await expect(badge).to_have_attribute("href", "/privacy")
        await expect(badge).to_have_attribute("target", "_blank")  # following it does not leave the room
        await expect(a.get_by_role("status", name="Encryption")).to_have_text("Keys in place")

        # Bob and Carol find it in the hallway with its lock, and come in.
        for p in (b, c):
            card = p.get_by_role("list", name="Live rooms").locator("li", has_text="Quiet words")
            await expect(card).to_contain_text("End-to-end encrypted")
            await card.get_by_role("link", name="Join Quiet words").click()
            await p.wait_for_url("**/rooms/*")
            await expect_connected(p)

        # Everyone holds the same epoch: a new one since Alice was alone (the leader makes
        # one per change of the keyed people, a burst of arrivals coalesced into one).
        async def epochs() -> list[str]:
            return [(await lock(p))["epoch"] for p in (a, b, c)]

        agreed = await poll(
            epochs, lambda e: len(set(e)) == 1 and int(e[0]) >= 2, timeout=20, what="one room key for all three"
        )
        for p in (a, b, c):
            await expect(p.get_by_role("status", name="Encryption")).to_have_text("Keys in place")

        # Bob and Carol come up to the stage and unmute; Alice unmutes.
        people = await room_people(a)
        for name, p in (("bob", b), ("carol", c)):
            await call(p, "hand", room_id, True)
            await call(a, "inviteToSpeak", room_id, people[name]["user_id"])
            await call(p, "acceptInvite", room_id)
        for p in (a, b, c):
            await expect(p.get_by_role("button", name="Unmute", exact=True)).to_be_visible()
            await p.get_by_role("button", name="Unmute", exact=True).click()
            await expect(p.get_by_role("button", name="Mute", exact=True)).to_be_visible()

        # Each hears the two others' tones (energy at the decoder), never its own.
        for me, p in (("alice", a), ("bob", b), ("carol", c)):
            others = [n for n in TONES if n != me]
            levels = await poll(lambda p=p: tone_levels(p), lambda lv, o=others: hears(lv, *o), timeout=25,
                                what=f"{me} to hear {others}")
            assert levels[TONES[me]] < max(levels[TONES[o]] for o in others) - 20, (me, levels)
            stats = await p.evaluate("window.parlor.e2ee && window.parlor.e2ee.stats")
            assert stats["decrypted"] > 50 and stats["sent"] > 50, (me, stats)

        # Safety codes: each page shows its own on its own tile and, on each other tile,
        # the code of the key it holds; all are parlor.e2ee.safety_code of what was published.
        people = await room_people(a)
        expected = {
            n: e2ee.safety_code(room_id, e2ee.b64d(people[n]["public_key"])) for n in ("alice", "bob", "carol")
        }
        for p in (a, b, c):
            for n in ("alice", "bob", "carol"):
                got = await poll(lambda p=p, n=n: shown_code(p, people[n]["user_id"]), lambda x: x is not None,
                                 what=f"{n}'s safety code")
                assert got == expected[n], (n, got, expected)
        # ... and in the person sheet.
        await b.locator(f'[data-key="tile-{people["alice"]["user_id"]}"]').click()
        sheet = b.get_by_role("dialog", name="Alice")
        await expect(sheet).to_contain_text(f"Safety code: {expected['alice']}")
        await sheet.press("Escape")

        # Chat is sealed on the wire and opened in each page.
        await a.get_by_role("textbox", name="Message").fill("only for us")
        await a.get_by_role("button", name="Send").click()
        await expect(b.get_by_role("log", name="Chat messages")).to_contain_text("only for us")
        history = await b.evaluate(
            f"fetch('/api/rooms/{room_id}/chat').then((r) => r.json())"
        )
        wire = [m["text"] for m in history["messages"]]
        assert wire and all(t.startswith("e2ee:1:") for t in wire), wire

        # A late joiner: a new key for everyone, and Dave hears the stage with it.
        before = int(agreed[0])
        _, d = await new_page(browsers["late"])
        await sign_in(d, server.url, "dave")
        await d.goto(f"{server.url}/rooms/{room_id}")
        await expect_connected(d)
        pages_all = (a, b, c, d)
        await poll(
            lambda: asyncio.gather(*[lock(p) for p in pages_all]),
            lambda ls: len({x["epoch"] for x in ls}) == 1 and int(ls[0]["epoch"]) > before,
            timeout=20,
            what="a new room key for the late joiner and everyone",
        )
        await poll(lambda: tone_levels(d), lambda lv: hears(lv, "alice", "bob", "carol") or hears(lv, "bob", "carol"),
                   timeout=25, what="Dave to hear the stage")

        # A listener whose key is withheld: "can't decrypt", in words; the others go on.
        ctx_e, e = await new_page(browsers["late"])
        await ctx_e.add_init_script(WITHHOLD_KEYS.replace("LIMIT", "Infinity"))
        await sign_in(e, server.url, "erin")
        await e.goto(f"{server.url}/rooms/{room_id}")
        await expect_connected(e)
        await expect(e.get_by_role("status", name="Encryption")).to_contain_text("Can't decrypt", timeout=20_000)
        quiet = await tone_levels(e, 2000)
        assert not any(v > -60 for v in quiet.values()), quiet  # nothing plays
        assert (await e.evaluate("window.parlor.e2ee.stats"))["noKey"] > 20
        await expect(e.get_by_role("log", name="Chat messages")).to_contain_text("encrypted message")
        start = time.monotonic()
        for me, p in (("alice", a), ("bob", b)):
            others = [n for n in TONES if n != me]
            await poll(lambda p=p: tone_levels(p, 1500), lambda lv, o=others: hears(lv, *o), timeout=20,
                       what=f"{me} still hearing {others} with Erin in the room")
        assert time.monotonic() - start < 40
        flow = await inbound_audio(c)
        assert flow["pc"] == "connected", flow

        # A key missed (keys are not queued): after a few seconds of "can't decrypt" the
        # page publishes a fresh public key, the leader sends a new room key, and it heals.
        ctx_f, f = await new_page(browsers["late"])
        await ctx_f.add_init_script(WITHHOLD_KEYS.replace("LIMIT", "1"))
        await sign_in(f, server.url, "finn")
        await f.goto(f"{server.url}/rooms/{room_id}")
        await expect_connected(f)
        await expect(f.get_by_role("status", name="Encryption")).to_contain_text("Can't decrypt", timeout=20_000)
        await expect(f.get_by_role("status", name="Encryption")).to_have_text("Keys in place", timeout=30_000)
        await poll(lambda: tone_levels(f), lambda lv: sum(v > -60 for v in lv.values()) >= 2, timeout=25,
                   what="Finn to hear the stage once healed")

        # Someone leaves: a new key for those who stay (Dave cannot hear what follows).
        held = int((await lock(a))["epoch"])
        await d.get_by_role("button", name="Leave quietly").click()
        await d.wait_for_url(f"{server.url}/")
        await poll(
            lambda: asyncio.gather(*[lock(p) for p in (a, b, c)]),
            lambda ls: len({x["epoch"] for x in ls}) == 1 and int(ls[0]["epoch"]) > held,
            timeout=20,
            what="a new room key once Dave left",
        )
        # A rotation's gap of a frame or two is no "can't decrypt" for those keyed.
        for p in (a, b, c):
            await expect(p.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            assert (await lock(p))["state"] == "ok"
            await poll(lambda p=p: tone_levels(p, 1500), lambda lv: sum(v > -60 for v in lv.values()) >= 1,
                       timeout=15, what="the stage heard after the rotation")
    finally:
        for br in browsers.values():
            await br.close()


async def test_the_privacy_page_says_what_the_server_sees(server: LiveServer, pw: Playwright) -> None:
    browser = await launch(pw)
    try:
        _, page = await new_page(browser)
        await page.goto(f"{server.url}/privacy")
        await expect(page.get_by_role("heading", level=1)).to_have_text("What the server can and cannot see")
        for heading in ("Member rooms", "Guest rooms (/r/<name>)", "End-to-end encrypted rooms"):
            await expect(page.get_by_role("heading", name=heading)).to_be_visible()
        await expect(page.locator("main")).to_contain_text("when each person speaks and how loudly")
    finally:
        await browser.close()


async def test_an_encrypted_guest_room_keyed_by_its_link_or_a_passphrase(pw: Playwright, tmp_path: Path) -> None:
    """The key rides in the link's fragment, which no request carries; whoever has the
    link hears; a wrong passphrase gets "can't decrypt". A passphrase room: the same
    passphrase typed on two pages gives the same key."""
    settings = make_settings(tmp_path / "data", workers=1, guest_rooms=True, embed_origins="https://blog.example.org")
    async with live_server(settings) as server:
        host_browser = await launch(pw, write_tone_wav(tmp_path / "g.wav", TONES["alice"]))
        others = await launch(pw)
        try:
            _, host = await new_page(host_browser)
            sent: list[str] = []

            def watch(page: Page) -> None:
                page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
                page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(str(f))))

            watch(host)
            await host.goto(server.url)
            await host.get_by_role("textbox", name="Guest room name").fill("quiet-den")
            await host.get_by_role("checkbox", name="End-to-end encrypted").check()
            await host.get_by_role("button", name="Start a guest room").click()
            await host.wait_for_url("**/r/quiet-den#k=*")
            link = host.url
            key = link.split("#k=", 1)[1]
            assert len(e2ee.b64d(key)) == 16
            await host.get_by_role("textbox", name="Your name").fill("Gwen")
            await host.get_by_role("button", name="Enter the room").click()
            await expect_connected(host)
            await expect(host.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            await host.get_by_role("button", name="Unmute", exact=True).click()

            # Whoever has the link is in with the key, and hears Gwen.
            _, friend = await new_page(others)
            watch(friend)
            await friend.goto(link)
            await expect(friend.get_by_text("the key is in this link")).to_be_visible()
            await friend.get_by_role("textbox", name="Your name").fill("Finn")
            await friend.get_by_role("button", name="Enter the room").click()
            await expect_connected(friend)
            await expect(friend.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            await poll(lambda: tone_levels(friend), lambda lv: lv[TONES["alice"]] > -60, timeout=25,
                       what="Finn to hear Gwen")

            # The embeddable player, its frame's link carrying the key: in, and it hears Gwen.
            _, embed = await new_page(others)
            watch(embed)
            await embed.goto(f"{server.url}/embed/r/quiet-den#k={key}")
            await embed.get_by_role("textbox", name="Your name").fill("Emil")
            await embed.get_by_role("button", name="Enter the room").click()
            await expect(embed.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            await poll(lambda: tone_levels(embed), lambda lv: lv[TONES["alice"]] > -60, timeout=25,
                       what="the embedded player to hear Gwen")

            # Without the fragment: the passphrase is asked for; a wrong one opens nothing.
            _, stranger = await new_page(others)
            watch(stranger)
            await stranger.goto(f"{server.url}/r/quiet-den")
            await stranger.get_by_role("textbox", name="Your name").fill("Sly")
            await stranger.get_by_label("The room's passphrase").fill("guessing")
            await stranger.get_by_role("button", name="Enter the room").click()
            await expect_connected(stranger)
            await expect(stranger.get_by_role("status", name="Encryption")).to_contain_text("Can't decrypt",
                                                                                          timeout=20_000)
            quiet = await tone_levels(stranger, 2000)
            assert quiet[TONES["alice"]] < -60, quiet

            # A passphrase room: opened with one, entered with the same one: heard.
            _, opener = await new_page(host_browser)
            await opener.goto(f"{server.url}/r/Book-Club")
            await opener.get_by_role("textbox", name="Your name").fill("Opal")
            await opener.get_by_role("checkbox", name="End-to-end encrypted").check()
            await opener.get_by_label("Passphrase (optional: instead of a key in the link)").fill("correct horse")
            await opener.get_by_role("button", name="Enter the room").click()
            await expect_connected(opener)
            assert "#" not in opener.url
            await expect(opener.get_by_role("status", name="Encryption")).to_have_text("Keys in place")
            await opener.get_by_role("button", name="Unmute", exact=True).click()
            _, reader = await new_page(others)
            await reader.goto(f"{server.url}/r/book-club")
            await reader.get_by_role("textbox", name="Your name").fill("Rex")
            await reader.get_by_label("The room's passphrase").fill("correct horse")
            await reader.get_by_role("button", name="Enter the room").click()
            await expect_connected(reader)
            await poll(lambda: tone_levels(reader), lambda lv: lv[TONES["alice"]] > -60, timeout=25,
                       what="Rex to hear Opal")

            # No request or socket frame carried the link's key or a passphrase.
            assert sent and not [s for s in sent if key in s or "correct horse" in s or "guessing" in s]
        finally:
            await host_browser.close()
            await others.close()
