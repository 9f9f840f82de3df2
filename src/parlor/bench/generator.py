"""A generator process: joins its share of the listeners and counts what they receive.

Runs in its own process (multiprocessing, spawn) so several of them share the
receive load. Talks to the orchestrator over a pipe:
  → ("joined", {...})   once its listeners joined and got their first packet (or gave up)
  ← "signals"           → ("signals", {...}) what the subscribed sockets received so far
  ← "report"            → ("report", {...}) counts and latency samples of the window
  ← "exit"
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from multiprocessing.connection import Connection

import httpx

from parlor.bench.lean import Peer, RxStats, SignalStats, SocketPoller, _dtls, connect
from parlor.bench.seed import Member
from parlor.media import aiortc_private as priv

logger = logging.getLogger(__name__)

FIRST_PACKET_WAIT_S = 10.0


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(
    conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int, subscribed: bool = True
) -> None:
    """Process entry point."""
    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.ERROR)
    # asyncio's own loop, not uvloop: SocketPoller takes sockets off its selector
    asyncio.run(_main(conn, base_url, room_id, members, concurrency, subscribed))


async def _main(
    conn: Connection, base_url: str, room_id: str, members: list[Member], concurrency: int, subscribed: bool
) -> None:
    stats = RxStats(len(members))
    signals = SignalStats() if subscribed else None
    poller = SocketPoller(stats)
    peers: list[Peer | None] = [None] * len(members)
    join_errors: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as http:

        async def join(index: int) -> None:
            async with gate:
                try:
                    peers[index] = await connect(
                        base_url, http, members[index], room_id, subscribe=signals,
                        on_connected=lambda peer: poller.add(peer.pc, index),
                    )
                except Exception as exc:  # a failed join is counted and reported, not fatal
                    join_errors.append(f"{members[index].username}: {exc!r}")

        await asyncio.gather(*(join(i) for i in range(len(members))))

    deadline = time.monotonic() + FIRST_PACKET_WAIT_S
    while time.monotonic() < deadline and not all(
        stats.first_rx[i] for i, peer in enumerate(peers) if peer is not None
    ):
        await asyncio.sleep(0.1)
    join_s = [stats.first_rx[i] - peer.started for i, peer in enumerate(peers) if peer and stats.first_rx[i]]
    connect_s = [peer.connected_at - peer.started for peer in peers if peer]
    conn.send(
        (
            "joined",
            {
                "joined": sum(1 for peer in peers if peer),
                "no_media": sum(1 for i, peer in enumerate(peers) if peer and not stats.first_rx[i]),
                "join_s": join_s,
                "connect_s": connect_s,
                "errors": join_errors[:5],
                "failed": len(join_errors),
            },
        )
    )
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "signals":
            conn.send(("signals", signals.snapshot() if signals is not None else {}))
        elif command == "report":
            counts = [stats.counts[i] for i, peer in enumerate(peers) if peer]
            conn.send(
                (
                    "report",
                    {
                        "received": sum(counts),
                        "per_listener": counts,
                        "latency_us": stats.latency_us.tobytes(),
                        "errors": stats.errors,
                        "foreign": stats.foreign,
                        "warmup": stats.warmup,
                        "states": _states(peers),
                        # where each listener receives: `parlor bench fanout`'s floor sends there
                        "addrs": [a for a in (_local_addr(peer) for peer in peers if peer) if a is not None],
                    },
                )
            )
        elif command == "exit":
            break
    await poller.close()
    for peer in peers:
        if peer is not None and peer.signalling is not None:
            await peer.signalling.close()


def _local_addr(peer: Peer) -> tuple[str, int] | None:
    return priv.nominated_local_addr(_dtls(peer.pc))


def _states(peers: list[Peer | None]) -> dict[str, int]:
    states: dict[str, int] = {}
    for peer in peers:
        if peer is not None:
            states[peer.pc.connectionState] = states.get(peer.pc.connectionState, 0) + 1
    return states

