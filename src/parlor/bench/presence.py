"""`parlor bench presence`: what a big room's presence costs each listener's socket.

One room, no media. A moderator opens it over REST; N listeners (seeded members, bearer
tokens) each open a real WebSocket to the node, say hello, join over REST and subscribe,
as a browser does, and stay connected, acking their events once a second. The sockets
live in generator processes (raw `websockets`, one task per socket, nothing parsed but
event ids), apart from the node. The scenario, phase by phase:

  join   the listeners join, `--concurrency` at a time per generator
  hands  `--hands` listeners raise a hand, one every `--hand-every` s, then lower it
  storm  every listener reacts (a random emoji) once a second on average for `--storm-s`
  leave  `--leave-pct` % of the listeners leave (REST, then close), spread over 3 s

Each socket counts the frames it receives per second. Reported: messages per client per
second, average and p99 over clients, over the whole scenario (from its subscription
to its leave or the end) and per phase; the node's CPU per join (utime+stime of `parlor
serve` and its descendants during the join phase / joins); what the reactions added up
to. Acceptance (issue 11): average ≤ 5 and p99 ≤ 20 messages per client per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from parlor.bench import procs
from parlor.bench.generator import raise_fd_limit
from parlor.bench.node import Node
from parlor.bench.seed import Member, migrate, seed_members

EMOJI = ("👏", "❤️", "😂", "🔥", "👍", "🙌")
AVG_MAX, P99_MAX = 5.0, 20.0
PHASES = ("join", "hands", "storm", "leave")
_EVENT_PREFIX = '{"type":"event","id":'


@dataclass(frozen=True)
class PresenceConfig:
    listeners: int = 200
    generators: int = 2
    concurrency: int = 20
    hands: int = 10
    hand_every_s: float = 0.5
    storm_s: float = 10.0
    leave_pct: float = 10.0
    settle_s: float = 2.0
    keep: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listeners", type=int, default=200)
    p.add_argument("--generators", type=int, default=2, help="socket generator processes")
    p.add_argument("--concurrency", type=int, default=20, help="joins at a time per generator")
    p.add_argument("--hands", type=int, default=10, help="listeners who raise (then lower) a hand")
    p.add_argument("--hand-every", type=float, default=0.5, help="seconds between two hands going up")
    p.add_argument("--storm-s", type=float, default=10.0, help="length of the reaction storm")
    p.add_argument("--leave-pct", type=float, default=10.0, help="listeners who leave at the end, in %%")
    p.add_argument("--keep", action="store_true", help="keep the node's data dir and log")
    p.add_argument("--json", action="store_true", help="print only the JSON result")


# --- generator process -----------------------------------------------------------------


@dataclass
class _Client:
    member: Member
    ws: Any = None
    # frames received, per whole second of the monotonic clock
    seconds: dict[int, int] = field(default_factory=dict)
    subscribed_at: float | None = None
    left_at: float | None = None
    last_event: int = 0
    acked: int = 0
    reactions_seen: int = 0
    error: str | None = None
    # how the node closed this socket, if it did before the client left
    closed: str | None = None


def _generate(conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int) -> None:
    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_generate_main(conn, base_url, room_id, members, concurrency))


async def _read(client: _Client, watcher: bool) -> None:
    import websockets

    ws = client.ws
    with_reactions = '"type":"reactions"'
    try:
        async for text in ws:
            second = int(time.monotonic())
            client.seconds[second] = client.seconds.get(second, 0) + 1
            if isinstance(text, str) and text.startswith(_EVENT_PREFIX):
                client.last_event = int(text[len(_EVENT_PREFIX) : text.index(",", len(_EVENT_PREFIX))])
            elif watcher and isinstance(text, str) and with_reactions in text:
                client.reactions_seen += sum(json.loads(text)["counts"].values())
    except websockets.ConnectionClosed as exc:
        if client.left_at is None:
            rcvd = exc.rcvd
            client.closed = f"{rcvd.code} {rcvd.reason}" if rcvd is not None else "no close frame"


async def _upkeep(client: _Client) -> None:
    """A client's own heartbeat, on its own timer as each browser page has: acks once a
    second (as the web client), a ping every 5 s (a socket silent for 7 s shows its
    user's link as poor to the room, transport/ws/endpoint.py)."""
    ticks = 0
    await asyncio.sleep(random.random())  # pages do not tick in step
    while client.left_at is None:
        await asyncio.sleep(1.0)
        ticks += 1
        try:
            if client.last_event > client.acked:
                client.acked = client.last_event
                await client.ws.send(f'{{"type":"ack","event_id":{client.acked}}}')
            if ticks % 5 == 0:
                await client.ws.send('{"type":"ping"}')
        except Exception:  # closed: its reader ends too
            return


async def _generate_main(
    conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int
) -> None:
    import websockets

    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    clients = [_Client(m) for m in members]
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0, limits=limits) as http:

        async def join(i: int, c: _Client) -> None:
            async with gate:
                try:
                    headers = {"Authorization": f"Bearer {c.member.token}"}
                    c.ws = await websockets.connect(
                        ws_url, additional_headers=headers, compression=None, open_timeout=120, max_size=2**22
                    )
                    await c.ws.send('{"type":"hello"}')
                    await c.ws.recv()
                    # The heartbeat starts with the socket, as a page's does: a join that
                    # takes long on a busy node must not leave the socket silent meanwhile.
                    readers.append(asyncio.create_task(_upkeep(c)))
                    r = await http.post(f"/api/rooms/{room_id}/join", headers=headers)
                    r.raise_for_status()
                    readers.append(asyncio.create_task(_read(c, watcher=i == 0)))
                    await c.ws.send(json.dumps({"type": "subscribe", "room_id": room_id}))
                    c.subscribed_at = time.monotonic()
                except Exception as exc:  # counted, not fatal
                    c.error = repr(exc)[:200]

        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            live = [c for c in clients if c.subscribed_at is not None and c.left_at is None]
            if command == "join":
                await asyncio.gather(*(join(i, c) for i, c in enumerate(clients)))
                failed = [c.error for c in clients if c.error]
                joined = {"joined": len(clients) - len(failed), "failed": len(failed), "errors": failed[:3]}
                conn.send(("joined", joined))
            elif command == "hands":
                count, every = arg
                raised = live[1 : 1 + count]
                for c in raised:
                    await _post(http, c, room_id, "hand", {"raised": True})
                    await asyncio.sleep(every)
                for c in raised:
                    await _post(http, c, room_id, "hand", {"raised": False})
                    await asyncio.sleep(every)
                conn.send(("done", {"hands": len(raised)}))
            elif command == "storm":
                seconds = arg
                sent = await _storm(live, room_id, seconds)
                conn.send(("done", {"reactions_sent": sent}))
            elif command == "leave":
                share = arg
                leaving = live[len(live) - int(len(live) * share) :]
                spread = 3.0 / max(1, len(leaving))
                for c in leaving:
                    await _post(http, c, room_id, "leave", None)
                    c.left_at = time.monotonic()
                    await c.ws.close()
                    await asyncio.sleep(spread)
                conn.send(("done", {"left": len(leaving)}))
            elif command == "report":
                conn.send(("report", _report(clients)))
            elif command == "exit":
                break
        for c in clients:
            if c.ws is not None and c.left_at is None:
                await c.ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def _post(http: httpx.AsyncClient, c: _Client, room_id: str, action: str, body: Any) -> None:
    headers = {"Authorization": f"Bearer {c.member.token}"}
    r = await http.post(f"/api/rooms/{room_id}/{action}", json=body, headers=headers)
    r.raise_for_status()


