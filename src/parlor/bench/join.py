"""`parlor bench join`: from "Join" to the first audio the listener decodes.

One node (`parlor serve`, its own process), one Chromium (Debian's, driven by Playwright)
with two signed-in people: a speaker on stage, unmuted, whose fake microphone plays a
continuous tone, and a listener who joins the room from the hallway through the web
client, `joins` times: click "Join <title>", wait for the first decoded audio, "Leave
quietly" (back to the hallway), again.

The listener is the web client, not the Python client, because the figure is what a
person waits for: it includes the room page's load (the Join link is a plain link) and
its own steps (REST join, socket subscribe, the offer/answer round trip with the
browser's ICE gathering, ICE and DTLS, the jitter buffer's first frame). "First audio
decoded" is the first getStats look (every 10 ms, from the page) where the inbound
audio's totalSamplesReceived exceeds its concealedSamples. Intermediate marks (ms after
the click): the page's peer connection exists (`pc`), it is connected (`connected`),
the first packet arrived (`packet`).

Run inside a private network namespace (`unshare -n`), as the other benches.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import struct
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from parlor.bench.node import Node
from parlor.bench.quality import BROWSER_ARGS, CHROMIUM
from parlor.bench.seed import PASSWORD, Member, migrate, seed_members

TITLE = "Join bench"
JOIN_TIMEOUT_MS = 15_000

# The hallway's Join link loads the room page: the click's time goes through the tab's
# sessionStorage (Date.now(), the same clock in both documents).
_CLICK_JS = """
(link) => {
  sessionStorage.setItem('parlor.bench.join_t0', String(Date.now()));
  setTimeout(() => link.click(), 0);
}
"""

# On the room page: follow it until it decodes audio; marks in ms after the click.
_FOLLOW_JS = """
async (timeoutMs) => {
  const t0 = Number(sessionStorage.getItem('parlor.bench.join_t0'));
  const marks = {};
  const at = () => Date.now() - t0;
  while (at() < timeoutMs) {
    const pc = window.parlor && window.parlor.pc;
    if (pc && pc.connectionState !== 'closed') {
      if (marks.pc === undefined) marks.pc = at();
      if (marks.connected === undefined && pc.connectionState === 'connected') marks.connected = at();
      let packets = 0;
      let decoded = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
        packets += s.packetsReceived || 0;
        decoded += (s.totalSamplesReceived || 0) - (s.concealedSamples || 0);
      });
      if (packets > 0 && marks.packet === undefined) marks.packet = at();
      if (decoded > 0) {
        marks.audio = at();
        return marks;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return marks;
}
"""


@dataclass(frozen=True)
class JoinConfig:
    joins: int = 30
    workers: int = 1
    keep: bool = False


def write_tone(path: Path, seconds: float = 10.0, freq: float = 440.0, rate: int = 48000) -> Path:
    """A continuous sine for the speaker's fake microphone (Chromium loops the file)."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        frames += struct.pack("<h", int(0.5 * 32767 * math.sin(2 * math.pi * freq * i / rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def run_join(cfg: JoinConfig) -> dict[str, Any]:
    if cfg.joins < 1:
        raise ValueError("joins must be at least 1")
    return asyncio.run(_run(cfg))


async def _run(cfg: JoinConfig) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="parlor-join-"))
    load_before = os.getloadavg()
    node: Node | None = None
    try:
        tone = write_tone(work / "tone.wav")
        data = work / "data"
        data.mkdir()
        migrate(data)
        speaker, listener = seed_members(data, 2, prefix="j")
        node = Node(data, workers=cfg.workers, engine="fast", long_grace=False)
        node.wait_ready()
        async with async_playwright() as pw, httpx.AsyncClient(base_url=node.url) as http:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=[*BROWSER_ARGS, f"--use-file-for-fake-audio-capture={tone}"]
            )
            try:
                room_id = await _speaker_on_air(browser, http, node.url, speaker)
                ctx = await browser.new_context()
                await _sign_in(ctx, node.url, listener)
                page = await ctx.new_page()
                await page.goto(node.url + "/")
                runs: list[dict[str, float]] = []
                for _ in range(cfg.joins):
                    link = page.get_by_role("link", name=f"Join {TITLE}")
                    await link.wait_for(timeout=30_000)
                    await link.evaluate(_CLICK_JS)
                    await page.wait_for_url("**/rooms/*", timeout=30_000)
                    marks: dict[str, float] = await page.evaluate(_FOLLOW_JS, JOIN_TIMEOUT_MS)
                    runs.append(marks)
                    leave = page.get_by_role("button", name="Leave quietly")
                    await leave.click(timeout=30_000)
                    await page.wait_for_url(node.url + "/", timeout=30_000)
                    # The node has let the listener go before the next join.
                    await _until_left(http, speaker, room_id, listener.user_id)
            finally:
                await browser.close()
        return _summary(cfg, runs, load_before, os.getloadavg())
    finally:
        if node is not None:
            node.stop()
        if cfg.keep:
            print(f"# kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


async def _sign_in(ctx: Any, url: str, member: Member) -> None:
    page = await ctx.new_page()
    await page.goto(f"{url}/login")
    await page.get_by_label("Username").fill(member.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Start a room").wait_for()
    await page.close()


async def _speaker_on_air(browser: Any, http: httpx.AsyncClient, url: str, speaker: Member) -> str:
    """The speaker opens the room, its page connects, and it unmutes: talking."""
    auth = {"Authorization": f"Bearer {speaker.token}"}
    r = await http.post("/api/rooms", json={"title": TITLE}, headers=auth)
    r.raise_for_status()
    room_id = str(r.json()["id"])
    ctx = await browser.new_context()
    await ctx.grant_permissions(["microphone"])
    await _sign_in(ctx, url, speaker)
    page = await ctx.new_page()
    await page.goto(f"{url}/rooms/{room_id}")
    await page.get_by_role("status", name="Connection").filter(has_text="Connected").wait_for()
    r = await http.post(f"/api/rooms/{room_id}/mute", json={"muted": False}, headers=auth)
    r.raise_for_status()
    await page.get_by_role("button", name="Mute", exact=True).wait_for()
    return room_id


async def _until_left(http: httpx.AsyncClient, speaker: Member, room_id: str, user_id: str) -> None:
    auth = {"Authorization": f"Bearer {speaker.token}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = await http.get(f"/api/rooms/{room_id}", headers=auth)
        r.raise_for_status()
        if all(p["user_id"] != user_id for p in r.json()["participants"]):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the listener did not leave the room")


def _summary(
    cfg: JoinConfig, runs: list[dict[str, float]], load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    heard = [r["audio"] for r in runs if "audio" in r]

    def stats(key: str) -> dict[str, float] | None:
        values = [r[key] for r in runs if key in r]
        if not values:
            return None
        return {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "min": min(values),
            "max": max(values),
        }

    return {
        "bench": "join",
        "listener": "web client (Chromium)",
        "joins": cfg.joins,
        "heard": len(heard),
        "join_to_first_audio_ms": stats("audio"),
        "phases_ms": {key: stats(key) for key in ("pc", "connected", "packet")},
        "workers": cfg.workers,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "runs": runs,
    }


def main(args: Any) -> int:
    import json

    result = run_join(JoinConfig(joins=args.joins, workers=args.workers, keep=args.keep))
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2), flush=True)
    return 0 if result["heard"] == result["joins"] else 1
