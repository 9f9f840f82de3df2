"""`parlor bench quality`: speech through Parlor against the same speech on a direct call.

Per run, in one process, on loopback (run it inside `unshare -n`):
- through Parlor: a node (`parlor serve`, its own process) and Chromium pages running the
  web client; the speaker(s) create / join a room, the listener joins it;
- direct: the same browsers, a plain RTCPeerConnection per speaker to the listener,
  signalled by this process (no server media).
The two kinds alternate (parlor, direct, direct, parlor, ...), so load on the box falls
on both alike. Each speaker's Chromium plays a WAV this bench made with espeak-ng as
its microphone; the listener records what it renders (all received tracks, summed,
48 kHz), and `speech.score` gives PESQ-WB against the reference. The listener's getStats
counters (concealed, time-stretched, jitter-buffer delay, lost) are read around the
recording.

Two-speaker mode (`--speakers 2`): the node has one slot, both speakers are on stage and
take turns every `turn_s` (the bench mutes one and unmutes the other, through the API for
Parlor, `track.enabled` for the direct call), so the slot changes hands at every turn.
Each speaker is scored over its own turns, from 0.3 s plus the run's mean jitter-buffer
delay after the turn starts (when the turn is actually heard) to its end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from parlor.bench import procs, speech
from parlor.bench import quality_js as js
from parlor.bench.node import Node, metrics
from parlor.bench.seed import PASSWORD, Member, migrate, seed_members

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
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
    # the direct call's listener never opens a microphone: let it offer its real address
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
SETTLE_S = 1.0  # after audio flows, before recording: the first packets' jitter-buffer set-up
# Where in a turn speech goes missing (seconds after the turn starts): the start of a
# turn is where a slot hand-over would cut it.
POSITION_BINS = [(0.0, 0.25), (0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0)]
TURN_SKIP_S = 0.3  # a turn's first 0.3 s + the jitter-buffer delay are not scored (the onset)
STAT_KEYS = (
    "packetsReceived", "packetsLost", "concealedSamples", "silentConcealedSamples", "concealmentEvents",
    "insertedSamplesForDeceleration", "removedSamplesForAcceleration", "totalSamplesReceived",
)


@dataclass(frozen=True)
class QualityConfig:
    runs: int = 10
    speakers: int = 1
    sentences: int = 4
    dtx: bool = True
    # The direct call with Opus DTX too (its listener asks for it): Chromium's default
    # is without, so by default the two paths differ in the speaker's encoder as well.
    direct_dtx: bool = False
    workers: int = 1
    turn_s: float = 2.0
    turns: int = 8
    # How two speakers take turns on Parlor: "voice", both unmuted, each falls silent in
    # the other's turn (its microphone track off, as on the direct call), so the slot
    # router hands the slot over on loudness; "mute", the bench mutes one and unmutes
    # the other through the API, so the mute frees the slot.
    turn_by: str = "voice"
    # The pages ask for reduced motion: the room page's speaking ring then does not
    # pulse. Unreduced, that animation (a box-shadow, repainted 60 times a second in
    # software: no GPU here) in the three pages takes CPU from the audio threads of
    # all of them on the shared cores; on a real network each page has a device of
    # its own. `--motion full` measures with it.
    reduced_motion: bool = True
    # The node's scheduling priority (nice value; root may lower it). On a real network
    # the node has a machine of its own; here it shares two cores with three Chromiums
    # (and whatever else runs), and a starved node delays packets in bursts that the
    # listener's jitter buffer then has to absorb. 0 keeps the default priority.
    node_nice: int = -10
    # The node's listener slots: None is one with two speakers (the slot changes hands at
    # every turn), the node's default with one.
    slots: int | None = None
    keep: bool = False


def run_quality(cfg: QualityConfig, progress: Any = None) -> dict[str, Any]:
    if cfg.speakers not in (1, 2):
        raise ValueError("speakers must be 1 or 2")
    if cfg.turn_by not in ("voice", "mute"):
        raise ValueError("turn_by must be voice or mute")
    missing = speech.tools_missing()
    if missing:
        raise RuntimeError(f"needs {' and '.join(missing)} (apt-get install -y espeak-ng sox)")
    return asyncio.run(_run(cfg, progress))


async def _run(cfg: QualityConfig, progress: Any) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="parlor-quality-"))
    load_before = os.getloadavg()
    node: Node | None = None
    slots = cfg.slots if cfg.slots is not None else 1 if cfg.speakers == 2 else None
    try:
        voices = [speech.make_speech(work / f"speaker{i}.wav", cfg.sentences, i) for i in range(cfg.speakers)]
        data = work / "data"
        data.mkdir()
        migrate(data)
        members = seed_members(data, cfg.speakers + 1, prefix="q")
        env = {"PARLOR_OPUS_DTX": "1" if cfg.dtx else "0"}
        if slots is not None:
            env["PARLOR_SLOTS"] = str(slots)
        node = Node(data, workers=cfg.workers, engine="fast", env=env)
        nice = 0
        if cfg.node_nice:
            try:
                os.setpriority(os.PRIO_PROCESS, node.pid, cfg.node_nice)  # its workers inherit it
                nice = cfg.node_nice
            except PermissionError:
                pass  # not root: the run says so in "node_nice"
        node.wait_ready()
        async with async_playwright() as pw:
            browsers = [
                await pw.chromium.launch(
                    executable_path=CHROMIUM, args=[*BROWSER_ARGS, f"--use-file-for-fake-audio-capture={v.path}"]
                )
                for v in voices
            ]
            browsers.append(await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS))
            try:
                contexts = []
                for browser, member in zip(browsers, [*members[1:], members[0]], strict=True):
                    ctx = await browser.new_context(reduced_motion="reduce" if cfg.reduced_motion else "no-preference")
                    await ctx.grant_permissions(["microphone"])
                    await _sign_in(ctx, node.url, member)
                    contexts.append(ctx)
                bench = _Bench(cfg, node, voices, members[1:], members[0], contexts[:-1], contexts[-1], work)
                results: list[dict[str, Any]] = []
                for i in range(cfg.runs):
                    for mode in ("parlor", "direct") if i % 2 == 0 else ("direct", "parlor"):
                        result = await bench.run(mode, i)
                        results.append(result)
                        if progress is not None:
                            progress(result)
            finally:
                for browser in browsers:
                    await browser.close()
        return {**_summary(cfg, results, load_before, os.getloadavg()), "node_nice": nice, "slots": slots}
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


class StageFailed(RuntimeError):
    """A run could not be set up or measured: which run, which stage, and what each page saw."""


async def _until(probe: Any, ok: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        last = await probe()
        if ok(last):
            return last
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}: {last!r}")
        await asyncio.sleep(0.1)


class _Bench:
    def __init__(
        self, cfg: QualityConfig, node: Node, voices: list[speech.Speech], speakers: list[Member],
        listener: Member, speaker_ctxs: list[Any], listener_ctx: Any, work: Path,
    ) -> None:
        self.work = work
        self.cfg = cfg
        self.node = node
        self.voices = voices
        self.speakers = speakers
        self.listener = listener
        self.speaker_ctxs = speaker_ctxs
        self.listener_ctx = listener_ctx
        self.stage = ""  # what the current run is doing, for a failure message

    async def run(self, mode: str, index: int) -> dict[str, Any]:
        self.stage = "open the pages"
        pages = [await ctx.new_page() for ctx in self.speaker_ctxs]
        listener = await self.listener_ctx.new_page()
        try:
            if mode == "parlor":
                async with httpx.AsyncClient(base_url=self.node.url, timeout=10) as http:
                    toggle = await self._connect_parlor(http, pages, listener, index)
                    return await self._measure(mode, listener, toggle, index)
            toggle = await self._connect_direct(pages, listener)
            return await self._measure(mode, listener, toggle, index)
        except Exception as exc:
            raise StageFailed(
                f"{mode} run {index + 1}: {self.stage}: {exc}\n"
                f"speaker pages: {await _diagnose(pages)}\nlistener page: {await _diagnose([listener])}"
            ) from exc
        finally:
            for page in [*pages, listener]:
                await page.close()

    def _auth(self, member: Member) -> dict[str, str]:
        return {"Authorization": f"Bearer {member.token}"}

    async def _connect_parlor(self, http: httpx.AsyncClient, pages: list[Any], listener: Any, index: int) -> Any:
        async def post(member: Member, path: str, body: Any = None) -> Any:
            r = await http.post(path, json=body, headers=self._auth(member))
            r.raise_for_status()
            return r.json()

        self.stage = "create the room"
        room = await post(self.speakers[0], "/api/rooms", {"title": f"Quality {index}"})
        base = f"/api/rooms/{room['id']}"
        for who, page in enumerate([*pages, listener]):
            self.stage = f"open the room page ({'listener' if page is listener else f'speaker {who + 1}'})"
            await page.goto(f"{self.node.url}/rooms/{room['id']}")
            await page.get_by_role("status", name="Connection").filter(has_text="Connected").wait_for()
        for other in self.speakers[1:]:
            self.stage = "bring the second speaker on stage"
            await post(other, base + "/hand", {"raised": True})
            await post(self.speakers[0], base + "/speak-invites", {"user_id": other.user_id})
            await post(other, base + "/speak-invite/accept")  # on stage, muted

        async def mute(on: int | None) -> None:  # all but speaker `on` muted (None: nobody)
            await asyncio.gather(
                *(post(m, base + "/mute", {"muted": on is not None and i != on}) for i, m in enumerate(self.speakers))
            )

        async def fall_silent(on: int) -> None:  # all on air, all but `on` silent
            await asyncio.gather(*(p.evaluate(js.MIC_ENABLE, i == on) for i, p in enumerate(pages)))

        # everyone comes on stage muted (the room's creator too)
        self.stage = "unmute the speakers"
        await mute(0 if self.cfg.turn_by == "mute" else None)
        live = pages[:1] if self.cfg.turn_by == "mute" else pages
        for page in live:
            await _until(lambda p=page: p.evaluate(js.MIC_LIVE), bool, 15, "a speaker's live microphone")
        if self.cfg.turn_by == "voice" and len(pages) > 1:
            await fall_silent(0)
        self.stage = "connect the listener's media"
        await _until(lambda: listener.evaluate(js.CONNECTED, "parlor"), bool, 15, "the listener's media")
        return mute if self.cfg.turn_by == "mute" else fall_silent

    async def _connect_direct(self, pages: list[Any], listener: Any) -> Any:
        self.stage = "open the pages (/healthz)"
        for page in [*pages, listener]:
            await page.goto(f"{self.node.url}/healthz")
        for who, page in enumerate(pages):
            self.stage = f"signal the direct call (speaker {who + 1})"
            offer = await page.evaluate(js.SPEAK_OFFER)
            answer = await listener.evaluate(js.LISTEN, [offer, self.cfg.direct_dtx])
            await page.evaluate(js.SPEAK_ANSWERED, answer)
        self.stage = "connect the direct call"
        await _until(lambda: listener.evaluate(js.CONNECTED, "direct"), bool, 15, "the direct call")

        async def toggle(on: int) -> None:
            await asyncio.gather(*(p.evaluate(js.MIC_ENABLE, i == on) for i, p in enumerate(pages)))

        if len(pages) > 1:
            await toggle(0)
        return toggle

    async def _measure(self, mode: str, listener: Any, toggle: Any, index: int) -> dict[str, Any]:
        self.stage = "wait for audio at the listener"
        await _until(
            lambda: listener.evaluate(js.STATS, mode), lambda s: s["packetsReceived"] > 25, 15, "audio at the listener"
        )
        await asyncio.sleep(SETTLE_S)
        self.stage = "record and score"
        pids = procs.descendants(self.node.pid)
        # the browsers (and Playwright's driver): everything this process started but the node
        browser_pids = [p for p in procs.descendants(os.getpid()) if p not in pids and p != os.getpid()]
        before = await listener.evaluate(js.STATS, mode)
        counters0 = await self._node_counters() if mode == "parlor" else {}
        cpu0, t0 = procs.cpu_seconds(pids), time.monotonic()
        browser_cpu0 = procs.cpu_seconds(browser_pids)
        await listener.evaluate(js.RECORD_START, mode)
        marks: list[tuple[int, int]] = []
        if len(self.voices) == 1:
            await asyncio.sleep(self.voices[0].seconds + 1.0)
        else:
            for turn in range(self.cfg.turns):
                await toggle(turn % 2)
                marks.append((int(await listener.evaluate(js.FRAMES)), turn % 2))
                await asyncio.sleep(self.cfg.turn_s)
        pcm = base64.b64decode(await listener.evaluate(js.RECORD_STOP))
        seconds = time.monotonic() - t0
        cpu = procs.cpu_seconds(pids) - cpu0
        browser_cpu = procs.cpu_seconds(browser_pids) - browser_cpu0
        after = await listener.evaluate(js.STATS, mode)
        counters = {k: v - counters0[k] for k, v in (await self._node_counters()).items()} if counters0 else {}
        recording = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        delta = {k: after[k] - before[k] for k in STAT_KEYS}
        emitted = after["jitterBufferEmittedCount"] - before["jitterBufferEmittedCount"]
        jb_ms = 1000 * (after["jitterBufferDelay"] - before["jitterBufferDelay"]) / emitted if emitted else None
        if self.cfg.keep:  # for a closer look afterwards (speech.score_windows on other windows)
            np.savez(self.work / f"{mode}-{index}.npz", recording=recording, marks=np.array(marks, dtype=np.int64),
                     jb_ms=jb_ms or 0.0)
        position: list[list[float]] = []
        if len(self.voices) == 1:
            scores = [speech.score(recording, self.voices[0].samples)[0]]
        else:
            # a turn is heard one mouth-to-ear delay after it starts, mostly the jitter
            # buffer's: skip that too, or a window opens on the other speaker's last words
            skip = TURN_SKIP_S + (jb_ms or 0.0) / 1000
            scores = [
                speech.score_windows(recording, voice.samples, _windows(marks, who, len(recording), skip))
                for who, voice in enumerate(self.voices)
            ]
            position = self._missing_by_position(recording, marks, skip)
        return {
            "mode": mode,
            "pesq": scores,
            "recorded_s": round(len(recording) / speech.RATE, 2),
            "packets_per_s": round(delta["packetsReceived"] / seconds, 1),
            "jitter_buffer_ms": None if jb_ms is None else round(jb_ms, 1),
            "arrival_jitter_ms": round(1000 * after["jitter"], 1),  # the worst stream's, at the end
            "node_cpu_pct": round(100 * cpu / seconds, 1),
            "browsers_cpu_pct": round(100 * browser_cpu / seconds, 1),
            "load": round(os.getloadavg()[0], 2),
            **{_snake(k): v for k, v in delta.items()},
            **({"speech_missing_by_position": position} if position else {}),
            **counters,
        }

    async def _node_counters(self) -> dict[str, int]:
        """The node's speaker packets forwarded, dropped (no slot) and malformed, so far."""
        async with httpx.AsyncClient(base_url=self.node.url, timeout=10) as http:
            found = await metrics(http)
        return {
            f"node_packets_{what}": int(found.get(f"parlor_media_packets_{what}_total", 0))
            for what in ("forwarded", "dropped", "malformed")
        }

    def _missing_by_position(
        self, recording: np.ndarray, marks: list[tuple[int, int]], skip: float
    ) -> list[list[float]]:
        """[from s, to s, frames missing, frames of speech] per position in a turn, both speakers."""
        bins = [b for b in POSITION_BINS if b[0] < self.cfg.turn_s]
        totals = [[lo, min(hi, self.cfg.turn_s), 0, 0] for lo, hi in bins]
        for who, voice in enumerate(self.voices):
            ref = speech.aligned_reference(recording, voice.samples, _windows(marks, who, len(recording), skip))
            turns = _windows(marks, who, len(recording), 0.0)
            counts = speech.missing_speech(recording, ref, turns, bins)
            for total, (missing, frames) in zip(totals, counts, strict=True):
                total[2] += missing
                total[3] += frames
        return totals