async def _storm(clients: list[_Client], room_id: str, seconds: float) -> int:
    """Each client reacts at random moments, once a second on average."""
    sent = 0
    rng = random.Random(7)
    end = time.monotonic() + seconds

    async def one(c: _Client) -> None:
        nonlocal sent
        await asyncio.sleep(rng.random())
        while time.monotonic() < end:
            try:
                await c.ws.send(json.dumps({"type": "react", "room_id": room_id, "emoji": rng.choice(EMOJI)}))
                sent += 1
            except Exception:
                return
            await asyncio.sleep(rng.uniform(0.5, 1.5))

    await asyncio.gather(*(one(c) for c in clients))
    return sent


def _report(clients: list[_Client]) -> dict[str, Any]:
    return {
        "clients": [
            {"seconds": c.seconds, "subscribed_at": c.subscribed_at, "left_at": c.left_at}
            for c in clients
            if c.subscribed_at is not None
        ],
        "reactions_seen": max((c.reactions_seen for c in clients), default=0),
        "closed": dict(Counter(c.closed for c in clients if c.closed)),
    }


# --- orchestrator ------------------------------------------------------------------------


def _rates(clients: list[dict[str, Any]], start: float, end: float) -> list[float]:
    """Frames per second for each client present in [start, end) (whole-second buckets)."""
    rates = []
    for c in clients:
        lo = max(start, c["subscribed_at"])
        hi = min(end, c["left_at"] or end)
        first, last = int(lo), int(hi)
        if last - first < 1:
            continue
        got = sum(n for s, n in c["seconds"].items() if first <= int(s) < last)
        rates.append(got / (last - first))
    return rates


def _summary(rates: list[float]) -> dict[str, float | int | None]:
    if not rates:
        return {"clients": 0, "avg": None, "p99": None, "max": None}
    ordered = sorted(rates)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "clients": len(rates),
        "avg": round(sum(rates) / len(rates), 2),
        "p99": round(p99, 2),
        "max": round(ordered[-1], 2),
    }


