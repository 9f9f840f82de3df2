"""`parlor serve --workers N`: the media plane spread over N worker processes.

DESIGN §4 "Beyond one core". The main process keeps the HTTP/WebSocket side and this
pool, a MediaServer that owns no peer connection itself. Each worker
(`parlor.media.worker`) runs an Sfu; the pool places every new peer on the
least-loaded live worker, tells each worker which other workers have peers of the
same room (its relay targets) and who is audible there, and forwards the workers'
levels. A speaker's worker relays each admitted packet once to every other worker of
the room (UDP on 127.0.0.1, `relay_wire`); those fan it out to their own peers. The
first worker to get a peer of a room is its origin.

Control: one socketpair per worker, `control_wire` framing (JSON requests with ids,
responses, notifications, events). A worker that exits unexpectedly loses its peers:
the pool forgets them, calls `on_peer_lost(room, user)` for each (the client is told
to reconnect), recomputes the relay targets and starts a replacement.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlor.media.base import LevelsCallback, MediaError, MediaServer
from parlor.media.control_wire import ControlError, frame, read_message
from parlor.settings import Settings

logger = logging.getLogger(__name__)

PeerLostCallback = Callable[[str, str], None]
Addr = tuple[str, int]

START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 3.0
RESTART_DELAY_S = 0.5
RESTART_DELAY_MAX_S = 30.0
STABLE_AFTER_S = 10.0  # a worker that lived this long resets the restart back-off
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _RemoteMediaError(MediaError):
    def __init__(self, message: str, gone: bool) -> None:
        super().__init__(message)
        self.gone = gone


@dataclass(eq=False)
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    started_at: float
    relay: Addr | None = None
    alive: bool = True
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    @property
    def usable(self) -> bool:
        return self.alive and self.relay is not None


@dataclass(frozen=True)
class _Placement:
    index: int
    serial: int


class WorkerPool(MediaServer):
    def __init__(
        self,
        settings: Settings,
        *,
        on_levels: LevelsCallback | None = None,
        on_peer_lost: PeerLostCallback | None = None,
    ) -> None:
        self._settings = settings
        self._count = max(1, settings.worker_count)
        self._on_levels = on_levels
        self._on_peer_lost = on_peer_lost
        self._workers: list[_Worker | None] = [None] * self._count
        self._load = [0] * self._count
        self._failures = [0] * self._count
        self._placements: dict[tuple[str, str], _Placement] = {}
        self._members: dict[str, Counter[int]] = {}  # room -> {worker index: peers}
        self._audible: dict[str, frozenset[str]] = {}
        self._encrypted: set[str] = set()  # end-to-end encrypted rooms (Sfu.set_encrypted)
        self._origin: dict[str, int] = {}
        self._retired: Counter[str] = Counter()  # counters of workers that are gone
        self._procs: set[asyncio.subprocess.Process] = set()  # not reaped yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._serials = itertools.count(1)
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers (done lazily by the first peer; call it early to save that wait)."""
        if self._closed:
            raise MediaError("media is shutting down")
        if self._starting is None:
            self._starting = asyncio.create_task(self._start_all())
        await asyncio.shield(self._starting)
        if not any(w is not None and w.usable for w in self._workers):
            raise MediaError("no media worker is available")

    async def _start_all(self) -> None:
        await asyncio.gather(*(self._start_or_retry(i) for i in range(self._count)))

    async def _start_or_retry(self, index: int) -> None:
        before = self._workers[index]
        try:
            await self._spawn(index)
        except Exception as exc:
            logger.error("media worker %d did not start: %s", index, exc)
            if self._workers[index] is before:  # otherwise `_lost` schedules the restart
                self._schedule_restart(index, None)

    async def _spawn(self, index: int) -> None:
        config = {
            "index": index,
            "slots": self._settings.slots,
            "fanout": self._settings.fanout,
            "dtx": self._settings.opus_dtx,
            "ice_hosts": list(self._settings.ice_hosts),
            "udp_ports": list(self._settings.udp_ports) if self._settings.udp_ports else None,
            "udp_mux": self._settings.udp_mux,
            "log_level": self._settings.log_level,
        }
        env = dict(os.environ)
        src = _PACKAGE_ROOT  # so the child imports this very package
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        parent, child = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "parlor.media.worker",
                "--fd", str(child.fileno()), "--config", json.dumps(config),
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._procs.add(proc)
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        worker = _Worker(index, proc, reader, writer, time.monotonic())
        self._workers[index] = worker
        worker.task = asyncio.create_task(self._read_loop(worker))
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await worker.ready.wait()
        except TimeoutError:
            logger.error("media worker %d (pid %d) did not say hello; killing it", index, proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise MediaError("media worker did not start") from None
        if not worker.usable:
            raise MediaError(f"media worker exited while starting (status {proc.returncode})")
        logger.info("media worker %d started (pid %d, relay %s:%d)", index, proc.pid, *(worker.relay or ("", 0)))

    async def close(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        workers = [w for w in self._workers if w is not None]
        await asyncio.gather(*(self._shutdown(w) for w in workers if w.alive), return_exceptions=True)
        await asyncio.gather(*(self._reap(proc, SHUTDOWN_TIMEOUT_S) for proc in list(self._procs)))
        for worker in workers:
            worker.writer.close()
            if worker.task is not None:
                worker.task.cancel()
        await asyncio.gather(*(w.task for w in workers if w.task is not None), return_exceptions=True)
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.writer.wait_closed()
        self._placements.clear()
        self._members.clear()
        self._load = [0] * self._count

    async def _shutdown(self, worker: _Worker) -> None:
        with contextlib.suppress(MediaError):
            await self._request(worker, {"op": "shutdown"}, timeout=SHUTDOWN_TIMEOUT_S)

    async def _reap(self, proc: asyncio.subprocess.Process, grace: float) -> None:
        """Wait for the process to exit; terminate, then kill it if it does not."""
        try:
            for step in (None, signal.SIGTERM, signal.SIGKILL):
                if step is not None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(step)
                try:
                    async with asyncio.timeout(grace):
                        await proc.wait()
                    return
                except TimeoutError:
                    logger.warning("media worker pid %d did not exit; sending %s", proc.pid, step or "SIGTERM")
        finally:
            if proc.returncode is not None:
                self._procs.discard(proc)

    # --- MediaServer -----------------------------------------------------------------

    async def open_peer(self, room_id: str, user_id: str) -> str:
        await self.start()
        key = (room_id, user_id)
        old = self._placements.get(key)
        if old is not None:
            self._forget(key)
            await self._request_quietly(old.index, {"op": "close_peer", "room": room_id, "user": user_id})
        worker = self._least_loaded()
        if worker is None:
            raise MediaError("no media worker is available")
        placement = _Placement(worker.index, next(self._serials))
        self._place(key, placement)
        try:
            result = await self._request(
                worker, {"op": "open_peer", "room": room_id, "user": user_id, "serial": placement.serial}
            )
        except BaseException:
            if self._placements.get(key) == placement:
                self._forget(key)
                self._notify_close(worker, key, placement.serial)
            raise
        return str(result["sdp"])

    async def accept_answer(self, room_id: str, user_id: str, sdp: str) -> None:
        key = (room_id, user_id)
        placement = self._placements.get(key)
        worker = None if placement is None else self._workers[placement.index]
        if placement is None or worker is None or not worker.alive:
            raise MediaError("no media connection to answer")
        message = {"op": "accept_answer", "room": room_id, "user": user_id, "sdp": sdp, "serial": placement.serial}
        try:
            await self._request(worker, message)
        except _RemoteMediaError as exc:
            if exc.gone and self._placements.get(key) == placement:
                self._forget(key)
            raise

    def set_encrypted(self, room_id: str, encrypted: bool) -> None:
        if encrypted:
            self._encrypted.add(room_id)
        else:
            self._encrypted.discard(room_id)
        for index in self._members.get(room_id, ()):
            self._notify(index, {"op": "set_encrypted", "room": room_id, "encrypted": encrypted})

    def set_audible(self, room_id: str, user_ids: frozenset[str]) -> None:
        self._audible[room_id] = user_ids
        for index in self._members.get(room_id, ()):
            self._notify(index, {"op": "set_audible", "room": room_id, "users": sorted(user_ids)})

    async def close_peer(self, room_id: str, user_id: str) -> None:
        key = (room_id, user_id)
        placement = self._placements.get(key)
        if placement is not None:
            self._forget(key)
            await self._request_quietly(
                placement.index, {"op": "close_peer", "room": room_id, "user": user_id, "serial": placement.serial}
            )

    async def close_room(self, room_id: str) -> None:
        for key in [k for k in self._placements if k[0] == room_id]:
            self._forget(key)
        self._audible.pop(room_id, None)
        self._encrypted.discard(room_id)
        self._origin.pop(room_id, None)
        await asyncio.gather(
            *(
                self._request_quietly(w.index, {"op": "close_room", "room": room_id})
                for w in self._workers
                if w is not None and w.usable
            )
        )

    def peer_count(self) -> int:
        return len(self._placements)

    def totals(self) -> dict[str, int]:
        total = Counter(self._retired)
        for worker in self._workers:
            if worker is not None and worker.alive:
                total.update(worker.stats)
        total.pop("peers", None)
        return {"forwarded": 0, "dropped": 0, **total}

    # --- introspection and test hooks ------------------------------------------------

    def worker_of(self, room_id: str, user_id: str) -> int | None:
        placement = self._placements.get((room_id, user_id))
        return None if placement is None else placement.index

    def origin_of(self, room_id: str) -> int | None:
        """The worker that got the room's first peer, while it still has peers of it."""
        return self._origin.get(room_id)

    def worker_pids(self) -> list[int]:
        """Pids of the live workers, by index."""
        return [w.proc.pid for w in self._workers if w is not None and w.alive]

    def worker_relay(self, index: int) -> Addr | None:
        worker = self._workers[index]
        return None if worker is None or not worker.alive else worker.relay

    def worker_stats(self, index: int) -> dict[str, int]:
        """The worker's latest counters (peers, relayed, relay_received, relay_rejected, ...)."""
        worker = self._workers[index]
        return {} if worker is None or not worker.alive else dict(worker.stats)

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker (tests): its peers are lost, a replacement starts."""
        worker = self._workers[index]
        if worker is not None and worker.alive:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()

    # --- placement and relay targets ---------------------------------------------------

    def _least_loaded(self) -> _Worker | None:
        usable = [w for w in self._workers if w is not None and w.usable]
        return min(usable, key=lambda w: (self._load[w.index], w.index), default=None)

    def _place(self, key: tuple[str, str], placement: _Placement) -> None:
        room_id, index = key[0], placement.index
        self._placements[key] = placement
        self._load[index] += 1
        members = self._members.setdefault(room_id, Counter())
        self._origin.setdefault(room_id, index)
        members[index] += 1
        if members[index] == 1:  # the worker joins the room: audible set first, then targets
            if room_id in self._encrypted:
                self._notify(index, {"op": "set_encrypted", "room": room_id, "encrypted": True})
            audible = self._audible.get(room_id)
            if audible is not None:
                self._notify(index, {"op": "set_audible", "room": room_id, "users": sorted(audible)})
            self._push_targets(room_id)

    def _forget(self, key: tuple[str, str]) -> None:
        placement = self._placements.pop(key, None)
        if placement is None:
            return
        room_id, index = key[0], placement.index
        self._load[index] -= 1
        members = self._members[room_id]
        members[index] -= 1
        if members[index] > 0:
            return
        del members[index]
        self._notify(index, {"op": "targets", "room": room_id, "targets": []})
        if not members:
            del self._members[room_id]
            self._origin.pop(room_id, None)
        elif self._origin.get(room_id) == index:
            self._origin[room_id] = next(iter(members))
        self._push_targets(room_id)

    def _push_targets(self, room_id: str) -> None:
        relays = {
            i: w.relay
            for i in self._members.get(room_id, ())
            if (w := self._workers[i]) is not None and w.alive and w.relay is not None
        }
        for index in relays:
            targets = [list(addr) for i, addr in relays.items() if i != index]
            self._notify(index, {"op": "targets", "room": room_id, "targets": targets})

    def _push_workers(self) -> None:
        """Every worker accepts relayed packets only from these addresses."""
        relays = [list(w.relay) for w in self._workers if w is not None and w.alive and w.relay is not None]
        for worker in self._workers:
            if worker is not None and worker.alive:
                self._notify(worker.index, {"op": "workers", "relays": relays})

    # --- control channel -------------------------------------------------------------------

    def _notify(self, index: int, message: dict[str, Any]) -> None:
        worker = self._workers[index]
        if worker is not None and worker.alive and not worker.writer.is_closing():
            worker.writer.write(frame(message))

    def _notify_close(self, worker: _Worker, key: tuple[str, str], serial: int) -> None:
        task = asyncio.ensure_future(
            self._request_quietly(worker.index, {"op": "close_peer", "room": key[0], "user": key[1], "serial": serial})
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, worker: _Worker, message: dict[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> Any:
        if not worker.alive or worker.writer.is_closing():
            raise MediaError("media worker lost")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = future
        try:
            worker.writer.write(frame({**message, "id": request_id}))
            await worker.writer.drain()
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            logger.error("media worker %d did not answer %s in %.0fs", worker.index, message["op"], timeout)
            raise MediaError("media worker did not answer") from None
        except ConnectionError as exc:
            raise MediaError("media worker lost") from exc
        finally:
            worker.pending.pop(request_id, None)

    async def _request_quietly(self, index: int, message: dict[str, Any]) -> None:
        worker = self._workers[index]
        if worker is None or not worker.alive:
            return
        try:
            await self._request(worker, message)
        except MediaError as exc:
            logger.info("media worker %d: %s %s", index, message["op"], exc)

    async def _read_loop(self, worker: _Worker) -> None:
        try:
            while True:
                message = await read_message(worker.reader)
                if message is None:
                    break
                self._on_message(worker, message)
        except (ControlError, ConnectionError) as exc:
            logger.error("media worker %d: control connection broken: %s", worker.index, exc)
        finally:
            self._lost(worker)

    def _on_message(self, worker: _Worker, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if request_id is not None:
            future = worker.pending.get(request_id)
            if future is None or future.done():
                return
            if message.get("ok"):
                future.set_result(message.get("result"))
            elif message.get("media"):
                future.set_exception(_RemoteMediaError(str(message.get("error")), bool(message.get("gone"))))
            else:
                future.set_exception(MediaError(f"media worker error: {message.get('error')}"))
            return
        event = message.get("ev")
        if event == "levels":
            if self._on_levels is not None:
                try:
                    self._on_levels(str(message["room"]), dict(message["levels"]))
                except Exception:
                    logger.exception("levels callback failed")
        elif event == "stats":
            worker.stats = {k: int(v) for k, v in message.items() if k != "ev"}
        elif event == "gone":  # the peer failed or closed on its own
            key = (str(message["room"]), str(message["user"]))
            if self._placements.get(key) == _Placement(worker.index, int(message["serial"])):
                self._forget(key)
        elif event == "hello":
            worker.relay = (str(message["relay"][0]), int(message["relay"][1]))
            worker.ready.set()
            self._push_workers()
        else:
            logger.warning("media worker %d sent unknown event %r", worker.index, event)

    def _lost(self, worker: _Worker) -> None:
        """The worker's control connection ended: it exited, or is about to."""
        if not worker.alive:
            return
        worker.alive = False
        worker.ready.set()  # wakes a start waiting for hello
        worker.writer.close()
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(MediaError("media worker lost"))
        stats = dict(worker.stats)
        stats.pop("peers", None)
        self._retired.update(stats)
        lost = [key for key, placement in self._placements.items() if placement.index == worker.index]
        for key in lost:
            self._forget(key)
        if self._closed:
            return
        logger.error(
            "media worker %d (pid %d) is gone; %d peers to reconnect", worker.index, worker.proc.pid, len(lost)
        )
        self._push_workers()
        if self._on_peer_lost is not None:
            for room_id, user_id in lost:
                try:
                    self._on_peer_lost(room_id, user_id)
                except Exception:
                    logger.exception("peer-lost callback failed for %s in %s", user_id, room_id)
        self._schedule_restart(worker.index, worker)

    def _schedule_restart(self, index: int, old: _Worker | None) -> None:
        if self._closed:
            return
        if old is not None and time.monotonic() - old.started_at >= STABLE_AFTER_S:
            self._failures[index] = 0
        delay = min(RESTART_DELAY_MAX_S, RESTART_DELAY_S * 2 ** self._failures[index])
        self._failures[index] += 1

        async def restart() -> None:
            if old is not None:
                await self._reap(old.proc, SHUTDOWN_TIMEOUT_S)
            await asyncio.sleep(delay)
            await self._start_or_retry(index)

        task = asyncio.ensure_future(restart())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