async def _diagnose(pages: list[Any]) -> list[Any]:
    out = []
    for page in pages:
        try:
            out.append(await page.evaluate(js.DIAGNOSE))
        except Exception as exc:  # a page that crashed or never loaded says so
            out.append(repr(exc))
    return out


def _windows(marks: list[tuple[int, int]], who: int, end: int, skip_s: float) -> list[tuple[int, int]]:
    skip = int(skip_s * speech.RATE)
    out = []
    for k, (start, on) in enumerate(marks):
        if on == who:
            stop = marks[k + 1][0] if k + 1 < len(marks) else end
            out.append((start + skip, min(stop, end)))
    return out


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _summary(
    cfg: QualityConfig, results: list[dict[str, Any]], load_before: tuple[float, ...], load_after: tuple[float, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "quality", "runs": cfg.runs, "speakers": cfg.speakers, "sentences": cfg.sentences,
        "dtx": cfg.dtx, "direct_dtx": cfg.direct_dtx, "workers": cfg.workers, "reduced_motion": cfg.reduced_motion,
        "turn_by": cfg.turn_by if cfg.speakers > 1 else None,
        "load_1m_before": round(load_before[0], 2), "load_1m_after": round(load_after[0], 2),
        "load_1m_max": max([r["load"] for r in results] + [load_before[0], load_after[0]]),
    }
    for mode in ("parlor", "direct"):
        rs = [r for r in results if r["mode"] == mode]
        scores = [s for r in rs for s in r["pesq"]]
        out[f"pesq_{mode}_median"] = round(statistics.median(scores), 3)
        out[f"pesq_{mode}_min"] = min(scores)
        out[f"pesq_{mode}"] = scores
        for key in ("concealed_samples", "inserted_samples_for_deceleration", "removed_samples_for_acceleration",
                    "packets_lost", "total_samples_received", "silent_concealed_samples"):
            out[f"{key}_{mode}"] = int(sum(r[key] for r in rs))
        jb = [r["jitter_buffer_ms"] for r in rs if r["jitter_buffer_ms"] is not None]
        out[f"jitter_buffer_ms_{mode}_median"] = round(statistics.median(jb), 1) if jb else None
        out[f"packets_per_s_{mode}_median"] = round(statistics.median(r["packets_per_s"] for r in rs), 1)
        if cfg.speakers > 1:  # the share of speech missing, by position in a turn, over all runs
            sums: dict[str, list[float]] = {}
            for r in rs:
                for lo, hi, missing, frames in r["speech_missing_by_position"]:
                    acc = sums.setdefault(f"{lo:g}-{hi:g}s", [0, 0])
                    acc[0] += missing
                    acc[1] += frames
            out[f"speech_missing_{mode}_by_position"] = {
                k: round(m / f, 3) if f else None for k, (m, f) in sums.items()
            }
    parlor_cpu = [r["node_cpu_pct"] for r in results if r["mode"] == "parlor"]
    out["node_cpu_pct_median"] = round(statistics.median(parlor_cpu), 1)
    for mode in ("parlor", "direct"):
        browsers = [r["browsers_cpu_pct"] for r in results if r["mode"] == mode]
        out[f"browsers_cpu_pct_{mode}_median"] = round(statistics.median(browsers), 1)
    out["accept"] = {
        "worst": out["pesq_parlor_min"] >= out["pesq_direct_min"] - 0.1,
        "median": out["pesq_parlor_median"] >= out["pesq_direct_median"] - 0.05,
        "concealed": out["concealed_samples_parlor"] <= 1.5 * out["concealed_samples_direct"],
    }
    out["per_run"] = results
    return out


def main(args: Any) -> int:
    import json
    import sys

    from parlor.settings import Settings

    dtx = Settings().opus_dtx if args.dtx is None else args.dtx == "on"
    cfg = QualityConfig(
        runs=args.runs, speakers=args.speakers, sentences=args.sentences, dtx=dtx, workers=args.workers,
        direct_dtx=args.direct_dtx == "on",
        node_nice=args.node_nice, slots=args.slots, turn_by=args.turn_by, reduced_motion=args.motion == "reduce",
        keep=args.keep,
    )

    def progress(result: dict[str, Any]) -> None:
        if not args.json:
            print(json.dumps(result), file=sys.stderr, flush=True)

    try:
        result = run_quality(cfg, progress)
    except StageFailed as exc:
        print(f"parlor bench quality: {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0
