"""`parlor bench login-flood`: does a wrong-password flood slow everyone else down?

A node (`parlor serve`, trusting X-Forwarded-For from loopback so that the bench can
speak from several addresses) with seeded members and a few live rooms. A member
reads the hallway (GET /api/rooms) every 50 ms from one address: first with nothing
else going on (the baseline), then while another process floods POST /api/login with
wrong passwords for one account from another address, as fast as its answers come.

Argon2 costs ~50 ms of CPU per check, so an unthrottled flood holds the node's CPU;
the sign-in back-off (parlor/limits) refuses the flood before hashing. With
`--unthrottled` (the default) the same is measured on a second node whose sign-in
limits are set out of reach, for comparison, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from parlor.bench.node import Node
from parlor.bench.seed import Member, migrate, seed_members

PROBE_ADDRESS, FLOOD_ADDRESS = "10.0.0.1", "10.66.0.1"
PROBE_INTERVAL_S = 0.05
FLOOD_WARMUP_S = 1.0
ROOMS = 5
# Sign-in limits out of any flood's reach: the node as it was before throttling.
UNTHROTTLED = "sign_in_account=10000000/1,sign_in_address=10000000/1"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measurement window")
    p.add_argument("--flooders", type=int, default=8, help="concurrent wrong-password loops")
    p.add_argument(
        "--unthrottled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure a node with sign-in throttling out of reach (default: yes)",
    )
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        help="nice value for the node and the hallway reader, not the flood (negative needs root): "
        "keeps other work on a shared box out of the figures",
    )
    p.add_argument("--keep", action="store_true", help="keep the nodes' data dirs and logs")
    p.add_argument("--json", action="store_true", help="print only the JSON result")


# -- the flood, in a process of its own (so that the probe's timings are not its) -------------


def _flood(conn: Connection, url: str, username: str, flooders: int) -> None:
    # The flood stands for another machine: it does not share the node's priority (--nice).
    os.setpriority(os.PRIO_PROCESS, 0, max(0, os.getpriority(os.PRIO_PROCESS, 0)))
    conn.send(asyncio.run(_flood_until_told(conn, url, username, flooders)))


async def _flood_until_told(conn: Connection, url: str, username: str, flooders: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=flooders, max_keepalive_connections=flooders)
    async with httpx.AsyncClient(
        base_url=url, timeout=60.0, limits=limits, headers={"X-Forwarded-For": FLOOD_ADDRESS}
    ) as http:

        async def wrong_passwords() -> None:
            while not stop.is_set():
                r = await http.post("/api/login", json={"username": username, "password": "not the password"})
                statuses[r.status_code] += 1

        conn.send("ready")
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, conn.recv) == "go"
        started = time.monotonic()
        tasks = [asyncio.create_task(wrong_passwords()) for _ in range(flooders)]
        assert await loop.run_in_executor(None, conn.recv) == "stop"
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    attempts = sum(statuses.values())
    return {
        "seconds": round(elapsed, 2),
        "attempts": attempts,
        "attempts_per_s": round(attempts / elapsed, 1),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
    }


# -- the probe: a member reading the hallway --------------------------------------------------


async def _probe(http: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        r = await http.get("/api/rooms")
        r.raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(PROBE_INTERVAL_S)
    cuts = statistics.quantiles(latencies, n=20, method="inclusive")  # 5 % steps
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(cuts[18], 1),
        "max_ms": round(max(latencies), 1),
    }


async def _measure(node: Node, members: list[Member], seconds: float, flooders: int) -> dict[str, Any]:
    reader, victim, hosts = members[0], members[1], members[2:]
    async with httpx.AsyncClient(base_url=node.url, timeout=60.0) as http:
        for i, host in enumerate(hosts):
            r = await http.post(
                "/api/rooms",
                json={"title": f"Bench room {i}"},
                headers={"Authorization": f"Bearer {host.token}", "X-Forwarded-For": f"10.1.0.{i + 1}"},
            )
            r.raise_for_status()
    headers = {"Authorization": f"Bearer {reader.token}", "X-Forwarded-For": PROBE_ADDRESS}
    async with httpx.AsyncClient(base_url=node.url, timeout=60.0, headers=headers) as http:
        await _probe(http, 1.0)  # warm up
        baseline = await _probe(http, seconds)

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_flood, args=(child, node.url, victim.username, flooders), daemon=True)
        proc.start()
        loop = asyncio.get_running_loop()
        try:
            assert await loop.run_in_executor(None, parent.recv) == "ready"
            parent.send("go")
            await asyncio.sleep(FLOOD_WARMUP_S)
            during = await _probe(http, seconds)
            parent.send("stop")
            flood = await loop.run_in_executor(None, parent.recv)
        finally:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    return {"baseline": baseline, "during_flood": during, "flood": flood}


def _run_node(limits: str | None, seconds: float, flooders: int, nice: int, keep: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="parlor-bench-login-flood-"))
    try:
        migrate(data_dir)
        members = seed_members(data_dir, 2 + ROOMS)
        env = {"PARLOR_TRUSTED_PROXIES": "127.0.0.1"}
        if limits:
            env["PARLOR_LIMITS"] = limits
        node = Node(data_dir, workers=1, engine="fast", long_grace=False, env=env)
        try:
            if nice:
                os.setpriority(os.PRIO_PROCESS, node.pid, nice)  # threads it starts inherit it
            node.wait_ready()
            return asyncio.run(_measure(node, members, seconds, flooders))
        finally:
            node.stop()
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.seconds <= 1 or args.flooders < 1:
        raise ValueError("need more than a second per window and at least one flooder")
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # the hallway reader (PermissionError unless root)
    result: dict[str, Any] = {
        "bench": "login-flood",
        "seconds": args.seconds,
        "flooders": args.flooders,
        "nice": args.nice,
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "loadavg_before": list(os.getloadavg())},
        "throttled": _run_node(None, args.seconds, args.flooders, args.nice, args.keep),
    }
    if args.unthrottled:
        result["unthrottled"] = _run_node(UNTHROTTLED, args.seconds, args.flooders, args.nice, args.keep)
    result["machine"]["loadavg_after"] = list(os.getloadavg())
    return result


def main(args: argparse.Namespace) -> int:
    result = run(args)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0
