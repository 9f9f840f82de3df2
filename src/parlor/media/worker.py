"""One media worker process: an Sfu, its control connection to the pool, its relay socket.

Started by `parlor.media.workers.WorkerPool` as

    python -m parlor.media.worker --fd N --config '{"index": 0, "slots": 3, "ice_hosts": [...]}'

where fd N is this end of a socketpair (the control channel, `control_wire` framing).
The worker serves the pool's requests with its Sfu, reports levels, peers that dropped
on their own and counters as events, relays every admitted packet of a local speaker
to the other workers of the room (`relay_wire` over UDP on 127.0.0.1), and fans out the
packets they relay to it. It exits when the control connection closes, so it never
outlives the main process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

from parlor.media import relay_wire
from parlor.media.base import MediaError
from parlor.media.control_wire import ControlError, frame, read_message
from parlor.media.sfu import Sfu

logger = logging.getLogger(__name__)

TICK_S = 0.5
RELAY_RCVBUF = 1 << 20

Addr = tuple[str, int]
Deliver = Callable[[str, str, bytes], None]



def _port_range(raw: Any) -> tuple[int, int] | None:
    """The pool's `udp_ports` ([first, last] in JSON, or null)."""
    return (int(raw[0]), int(raw[1])) if raw else None

class RelayReceiver(asyncio.DatagramProtocol):
    """Packets relayed by other workers: accepted only from their relay addresses."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.allowed: frozenset[Addr] = frozenset()
        self.received = 0
        self.rejected = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if (addr[0], addr[1]) not in self.allowed:
            self.rejected += 1
            return
        parsed = relay_wire.decode(data)
        if parsed is None:
            self.rejected += 1
            return
        self.received += 1
        try:
            self._deliver(*parsed)
        except Exception:
            logger.exception("delivering a relayed packet failed")


class RelaySender:
    """`Sfu(on_upstream=...)`: send each admitted local packet once to every other worker of the room."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._targets: dict[str, tuple[Addr, ...]] = {}
        self._headers: dict[str, dict[str, bytes]] = {}
        self.sent = 0
        self.dropped = 0

    def set_targets(self, room_id: str, targets: list[Addr]) -> None:
        self._headers.pop(room_id, None)
        if targets:
            self._targets[room_id] = tuple(targets)
        else:
            self._targets.pop(room_id, None)

    def __call__(self, room_id: str, speaker_id: str, rtp: bytes) -> None:
        targets = self._targets.get(room_id)
        if not targets:
            return
        headers = self._headers.setdefault(room_id, {})
        head = headers.get(speaker_id)
        if head is None:
            head = headers[speaker_id] = relay_wire.header(room_id, speaker_id)
        data = head + rtp
        for addr in targets:
            try:
                self._sock.sendto(data, addr)
            except OSError:  # BlockingIOError (buffer full) included: drop, never wait
                self.dropped += 1
            else:
                self.sent += 1


