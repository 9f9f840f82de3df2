"""`parlor bench fanout`: one room, S speakers, N listeners, a real node in its own process.

Subscribed (the default, `--subscribed`): every listener and speaker keeps its socket
open and subscribed to the room, as a browser does (bench/lean.py `Signalling`), so
what the node sends on those sockets (snapshots while people join, "who is speaking",
pongs) is part of the measured server CPU; what the listeners' sockets received is
reported for the idle phase and the measurement window. `--no-subscribed`: peers close
their socket once media is up and only the media plane is measured.

Timeline:
1. seed S+N members into a fresh data dir, start `parlor serve` (engine, workers);
2. the first speaker creates the room (moderator, on stage), the others are invited to
   speak, accept and unmute; all S connect media and start sending (warm-up packets);
3. server RSS is read, then the generator processes join the N listeners in
   concurrent batches and wait for each one's first packet (join time);
4. after a short settle, the window opens: server CPU (utime+stime of the node and
   all its descendants), its /metrics counters and the generators' CPU are read and
   the speakers start marking packets "measured";
5. after `seconds`, the speakers stop; 0.5 s later (packets in flight land) the
   counters are read again. Listeners count only measured packets, so nothing sent
   before the window opened or still in flight when it closed distorts the ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from parlor.bench import floor, generator, procs
from parlor.bench.lean import RxStats, SignalStats, Speaker, connect, hook_receiver
from parlor.bench.node import Node, metrics
from parlor.bench.procs import stop_generators
from parlor.bench.redis_proc import redis_server
from parlor.bench.seed import Member, migrate, seed_members
from parlor.e2ee import SFrameSender

SLOTS = 3
ROUNDS = 3  # --encrypted both: off/on windows, alternating
DRAIN_S = 0.5
SETTLE_S = 2.0
IDLE_S = 3.0
FLOOR_S = 3.0
FORWARDED = "parlor_media_packets_forwarded_total"
DROPPED = "parlor_media_packets_dropped_total"
PEERS = "parlor_media_peers"
RELAYED = "parlor_node_relay_sent_total"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FanoutConfig:
    listeners: int = 100
    speakers: int = 1
    seconds: float = 10.0
    engine: str = "fast"
    workers: int = 1
    generators: int = 2
    concurrency: int = 25  # concurrent joins per generator process
    keep: bool = False  # keep the node's data dir (and its log)
    subscribed: bool = True  # peers keep a subscribed socket, as browsers do
    # end-to-end encrypted rooms (issue 14): "off", "on" (the speakers send SFrame
    # frames, bench/lean.py) or "both": the window alternates off and on, ROUNDS times
    # each, in the same room with the same listeners, and both are reported
    encrypted: str = "off"
    # nodes of a cluster (one Redis, the first node's database): the room runs on the
    # first; listeners are split over all of them, each node's listeners on its own
    # media (actions/cluster_media.py). Above 1, a one-node run with the same listeners
    # goes first, as the baseline of the same run.
    nodes: int = 1


def run_fanout(cfg: FanoutConfig) -> dict[str, Any]:
    if cfg.listeners < 1 or cfg.speakers < 1 or cfg.seconds <= 0 or cfg.nodes < 1:
        raise ValueError("need at least one listener, one speaker, one node and a positive duration")
    if cfg.nodes == 1:
        return _run_once(cfg)
    one = _run_once(replace(cfg, nodes=1))
    many = _run_once(cfg)
    return {**many, **_versus_one_node(many, one)}


def _versus_one_node(many: dict[str, Any], one: dict[str, Any]) -> dict[str, Any]:
    """The cluster's figures against the one-node run before it: CPU per delivered packet
    (all nodes' CPU), and what relaying one packet to one other node costs (bench/floor.py)."""
    cpu_many, cpu_one = many["server_cpu_us_per_delivered"], one["server_cpu_us_per_delivered"]
    keys = (
        "delivered_ratio", "latency_ms_p50", "latency_ms_p99", "server_cpu_us_per_packet",
        "server_cpu_us_per_delivered", "floor_us_per_packet", "cpu_vs_floor", "packets_received",
        "server_cpu_pct", "host_loadavg_1m",
    )
    return {
        "one_node": {k: one.get(k) for k in keys},
        "cpu_per_delivered_vs_one_node": round(cpu_many / cpu_one, 3) if cpu_many and cpu_one else None,
        # sender's seal and sendto + receiver's recv, MAC check and decoding, per packet
        # and other node, measured apart (in the runs above it is lost in their spread)
        "relay_us_per_packet": round(floor.relay_cost(), 2),
    }


def _run_once(cfg: FanoutConfig) -> dict[str, Any]:
    generator.raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="parlor-bench-"))
    try:
        migrate(data_dir)
        members = seed_members(data_dir, cfg.speakers + cfg.listeners)
        with contextlib.ExitStack() as stack:
            redis_url = stack.enter_context(redis_server(data_dir / "redis")) if cfg.nodes > 1 else None
            database_url = f"sqlite+aiosqlite:///{data_dir / 'parlor.db'}" if redis_url else None
            nodes: list[Node] = []
            try:
                for i in range(cfg.nodes):
                    node_dir = data_dir if i == 0 else data_dir / f"node{i}"
                    node_dir.mkdir(exist_ok=True)
                    nodes.append(
                        Node(
                            node_dir, workers=cfg.workers, engine=cfg.engine, long_grace=not cfg.subscribed,
                            database_url=database_url, redis_url=redis_url,
                        )
                    )
                    nodes[-1].wait_ready()  # one at a time: each joins the cluster as it starts
                return _run_loop(_orchestrate(cfg, nodes, members))
            finally:
                for node in nodes:
                    node.stop()
    finally:
        if not cfg.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _metrics_all(nodes: list[Node]) -> dict[str, float]:
    """Every node's /metrics, summed."""
    total: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30.0) as http:
        for node in nodes:
            http.base_url = httpx.URL(node.url)
            for key, value in (await metrics(http)).items():
                total[key] = total.get(key, 0.0) + value
    return total


