"""`parlor bench idle`: what keeping N connected, silent peers alive costs the node.

One room, no speakers: a moderator opens it over REST (no media), then N lean
listeners (`parlor.bench.lean.connect`, the fan-out bench's listener, in generator
processes) join and get media up. Once all are connected and a settle time has
passed, the node's CPU (utime+stime of `parlor serve` and its descendants, from /proc)
is read over `seconds`:

    idle_cpu_us_per_peer_per_s = server CPU µs / peers / seconds

Nothing is forwarded in the window, so everything measured is per-peer upkeep:
RTCP loops, incoming RTCP, ICE consent checks, timers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from parlor.bench import procs
from parlor.bench.fanout import PEERS
from parlor.bench.generator import raise_fd_limit
from parlor.bench.lean import Peer, connect
from parlor.bench.node import Node, metrics
from parlor.bench.procs import stop_generators
from parlor.bench.seed import Member, migrate, seed_members

SETTLE_S = 3.0


@dataclass(frozen=True)
class IdleConfig:
    peers: int = 100
    seconds: float = 10.0
    workers: int = 1
    generators: int = 1
    concurrency: int = 25
    keep: bool = False


# --- generator process ---------------------------------------------------------------


def _generate(conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int) -> None:
    """Process entry point: connect `members`, report, stay connected until told to exit."""
    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.ERROR)
    try:
        import uvloop

        uvloop.run(_generate_main(conn, base_url, room_id, members, concurrency))
    except ImportError:  # pragma: no cover
        asyncio.run(_generate_main(conn, base_url, room_id, members, concurrency))


async def _generate_main(
    conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int
) -> None:
    peers: list[Peer] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as http:

        async def join(member: Member) -> None:
            async with gate:
                try:
                    peers.append(await connect(base_url, http, member, room_id))
                except Exception as exc:  # counted, not fatal
                    errors.append(f"{member.username}: {exc!r}")

        await asyncio.gather(*(join(m) for m in members))
    conn.send(("joined", {"joined": len(peers), "failed": len(errors), "errors": errors[:5]}))
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "states":
            states: dict[str, int] = {}
            for peer in peers:
                states[peer.pc.connectionState] = states.get(peer.pc.connectionState, 0) + 1
            conn.send(("states", states))
        elif command == "exit":
            break
    await asyncio.gather(*(peer.pc.close() for peer in peers), return_exceptions=True)


# --- orchestrator ----------------------------------------------------------------------


def run_idle(cfg: IdleConfig) -> dict[str, Any]:
    if cfg.peers < 1 or cfg.seconds <= 0:
        raise ValueError("need at least one peer and a positive duration")
    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="parlor-bench-idle-"))
    try:
        migrate(data_dir)
        members = seed_members(data_dir, cfg.peers + 1)
        node = Node(data_dir, workers=cfg.workers, engine="fast")
        try:
            node.wait_ready()
            return asyncio.run(_orchestrate(cfg, node, members))
        finally:
            node.stop()
    finally:
        if not cfg.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _orchestrate(cfg: IdleConfig, node: Node, members: list[Member]) -> dict[str, Any]:
    moderator, listeners = members[0], members[1:]
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=node.url, timeout=60.0) as http:
        r = await http.post(
            "/api/rooms", json={"title": "idle"}, headers={"Authorization": f"Bearer {moderator.token}"}
        )
        r.raise_for_status()
        room_id = str(r.json()["id"])
        cpu_empty0, t_empty0 = procs.tree_cpu_seconds(node.pid), time.monotonic()
        await asyncio.sleep(min(cfg.seconds, 3.0))
        empty_cpu_pct = (procs.tree_cpu_seconds(node.pid) - cpu_empty0) * 100 / (time.monotonic() - t_empty0)

        ctx = multiprocessing.get_context("spawn")
        workers = []
        for g in range(cfg.generators):
            share = listeners[g :: cfg.generators]
            if not share:
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_generate, args=(child, node.url, room_id, share, cfg.concurrency), daemon=True)
            proc.start()
            workers.append((proc, parent))
        joined: list[dict[str, Any]] = []
        try:
            started = time.monotonic()
            for _proc, pipe in workers:
                tag, payload = await loop.run_in_executor(None, pipe.recv)
                assert tag == "joined"
                joined.append(payload)
            join_wall_s = time.monotonic() - started
            await asyncio.sleep(SETTLE_S)

            pids = procs.descendants(node.pid)
            gen_pids = [proc.pid for proc, _ in workers if proc.pid is not None]
            peers0 = (await metrics(http)).get(PEERS, 0.0)
            load_before = os.getloadavg()
            cpu0, gen0, t0 = procs.cpu_seconds(pids), procs.cpu_seconds(gen_pids), time.monotonic()
            # progress on stderr (also what an outside profiler waits for)
            logging.getLogger(__name__).info("window open: %s s, %d peers", cfg.seconds, int(peers0))
            await asyncio.sleep(cfg.seconds)
            cpu1, gen1, t1 = procs.cpu_seconds(pids), procs.cpu_seconds(gen_pids), time.monotonic()
            load_after = os.getloadavg()
            peers1 = (await metrics(http)).get(PEERS, 0.0)
            states: dict[str, int] = {}
            for _proc, pipe in workers:
                pipe.send("states")
                tag, payload = await loop.run_in_executor(None, pipe.recv)
                assert tag == "states"
                for k, v in payload.items():
                    states[k] = states.get(k, 0) + v
        finally:
            await stop_generators(workers, 15.0)

    wall = t1 - t0
    connected = sum(j["joined"] for j in joined)
    server_cpu_us = (cpu1 - cpu0) * 1e6
    return {
        "peers": cfg.peers,
        "peers_connected": connected,
        "server_peers": int(peers1),
        "server_peers_at_start": int(peers0),
        "peer_states": states,
        "seconds": round(wall, 3),
        "idle_cpu_us_per_peer_per_s": round(server_cpu_us / max(1, connected) / wall, 1) if connected else None,
        "server_cpu_pct": round(server_cpu_us / 1e4 / wall, 2),
        "server_empty_room_cpu_pct": round(empty_cpu_pct, 2),
        "generator_cpu_pct": round((gen1 - gen0) * 100 / wall, 1),
        "join_wall_s": round(join_wall_s, 1),
        "join_failed": sum(j["failed"] for j in joined),
        "join_errors": [e for j in joined for e in j["errors"]][:5],
        "workers": cfg.workers,
        "generators": len(workers),
        "host_loadavg_before": [round(x, 2) for x in load_before],
        "host_loadavg_after": [round(x, 2) for x in load_after],
    }


# --- CLI -----------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    cfg = IdleConfig(
        peers=args.peers,
        seconds=args.seconds,
        workers=args.workers,
        generators=args.generators,
        concurrency=args.concurrency,
        keep=args.keep,
    )
    result = run_idle(cfg)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0