def _addr(raw: Any) -> Addr:
    return (str(raw[0]), int(raw[1]))


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: dict[str, Any]) -> None:
        self._reader = reader
        self._writer = writer
        self._config = config
        # (room, user) -> [serial, ready]; ready once open_peer returned
        self._opened: dict[tuple[str, str], list[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RELAY_RCVBUF)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        self.sender = RelaySender(sock)
        self.sfu = Sfu(
            ice_hosts=tuple(self._config.get("ice_hosts", ())),
            slots=int(self._config.get("slots", 3)),
            fanout=str(self._config.get("fanout", "auto")),
            udp_ports=_port_range(self._config.get("udp_ports")),
            udp_mux=bool(self._config.get("udp_mux", True)),
            dtx=bool(self._config.get("dtx", True)),
            on_levels=self._on_levels,
            on_upstream=self.sender,
        )
        transport, self.receiver = await loop.create_datagram_endpoint(
            lambda: RelayReceiver(self.sfu.deliver), sock=sock
        )
        self._event({"ev": "hello", "pid": os.getpid(), "relay": list(sock.getsockname())})
        ticker = asyncio.create_task(self._tick())
        shutdown_id: Any = None
        try:
            while True:
                message = await read_message(self._reader)
                if message is None:
                    break
                if message.get("op") == "shutdown":
                    shutdown_id = message.get("id")
                    break
                try:
                    self._dispatch(message)
                except (KeyError, TypeError, ValueError, IndexError):
                    logger.exception("bad control message %r", message.get("op"))
        except (ControlError, ConnectionError) as exc:
            logger.error("control connection broken: %s", exc)
        finally:
            ticker.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(ticker, *self._tasks, return_exceptions=True)
            await self.sfu.close()
            transport.close()
            if shutdown_id is not None:
                self._send({"id": shutdown_id, "ok": True, "result": None})
                with contextlib.suppress(ConnectionError):
                    await self._writer.drain()
            self._writer.close()

    # --- control -------------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "set_audible":
            self.sfu.set_audible(str(message["room"]), frozenset(str(u) for u in message["users"]))
        elif op == "set_encrypted":
            self.sfu.set_encrypted(str(message["room"]), bool(message["encrypted"]))
        elif op == "targets":
            self.sender.set_targets(str(message["room"]), [_addr(a) for a in message["targets"]])
        elif op == "workers":
            self.receiver.allowed = frozenset(_addr(a) for a in message["relays"])
        elif "id" in message:
            task = asyncio.create_task(self._serve(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            logger.warning("ignoring control message %r", op)

    async def _serve(self, message: dict[str, Any]) -> None:
        try:
            result = await self._handle(message)
        except MediaError as exc:
            key = (str(message.get("room")), str(message.get("user")))
            gone = self.sfu.peer_connection(*key) is None
            if gone:
                self._opened.pop(key, None)
            self._send({"id": message["id"], "ok": False, "error": str(exc), "media": True, "gone": gone})
        except Exception as exc:
            logger.exception("control request %r failed", message.get("op"))
            self._send({"id": message["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}", "media": False})
        else:
            self._send({"id": message["id"], "ok": True, "result": result})

    async def _handle(self, message: dict[str, Any]) -> Any:
        op = message["op"]
        if op == "close_room":
            room_id = str(message["room"])
            for key in [k for k in self._opened if k[0] == room_id]:
                del self._opened[key]
            self.sender.set_targets(room_id, [])
            await self.sfu.close_room(room_id)
            return None
        key = (str(message["room"]), str(message["user"]))
        serial = message.get("serial")
        if op == "open_peer":
            self._opened[key] = [serial, False]
            try:
                sdp = await self.sfu.open_peer(*key)
            except BaseException:
                if self._opened.get(key, [None])[0] == serial:
                    del self._opened[key]
                raise
            entry = self._opened.get(key)
            if entry is None or entry[0] != serial:  # closed or replaced meanwhile
                if entry is None:
                    await self.sfu.close_peer(*key)
                raise MediaError("media connection closed while opening")
            entry[1] = True
            return {"sdp": sdp}
        if op == "accept_answer":
            entry = self._opened.get(key)
            if entry is None or entry[0] != serial:
                raise MediaError("no media connection to answer")
            await self.sfu.accept_answer(*key, str(message["sdp"]))
            return None
        if op == "close_peer":
            entry = self._opened.get(key)
            if entry is not None and (serial is None or entry[0] == serial):
                del self._opened[key]
                await self.sfu.close_peer(*key)
            return None
        raise ValueError(f"unknown op {op!r}")

    # --- events --------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame(message))

    def _event(self, message: dict[str, Any]) -> None:
        self._send(message)

    def _on_levels(self, room_id: str, levels: dict[str, float]) -> None:
        self._event({"ev": "levels", "room": room_id, "levels": levels})

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for key, (serial, ready) in list(self._opened.items()):
                if ready and self.sfu.peer_connection(*key) is None:  # failed or closed on its own
                    del self._opened[key]
                    self._event({"ev": "gone", "room": key[0], "user": key[1], "serial": serial})
            stats: dict[str, Any] = {"ev": "stats", "peers": self.sfu.peer_count()}
            stats.update(self.sfu.totals())
            stats.update(
                relayed=self.sender.sent,
                relay_dropped=self.sender.dropped,
                relay_received=self.receiver.received,
                relay_rejected=self.receiver.rejected,
            )
            self._event(stats)
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()


async def serve(fd: int, config: dict[str, Any]) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    await Worker(reader, writer, config).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="parlor.media.worker")
    parser.add_argument("--fd", type=int, required=True, help="the control socket (inherited)")
    parser.add_argument("--config", required=True, help="JSON: index, slots, ice_hosts, log_level")
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    # Ctrl-C in a terminal reaches the whole process group: the main process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=str(config.get("log_level", "info")).upper(),
        format=f"%(asctime)s %(levelname)s media-worker-{config.get('index', '?')} %(name)s: %(message)s",
    )
    asyncio.run(serve(args.fd, config))


if __name__ == "__main__":
    main()