def _pids(nodes: list[Node]) -> list[int]:
    return [pid for node in nodes for pid in procs.descendants(node.pid)]


def _run_loop(coro: Any) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        result: dict[str, Any] = asyncio.run(coro)
        return result
    result = uvloop.run(coro)
    return result


async def _stage(http: httpx.AsyncClient, speakers: list[Member], encrypted: bool = False) -> str:
    """The first speaker opens the room; the others come on stage, unmuted."""

    def auth(m: Member) -> dict[str, str]:
        return {"Authorization": f"Bearer {m.token}"}

    async def post(m: Member, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await http.post(path, json=body, headers=auth(m))
        if r.status_code >= 400:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
        result: dict[str, Any] = r.json()
        return result

    moderator = speakers[0]
    body: dict[str, Any] = {"title": "bench", **({"encrypted": True} if encrypted else {})}
    room_id = str((await post(moderator, "/api/rooms", body))["id"])
    for m in speakers[1:]:
        await post(m, f"/api/rooms/{room_id}/join")
        await post(moderator, f"/api/rooms/{room_id}/speak-invites", {"user_id": m.user_id})
        await post(m, f"/api/rooms/{room_id}/speak-invite/accept")
    for m in speakers:  # everyone comes on stage muted, the room's creator too
        await post(m, f"/api/rooms/{room_id}/mute", {"muted": False})
    return room_id


async def _signals(workers: list[tuple[Any, Any]]) -> dict[str, int]:
    """The generators' socket counters, summed (empty when not subscribed)."""
    loop = asyncio.get_running_loop()
    total: dict[str, int] = {}
    for _proc, pipe in workers:
        pipe.send("signals")
        tag, payload = await loop.run_in_executor(None, pipe.recv)
        assert tag == "signals"
        for key, value in payload.items():
            total[key] = total.get(key, 0) + value
    return total


def _signal_rates(phase: str, before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    def rate(key: str) -> float:
        return round((after.get(key, 0) - before.get(key, 0)) / seconds, 1)

    return {
        f"listener_msgs_per_s_{phase}": rate("messages"),
        f"listener_speaking_per_s_{phase}": rate("speaking"),
        f"listener_ws_kb_per_s_{phase}": round(rate("bytes") / 1000, 1),
    }


def _fanout_in_use() -> str:
    from parlor.media.sfu import C_FANOUT_BUILT

    chosen = os.environ.get("PARLOR_FANOUT", "auto")
    return ("c" if C_FANOUT_BUILT else "python") if chosen == "auto" else chosen


def _percentile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(value: float | None, floor_figures: dict[str, Any]) -> float | None:
    under = floor_figures.get("floor_us_per_packet")
    return round(value / under, 3) if value and under else None  # None: nothing measured


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 2)


def _encrypt(speakers: list[Speaker], on: bool) -> None:
    for s in speakers:
        s.sframe = SFrameSender(os.urandom(16), 1) if on else None


async def _windows(
    cfg: FanoutConfig, http: httpx.AsyncClient, speakers: list[Speaker], server_pids: list[int]
) -> dict[str, Any]:
    """The measurement window. `encrypted` on or off: one window, speakers sending that
    way. both: 2 x ROUNDS windows alternating off and on, each measured alone (server CPU
    and forwarded packets), so both modes see the same room, listeners and box load."""
    if cfg.encrypted != "both":
        _encrypt(speakers, cfg.encrypted == "on")
        await asyncio.sleep(cfg.seconds)
        return {}
    cpu = {"off": 0.0, "on": 0.0}
    packets = {"off": 0.0, "on": 0.0}
    part = cfg.seconds / (2 * ROUNDS)
    for _ in range(ROUNDS):
        for mode in ("off", "on"):
            _encrypt(speakers, mode == "on")
            f0 = (await metrics(http)).get(FORWARDED, 0.0)
            c0 = sum(procs.cpu_split(server_pids))
            await asyncio.sleep(part)
            c1 = sum(procs.cpu_split(server_pids))
            f1 = (await metrics(http)).get(FORWARDED, 0.0)
            cpu[mode] += c1 - c0
            packets[mode] += f1 - f0
    us = {m: cpu[m] * 1e6 / packets[m] if packets[m] else None for m in cpu}
    off, on = us["off"], us["on"]
    return {
        "plain_us_per_packet": _round(off, 2),
        "encrypted_us_per_packet": _round(on, 2),
        "encrypted_vs_plain": round(on / off, 3) if on and off else None,
        "plain_packets": int(packets["off"]),
        "encrypted_packets": int(packets["on"]),
    }


async def _orchestrate(cfg: FanoutConfig, nodes: list[Node], members: list[Member]) -> dict[str, Any]:
    node = nodes[0]  # the room's node: the speakers are on it
    speaker_members, listener_members = members[: cfg.speakers], members[cfg.speakers :]
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=node.url, timeout=60.0) as http:
        if cfg.encrypted not in ("off", "on", "both"):
            raise ValueError("encrypted is off, on or both")
        room_id = await _stage(http, speaker_members, cfg.encrypted != "off")
        echo = RxStats(len(speaker_members))  # speakers hear each other: verified, not counted
        speaker_signals = SignalStats() if cfg.subscribed else None
        speakers: list[Speaker] = []
        for i, m in enumerate(speaker_members):
            peer = await connect(node.url, http, m, room_id, join=False, subscribe=speaker_signals)
            hook_receiver(peer.pc, echo, i)
            speakers.append(Speaker(peer, i))
        for i, s in enumerate(speakers):
            s.start(0.02 * i / len(speakers))
        await asyncio.sleep(1.0)
        rss_before = sum(procs.tree_rss_bytes(n.pid) for n in nodes)

        # -- listeners join, spread over the generator processes ----------------------
        ctx = multiprocessing.get_context("spawn")
        # each generator's listeners on one node, the nodes taking turns
        count = max(cfg.generators, len(nodes))
        shares = [listener_members[g::count] for g in range(count)]
        workers = []
        for g, share in enumerate(shares):
            if not share:
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=generator.run,
                args=(child, nodes[g % len(nodes)].url, room_id, share, cfg.concurrency, cfg.subscribed),
                daemon=True,
            )
            proc.start()
            workers.append((proc, parent))
        join_started = time.monotonic()
        joined: list[dict[str, Any]] = []
        try:
            for _proc, pipe in workers:
                tag, payload = await loop.run_in_executor(None, pipe.recv)
                assert tag == "joined"
                joined.append(payload)
            join_wall_s = time.monotonic() - join_started
            await asyncio.sleep(SETTLE_S)
            rss_after = sum(procs.tree_rss_bytes(n.pid) for n in nodes)

            # -- what N idle peers cost the server: speakers paused ------------------------
            for s in speakers:
                await s.stop()
            # past the speaking hold (media/levels.py), so "idle" is silence
            await asyncio.sleep(1.5)
            idle_pids = _pids(nodes)
            logger.info("idle phase: %s s, speakers paused", IDLE_S)
            sig_idle0 = await _signals(workers)
            idle0, idle_t0 = procs.cpu_seconds(idle_pids), time.monotonic()
            await asyncio.sleep(IDLE_S)
            idle_cpu_pct = (procs.cpu_seconds(idle_pids) - idle0) * 100 / (time.monotonic() - idle_t0)
            idle_wall = time.monotonic() - idle_t0
            sig_idle1 = await _signals(workers)
            for i, s in enumerate(speakers):
                s.start(0.02 * i / len(speakers))
            await asyncio.sleep(1.0)

            # -- the measurement window ------------------------------------------------
            server_pids = _pids(nodes)
            gen_pids = [proc.pid for proc, _ in workers if proc.pid is not None]
            m0 = await _metrics_all(nodes)
            sig0 = await _signals(workers)
            (user0, sys0) = procs.cpu_split(server_pids)
            gen0 = procs.cpu_seconds(gen_pids)
            self0 = procs.cpu_seconds([os.getpid()])
            t0 = time.monotonic()
            load_before = os.getloadavg()[0]
            for s in speakers:
                s.flag = 1
            # progress on stderr (also what an outside profiler waits for)
            logger.info("window open: %s s, %d listeners joined", cfg.seconds, sum(j["joined"] for j in joined))
            by_mode = await _windows(cfg, http, speakers, server_pids)
            for s in speakers:
                await s.stop()
            await asyncio.sleep(DRAIN_S)
            t1 = time.monotonic()
            logger.info("window closed")
            (user1, sys1) = procs.cpu_split(server_pids)
            gen1 = procs.cpu_seconds(gen_pids)
            self1 = procs.cpu_seconds([os.getpid()])
            sig1 = await _signals(workers)
            m1 = await _metrics_all(nodes)
            server_pids_end = _pids(nodes)
            peers_per_node = []
            for n in nodes:
                peers_per_node.append(int((await http.get(f"{n.url}/healthz")).json()["peers"]))
            speaker_states = [s.peer.pc.connectionState for s in speakers]

            reports: list[dict[str, Any]] = []
            for _proc, pipe in workers:
                pipe.send("report")
                tag, payload = await loop.run_in_executor(None, pipe.recv)
                assert tag == "report"
                reports.append(payload)
            # The floor, to the same sockets at the speakers' rate (bench/floor.py),
            # once the listeners' counts are read: they drop what it sends.
            addrs = [tuple(a) for r in reports for a in r["addrs"]]
            logger.info("floor: %s s to %d sockets", FLOOR_S, len(addrs))
            floor_figures = await loop.run_in_executor(
                None, floor.measure, addrs, 50.0 * min(cfg.speakers, SLOTS), FLOOR_S
            )
        finally:
            await stop_generators(workers, 10.0)
        for s in speakers:
            await s.peer.close()

    # -- figures ----------------------------------------------------------------------
    wall = t1 - t0
    sent = sum(s.sent_measured for s in speakers)
    received = sum(r["received"] for r in reports)
    expected = sent * cfg.listeners if cfg.speakers <= SLOTS else sent * cfg.listeners * SLOTS / cfg.speakers
    forwarded_server = m1.get(FORWARDED, 0.0) - m0.get(FORWARDED, 0.0)
    if forwarded_server > 0:
        forwarded, forwarded_source = forwarded_server, "server /metrics"
    else:
        forwarded, forwarded_source = float(received), "generator: listeners' verified receipts (server totals empty)"
    server_cpu = (user1 + sys1) - (user0 + sys0)
    server_sys = sys1 - sys0
    latencies = array("i")
    for r in reports:
        latencies.frombytes(r["latency_us"])
    lat_sorted = sorted(latencies)
    join_s = sorted(x for j in joined for x in j["join_s"])
    connect_s = sorted(x for j in joined for x in j["connect_s"])
    per_listener = [c for r in reports for c in r["per_listener"]]
    per_speaker = sent / max(1, len(speakers))
    return {
        "listeners": cfg.listeners,
        "speakers": cfg.speakers,
        "workers": cfg.workers,
        "engine": cfg.engine,
        # the fast engine's inner loop (PARLOR_FANOUT; "auto" is C when built)
        "fanout": _fanout_in_use() if cfg.engine == "fast" else None,
        "seconds": cfg.seconds,
        "encrypted": cfg.encrypted,
        **by_mode,
        "nodes": len(nodes),
        "peers_per_node": peers_per_node,
        # speakers' packets sent from one node to another (parlor_node_relay_sent_total)
        "relay_packets": int(m1.get(RELAYED, 0.0) - m0.get(RELAYED, 0.0)),
        "server_cpu_us_per_packet": round(server_cpu * 1e6 / forwarded, 2) if forwarded else None,
        # all nodes' CPU per packet a listener received
        "server_cpu_us_per_delivered": round(server_cpu * 1e6 / received, 2) if received else None,
        # of which in the kernel (sendto on loopback also queues the datagram at the receiver)
        "server_sys_us_per_packet": round(server_sys * 1e6 / forwarded, 2) if forwarded else None,
        # SRTP-protect + sendto alone, same sockets, same run (bench/floor.py), and the
        # node's CPU per packet as a multiple of it
        **floor_figures,
        "cpu_vs_floor": _ratio(server_cpu * 1e6 / forwarded if forwarded else None, floor_figures),
        "packets_forwarded": int(forwarded),
        "packets_forwarded_source": forwarded_source,
        "delivered_ratio": round(received / expected, 5) if expected else None,
        "latency_ms_p50": _ms(_percentile(lat_sorted, 50)),
        "latency_ms_p99": _ms(_percentile(lat_sorted, 99)),
        "latency_ms_max": round(lat_sorted[-1] / 1000, 2) if lat_sorted else None,
        "server_rss_mb_per_listener": round((rss_after - rss_before) / 2**20 / cfg.listeners, 3),
        "join_s_p50": _round(_percentile(join_s, 50), 3),
        "join_s_p99": _round(_percentile(join_s, 99), 3),
        "connect_s_p50": _round(_percentile(connect_s, 50), 3),
        "join_wall_s": round(join_wall_s, 1),
        "generator_cpu_pct": round((gen1 - gen0) * 100 / wall, 1),
        "speakers_cpu_pct": round((self1 - self0) * 100 / wall, 1),
        "server_cpu_pct": round(server_cpu * 100 / wall, 1),
        "server_idle_cpu_pct": round(idle_cpu_pct, 1),
        "window_s": round(wall, 3),
        "packets_sent": sent,
        "packets_received": received,
        "packets_expected": int(expected),
        "packets_dropped_server": int(m1.get(DROPPED, 0.0) - m0.get(DROPPED, 0.0)),
        "server_peers": int(m1.get(PEERS, 0.0)),
        "server_processes": len(server_pids_end),
        "listeners_joined": sum(j["joined"] for j in joined),
        "listeners_without_media": sum(j["no_media"] for j in joined),
        "listeners_below_99pct": sum(1 for c in per_listener if c < 0.99 * per_speaker * min(cfg.speakers, SLOTS)),
        "join_errors": [e for j in joined for e in j["errors"]][:5],
        "srtp_errors": sum(r["errors"] for r in reports),
        "speaker_late_sends": sum(s.late for s in speakers),
        "speaker_states": speaker_states,
        "generators": len(workers),
        "server_rss_mb": round(rss_after / 2**20, 1),
        "subscribed": cfg.subscribed,
        # what the listeners' sockets received (0 when not subscribed): all messages and
        # "who is speaking" ones, per second summed over listeners, with the speakers
        # paused (idle) and talking (the window)
        **_signal_rates("idle", sig_idle0, sig_idle1, idle_wall),
        **_signal_rates("speech", sig0, sig1, wall),
        "listener_sockets_closed": sig1.get("closed", 0),
        # listeners' sockets open and in the room as the window closed (0 when not subscribed)
        "listener_sockets_in_room": sig1.get("in_room", 0),
        # other processes on the box compete for its cores: the 1-minute load average
        # as the window opened (the bench itself accounts for about 1 of it)
        "host_loadavg_1m": round(load_before, 2),
    }
