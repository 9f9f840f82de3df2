"""The Redis bus: one bus for every node of a cluster (PARLOR_REDIS_URL).

Same contract as the in-process bus (bus/base.py), plus what a network adds:

- A message reaches this node's own subscribers at once, as in memory, and the
  other nodes through Redis pub/sub (each channel is a Redis channel; a node
  subscribes only to the channels its sockets follow). A node ignores its own
  messages coming back from Redis.
- One task publishes, in order, in pipelined batches, so `publish` never waits on
  the network and a channel's messages leave in the order they were published.
- Redis may go away for a while. Messages published meanwhile wait (up to
  `MAX_WAITING`) and go out when it is back; a batch whose fate is unknown (the
  connection broke while it was sent) or messages dropped from a full outbox are
  never sent twice: their channels get `RESYNC` instead. A node whose subscriber
  connection broke may have missed anything: once back it hands `RESYNC` to every
  channel its sockets follow. So nothing is ever lost silently: it is delivered,
  or its subscribers are told to fetch the state again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from typing import Any

from parlor.bus.base import RESYNC, Bus, Callback, Message, Unsubscribe

logger = logging.getLogger(__name__)

PREFIX = "parlor:bus:"
# Messages held while Redis is unreachable; past this the oldest are dropped and
# their channels told to resync.
MAX_WAITING = 10_000
BATCH = 500
# How often the subscriber connection looks for channels to (un)subscribe while idle.
POLL_S = 0.02
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0


def _resync_message() -> Message:
    return {"name": RESYNC, "data": {}}


class RedisBus(Bus):
    def __init__(self, url: str, node_id: str | None = None) -> None:
        import redis.asyncio  # optional dependency: only when a Redis URL is set
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.node_id = node_id or secrets.token_hex(6)
        # Errors must reach us (we resync after them), not be retried out of sight.
        self._redis: Any = redis.asyncio.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2, socket_timeout=5
        )
        self._local: dict[str, list[Callback]] = {}
        self._asked: set[str] = set()  # asked of Redis on the current connection
        self._confirmed: set[str] = set()  # Redis said so: messages from others arrive
        self._outbox: deque[tuple[str, str]] = deque()
        self._gapped: set[str] = set()  # channels whose messages were dropped: resync them
        self._wake = asyncio.Event()
        self._up = asyncio.Event()
        self._synced = asyncio.Event()  # cleared when the channels wanted change
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.resyncs = 0  # times this node told its subscribers to resync (for tests, /metrics)

    # -- the contract --------------------------------------------------------------------

    async def publish(self, channel: str, message: Message) -> None:
        self._deliver(channel, message)
        payload = json.dumps({"from": self.node_id, "message": message}, separators=(",", ":"))
        self._outbox.append((channel, payload))
        if len(self._outbox) > MAX_WAITING:
            dropped, _ = self._outbox.popleft()
            self._gapped.add(dropped)
        self._wake.set()

    def subscribe(self, channel: str, callback: Callback) -> Unsubscribe:
        self._local.setdefault(channel, []).append(callback)
        self._synced.clear()

        def unsubscribe() -> None:
            callbacks = self._local.get(channel)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._local[channel]
                    self._synced.clear()

        return unsubscribe

    async def ready(self) -> None:
        """Wait until every channel subscribed so far hears the other nodes."""
        wanted = set(self._local)
        while not (self._up.is_set() and wanted <= self._confirmed):
            await asyncio.sleep(POLL_S / 4)
            wanted &= set(self._local)  # unsubscribed meanwhile: no longer waited for

    async def start(self) -> None:
        await self._redis.ping()  # an unreachable Redis stops the start, with its reason
        self._tasks = [
            asyncio.create_task(self._publisher(), name="bus-publisher"),
            asyncio.create_task(self._subscriber(), name="bus-subscriber"),
        ]

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        for task in self._tasks:
            # Cancel until it takes: on Python 3.11 a cancellation that lands as a read's
            # own timeout expires can be swallowed by asyncio.timeout (fixed in 3.12), and
            # the subscriber reads with a short timeout all the time.
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.1)
        # What is still waiting gets one chance to leave.
        if self._outbox and self._up.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._flush()
        await self._redis.aclose()

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def waiting(self) -> int:
        return len(self._outbox)

    # -- delivery ------------------------------------------------------------------------

    def _deliver(self, channel: str, message: Message) -> None:
        for callback in list(self._local.get(channel, ())):
            try:
                callback(message)
            except Exception:  # one bad subscriber must not starve the others
                logger.exception("bus subscriber failed on %s", channel)

    def _resync_all(self) -> None:
        self.resyncs += 1
        for channel in list(self._local):
            self._deliver(channel, _resync_message())

    # -- publishing ----------------------------------------------------------------------

    async def _flush(self) -> None:
        while self._outbox or self._gapped:
            if self._gapped:
                # Dropped or maybe-lost messages: their channels' other subscribers resync.
                gapped, self._gapped = self._gapped, set()
                resync = json.dumps({"from": self.node_id, "message": _resync_message()})
                self._outbox.extendleft((channel, resync) for channel in sorted(gapped, reverse=True))
            batch = [self._outbox.popleft() for _ in range(min(BATCH, len(self._outbox)))]
            try:
                pipe = self._redis.pipeline(transaction=False)
                for channel, payload in batch:
                    pipe.publish(PREFIX + channel, payload)
                await pipe.execute()
            except BaseException:
                # Some of the batch may have gone out: never send it twice, resync instead.
                self._gapped.update(channel for channel, _ in batch)
                raise

    async def _publisher(self) -> None:
        delay = RETRY_MIN_S
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._flush()
                delay = RETRY_MIN_S
            except (OSError, ConnectionError, TimeoutError, _redis_error()) as exc:
                logger.warning("bus: cannot publish to Redis (%s); %d messages wait", _why(exc), len(self._outbox))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                self._wake.set()

    # -- subscribing ---------------------------------------------------------------------

    async def _subscriber(self) -> None:
        delay = RETRY_MIN_S
        ever_up = False
        while not self._closing:
            pubsub = self._redis.pubsub()
            self._asked, self._confirmed = set(), set()
            try:
                # A channel of this node's own keeps the connection subscribed (and its
                # breakage noticed) even when no socket follows anything.
                await pubsub.subscribe(f"{PREFIX}node:{self.node_id}")
                await self._sync(pubsub)
                if ever_up:
                    logger.warning("bus: Redis is back; this node's sockets fetch their state again")
                    self._resync_all()
                ever_up = True
                self._up.set()
                self._wake.set()
                delay = RETRY_MIN_S
                while not self._closing:
                    if not self._synced.is_set():
                        await self._sync(pubsub)
                    message = await pubsub.get_message(timeout=POLL_S)
                    if message is not None:
                        self._on_redis_message(message)
            except (OSError, ConnectionError, TimeoutError, _redis_error()) as exc:
                if self._up.is_set():
                    logger.warning("bus: lost Redis (%s); reconnecting", _why(exc))
                self._up.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _sync(self, pubsub: Any) -> None:
        self._synced.set()  # cleared again by any (un)subscribe made while we work
        wanted = set(self._local)
        add, drop = wanted - self._asked, self._asked - wanted
        self._asked = wanted
        if add:
            await pubsub.subscribe(*(PREFIX + c for c in add))
        if drop:
            await pubsub.unsubscribe(*(PREFIX + c for c in drop))

    def _on_redis_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            self._confirmed.add(channel.removeprefix(PREFIX))
            return
        if kind == "unsubscribe":
            self._confirmed.discard(channel.removeprefix(PREFIX))
            return
        if kind != "message":
            return
        try:
            envelope = json.loads(message["data"])
            sender, body = envelope["from"], envelope["message"]
        except (ValueError, KeyError, TypeError):
            logger.warning("bus: dropped a malformed message on %s", channel)
            return
        if sender == self.node_id or not channel.startswith(PREFIX):
            return
        self._deliver(channel.removeprefix(PREFIX), body)


def _redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError


def _why(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__