def run_presence(cfg: PresenceConfig) -> dict[str, Any]:
    if cfg.listeners < 2:
        raise ValueError("need at least two listeners")
    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="parlor-bench-presence-"))
    try:
        migrate(data_dir)
        members = seed_members(data_dir, cfg.listeners + 1)
        env = {"PARLOR_ROOM_CAPACITY": str(cfg.listeners + 10)}
        node = Node(data_dir, workers=1, engine="fast", env=env)
        try:
            node.wait_ready()
            return asyncio.run(_orchestrate(cfg, node, members))
        finally:
            node.stop()
    finally:
        if not cfg.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _ask(workers: list[tuple[Any, Any]], command: str, arg: Any = None) -> list[Any]:
    loop = asyncio.get_running_loop()
    for _proc, pipe in workers:
        pipe.send((command, arg))
    answers = []
    for _proc, pipe in workers:
        _tag, payload = await loop.run_in_executor(None, pipe.recv)
        answers.append(payload)
    return answers


async def _orchestrate(cfg: PresenceConfig, node: Node, members: list[Member]) -> dict[str, Any]:
    moderator, listeners = members[0], members[1:]
    async with httpx.AsyncClient(base_url=node.url, timeout=60.0) as http:
        r = await http.post(
            "/api/rooms", json={"title": "presence"}, headers={"Authorization": f"Bearer {moderator.token}"}
        )
        r.raise_for_status()
        room_id = str(r.json()["id"])
    ctx = multiprocessing.get_context("spawn")
    workers = []
    for g in range(cfg.generators):
        share = listeners[g :: cfg.generators]
        if share:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_generate, args=(child, node.url, room_id, share, cfg.concurrency), daemon=True)
            proc.start()
            workers.append((proc, parent))
    pids = [node.pid]
    cpu: dict[str, float] = {}
    marks: dict[str, tuple[float, float]] = {}
    outcome: dict[str, Any] = {}
    try:

        async def phase(name: str, command: str, arg: Any = None) -> list[Any]:
            nonlocal pids
            pids = procs.descendants(node.pid)
            c0, t0 = procs.cpu_seconds(pids), time.monotonic()
            answers = await _ask(workers, command, arg)
            c1, t1 = procs.cpu_seconds(pids), time.monotonic()
            cpu[name], marks[name] = c1 - c0, (t0, t1)
            await asyncio.sleep(cfg.settle_s)
            return answers

        joined = await phase("join", "join")
        outcome["joined"] = sum(j["joined"] for j in joined)
        outcome["join_failed"] = sum(j["failed"] for j in joined)
        outcome["join_errors"] = [e for j in joined for e in j["errors"]][:3]
        per_generator = max(1, cfg.hands // max(1, len(workers)))
        await phase("hands", "hands", (per_generator, cfg.hand_every_s))
        storm = await phase("storm", "storm", cfg.storm_s)
        outcome["reactions_sent"] = sum(s["reactions_sent"] for s in storm)
        await phase("leave", "leave", cfg.leave_pct / 100)
        reports = await _ask(workers, "report")
    finally:
        for _proc, pipe in workers:
            pipe.send(("exit", None))
        loop = asyncio.get_running_loop()
        for proc, _pipe in workers:
            await loop.run_in_executor(None, proc.join, 30)
            if proc.is_alive():
                proc.kill()
                proc.join()

    clients = [c for rep in reports for c in rep["clients"]]
    start, end = min(t0 for t0, _ in marks.values()), max(t1 for _, t1 in marks.values())
    overall = _summary(_rates(clients, start, end))
    phases = {name: _summary(_rates(clients, *marks[name])) for name in PHASES}
    joins = max(1, outcome["joined"])
    avg, p99 = overall["avg"], overall["p99"]
    return {
        "bench": "presence",
        "listeners": cfg.listeners,
        **outcome,
        "msgs_per_client_s": overall,
        "msgs_per_client_s_by_phase": phases,
        "node_cpu_ms_per_join": round(cpu["join"] * 1000 / joins, 2),
        "node_cpu_pct_by_phase": {
            name: round(cpu[name] * 100 / max(1e-9, marks[name][1] - marks[name][0]), 1) for name in PHASES
        },
        "phase_s": {name: round(marks[name][1] - marks[name][0], 1) for name in PHASES},
        "reactions_delivered_to_one_client": max(rep["reactions_seen"] for rep in reports),
        # sockets the node closed before their client left, by close code and reason
        "closed_by_node": dict(sum((Counter(rep["closed"]) for rep in reports), Counter())),
        "generators": len(workers),
        "within_bounds": avg is not None and p99 is not None and avg <= AVG_MAX and p99 <= P99_MAX,
        "bounds": {"avg": AVG_MAX, "p99": P99_MAX},
    }


def main(args: argparse.Namespace) -> int:
    cfg = PresenceConfig(
        listeners=args.listeners,
        generators=args.generators,
        concurrency=args.concurrency,
        hands=args.hands,
        hand_every_s=args.hand_every,
        storm_s=args.storm_s,
        leave_pct=args.leave_pct,
        keep=args.keep,
    )
    result = run_presence(cfg)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0
