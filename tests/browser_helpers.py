"""Helpers for the browser acceptance tests: Debian's Chromium driven by Playwright's
async API, in the same event loop as the in-process server (tests/live.py)."""

from __future__ import annotations

import asyncio
import math
import re
import struct
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page, Playwright, expect
from tests.people import MEMBER_PASSWORD

CHROMIUM = "/usr/bin/chromium"
# Assertions wait up to 15 s, not Playwright's 5: CI runs these beside the media tests on
# two cores, and a page's first load after sign-in has taken longer than 5 s there. A
# passing assertion returns as soon as it holds, so only a failure waits the whole time.
expect.set_options(timeout=15_000)
PASSWORD = MEMBER_PASSWORD  # what tests/live.py:make_member signs people up with
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]

T = TypeVar("T")


def write_tone_wav(path: Path, freq: float, seconds: float = 4.0, rate: int = 48000) -> Path:
    """A loud mono 16-bit sine in 300 ms bursts with 200 ms gaps, for Chromium to loop
    as the fake microphone. The gaps keep WebRTC's noise suppression from treating a
    steady tone as background noise and fading it out."""
    n = int(rate * seconds)
    period, on, ramp = int(rate * 0.5), int(rate * 0.3), int(rate * 0.01)
    amplitude = 0.6 * 32767
    samples = bytearray()
    for i in range(n):
        t = i % period
        if t >= on:
            env = 0.0
        else:
            env = min(1.0, t / ramp, (on - t) / ramp)
        samples += struct.pack("<h", int(amplitude * env * math.sin(2 * math.pi * freq * i / rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(samples))
    return path


async def launch(pw: Playwright, fake_audio: Path | None = None) -> Browser:
    args = list(BASE_ARGS)
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    return await pw.chromium.launch(executable_path=CHROMIUM, args=args)


async def new_page(browser: Browser, width: int = 1280, height: int = 800) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.grant_permissions(["microphone"])
    page = await context.new_page()
    page.set_default_timeout(10_000)
    return context, page


async def sign_in(page: Page, base_url: str, username: str) -> None:
    """Through the login page, as a person would."""
    await page.goto(f"{base_url}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Start a room")).to_be_visible()


async def start_room(page: Page, title: str) -> str:
    await page.get_by_role("textbox", name="Room title").fill(title)
    await page.get_by_role("button", name="Start a room").click()
    await page.wait_for_url("**/rooms/*")
    await expect_connected(page)
    return page.url


async def join_from_hallway(page: Page, title: str) -> None:
    rooms = page.get_by_role("list", name="Live rooms")
    await rooms.get_by_role("link", name=f"Join {title}").click()
    await page.wait_for_url("**/rooms/*")
    await expect_connected(page)


def follow_name(person: str) -> re.Pattern[str]:
    """The follow button's accessible name either way (views/people.js followButton):
    "Follow Bob" or "Following Bob"; aria-pressed says which."""
    return re.compile(rf"^Follow(ing)? {re.escape(person)}$")


async def expect_connected(page: Page) -> None:
    await expect(page.get_by_role("status", name="Connection")).to_have_text("Connected")


# Sums inbound-rtp audio over every receiver of the page's current RTCPeerConnection
# (the server forwards speakers on a few "slot" tracks).
_INBOUND_JS = """
async () => {
  const pc = window.parlor && window.parlor.pc;
  const out = {pc: pc ? pc.connectionState : null, streams: 0, bytesReceived: 0,
               packetsReceived: 0, totalAudioEnergy: 0, totalSamplesReceived: 0,
               concealedSamples: 0, audioLevel: 0};
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
    out.streams += 1;
    for (const k of ['bytesReceived', 'packetsReceived', 'totalAudioEnergy',
                     'totalSamplesReceived', 'concealedSamples']) out[k] += s[k] || 0;
    out.audioLevel = Math.max(out.audioLevel, s.audioLevel || 0);
  });
  return out;
}
"""


async def inbound_audio(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(_INBOUND_JS)
    return result


async def inbound_delta(page: Page, window: float = 1.5) -> dict[str, float]:
    """Growth of the summed inbound counters over `window` seconds, and the highest
    audioLevel sampled (every 100 ms) during it: the fake microphones play bursts."""
    before = await inbound_audio(page)
    level = 0.0
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        after = await inbound_audio(page)
        level = max(level, float(after["audioLevel"]))
    delta = {
        k: float(after[k] - before[k])
        for k in ("bytesReceived", "packetsReceived", "totalAudioEnergy", "totalSamplesReceived", "concealedSamples")
    }
    delta["audioLevel"] = level
    return delta


async def poll(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 10.0, what: str = "condition"
) -> T:
    """Call `probe` until `ok(result)`; fail with the last result after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        last = await probe()
        if ok(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.1)


# The dominant frequency of what the page plays: every received track goes through
# an AnalyserNode (the app already plays them in <audio>, which Chrome needs for
# remote tracks to reach WebAudio).
_PEAK_JS = """
async () => {
  const pc = window.parlor && window.parlor.pc;
  if (!pc) return null;
  if (!window.__peak || window.__peak.pc !== pc) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    window.__peak = {pc, ctx, analyser, tracks: new Set()};
  }
  const p = window.__peak;
  for (const r of pc.getReceivers()) {
    const t = r.track;
    if (!t || t.kind !== 'audio' || p.tracks.has(t.id)) continue;
    p.tracks.add(t.id);
    p.ctx.createMediaStreamSource(new MediaStream([t])).connect(p.analyser);
  }
  if (p.ctx.state !== 'running') await p.ctx.resume();
  const bins = new Float32Array(p.analyser.frequencyBinCount);
  p.analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return {hz: best * p.ctx.sampleRate / p.analyser.fftSize, db: bins[best]};
}
"""


async def dominant_frequency(page: Page) -> dict[str, float] | None:
    result: dict[str, float] | None = await page.evaluate(_PEAK_JS)
    return result


async def no_horizontal_overflow(page: Page) -> dict[str, int]:
    dims: dict[str, int] = await page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert dims["scroll"] <= dims["inner"], f"horizontal overflow: {dims}"
    return dims


async def within_viewport(page: Page, locator: Any) -> None:
    """Visible, and horizontally inside the viewport. The app re-renders its controls
    (new elements each time), so a box measured on a just-detached element is all
    zeros: measure again until it is a real box."""
    await expect(locator).to_be_visible()
    box = await poll(
        lambda: locator.evaluate(
            "(el) => { const r = el.getBoundingClientRect();"
            " return {left: r.left, right: r.right, width: r.width, height: r.height,"
            " inner: window.innerWidth, attached: el.isConnected,"
            " text: el.getAttribute('aria-label') || el.textContent}; }"
        ),
        lambda b: b["attached"] and b["width"] > 0,
        timeout=5,
        what="a laid-out element",
    )
    assert box["height"] > 0, box
    assert box["left"] >= 0 and box["right"] <= box["inner"] + 0.5, box
    # Once scrolled to, nothing (e.g. the fixed control bar) covers its middle.
    hit = await poll(
        lambda: locator.evaluate(
            "(el) => { el.scrollIntoView({block: 'nearest'}); const r = el.getBoundingClientRect();"
            " const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
            " return {attached: el.isConnected, ok: !!top && (el === top || el.contains(top)),"
            " top: top ? top.outerHTML.slice(0, 120) : null}; }"
        ),
        lambda h: h["attached"],
        timeout=5,
        what="a laid-out element",
    )
    assert hit["ok"], (box["text"], hit)
