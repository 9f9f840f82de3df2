"""Per-client event queues: increasing ids, ack, resume after a reconnect.

A queue outlives its socket by the reconnect grace period, so a client that
comes back in time misses nothing and keeps its place in its rooms. The backlog
is bounded: when it overflows the oldest events are dropped, and a client that
missed dropped events is told its queue is gone (it then refetches state).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import Callable

from parlor.actions.ids import new_secret
from parlor.bus.base import Unsubscribe
from parlor.protocol import Event
from parlor.transport.ws.feeds import Feeds

MAX_BACKLOG = 1000
MAX_OUTBOX = 500

# Put on an outbox to make its writer close the socket (the client was too slow).
CLOSE = "\x00close"
# The user's sessions ended (account deleted): close with "signed out".
SIGNED_OUT = "\x00signed-out"


class EventQueue:
    def __init__(self, user_id: str, now: float) -> None:
        self.id = new_secret()[:24]
        self.user_id = user_id
        # The session or token of the socket attached last (transport/ws/endpoint.py).
        self.session_hash = ""
        self.backlog: deque[tuple[int, str]] = deque()
        self.last_id = 0
        self._dropped_through = 0
        self.outbox: asyncio.Queue[str] | None = None
        self.detached_at: float | None = now
        # room_id -> how to stop receiving its events
        self.rooms: dict[str, Unsubscribe] = {}
        self.other: list[Unsubscribe] = []

    # -- events --------------------------------------------------------------------

    def push_event(self, name: str, data: dict[str, object]) -> None:
        self.last_id += 1
        self._queue(Event(self.last_id, name, dict(data)).to_json())

    def push_json(self, name: str, data_json: str) -> None:
        """Queue an event whose data is already JSON (serialized once for every queue).

        The text is exactly what `Event(id, name, data).to_json()` gives.
        """
        self.last_id += 1
        self._queue(f'{{"type":"event","id":{self.last_id},"name":{json.dumps(name)},"data":{data_json}}}')

    def _queue(self, text: str) -> None:
        self.backlog.append((self.last_id, text))
        if len(self.backlog) > MAX_BACKLOG:
            dropped, _ = self.backlog.popleft()
            self._dropped_through = dropped
        self.send(text)

    def send(self, text: str) -> None:
        """Deliver now if a socket is attached (ephemeral messages only use this)."""
        outbox = self.outbox
        if outbox is None:
            return
        if outbox.qsize() >= MAX_OUTBOX:
            # Too slow: close; the client resumes from the backlog.
            self.outbox = None
            outbox.put_nowait(CLOSE)
            return
        outbox.put_nowait(text)

    def ack(self, event_id: int) -> None:
        while self.backlog and self.backlog[0][0] <= event_id:
            self.backlog.popleft()

    def resync(self) -> None:
        """Events may have been lost on the way here (the bus said so, bus/base.py RESYNC):
        the socket is closed and this queue cannot be resumed, so the client's next hello
        gets a fresh queue and `resumed: false`, on which it fetches the state again."""
        if self._dropped_through > self.last_id:
            return  # already told
        self._dropped_through = self.last_id + 1
        outbox, self.outbox = self.outbox, None
        if outbox is not None:
            outbox.put_nowait(CLOSE)

    def can_resume_after(self, last_event_id: int) -> bool:
        return self._dropped_through <= last_event_id <= self.last_id

    def unacked_after(self, last_event_id: int) -> list[str]:
        return [text for event_id, text in self.backlog if event_id > last_event_id]

    # -- socket ----------------------------------------------------------------------

    def attach(self, outbox: asyncio.Queue[str]) -> None:
        if self.outbox is not None:
            # A newer socket takes over; the old one is told to close.
            self.outbox.put_nowait(CLOSE)
        self.outbox = outbox
        self.detached_at = None

    def detach(self, outbox: asyncio.Queue[str], now: float) -> None:
        # The outbox may be gone already (too slow, resynced): the grace runs from now.
        if self.outbox is outbox or (self.outbox is None and self.detached_at is None):
            self.outbox = None
            self.detached_at = now

    def stop_all(self) -> list[str]:
        for unsubscribe in [*self.rooms.values(), *self.other]:
            unsubscribe()
        rooms = list(self.rooms)
        self.rooms.clear()
        self.other.clear()
        return rooms


class Coalescer:
    """Events that may be merged, for one queue: at most one per `interval` seconds.

    `later` keeps only the newest event held back and flushes it with a timer;
    `now` sends at once and drops what was held back (it is older). An event that
    was merged away never gets an id, so acks and resume are unaffected.
    """

    def __init__(self, queue: EventQueue, interval: float) -> None:
        self.queue = queue
        self.interval = interval
        self._last = -math.inf
        self._pending: tuple[str, str] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def now(self, name: str, data_json: str) -> None:
        self.stop()
        self._emit(name, data_json)

    def later(self, name: str, data_json: str, interval: float | None = None) -> None:
        """Send within `interval` (default: the coalescer's own) of the last event."""
        loop = asyncio.get_running_loop()
        wait = self._last + (self.interval if interval is None else interval) - loop.time()
        if wait <= 0 and self._timer is None:
            self._emit(name, data_json)
            return
        self._pending = (name, data_json)
        if self._timer is None:
            self._timer = loop.call_later(max(wait, 0.0), self._flush)

    def stop(self) -> None:
        """Forget what is held back (the subscription is gone, or something newer went out)."""
        self._pending = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def holding(self) -> bool:
        return self._timer is not None

    def _emit(self, name: str, data_json: str) -> None:
        self._last = asyncio.get_running_loop().time()
        self.queue.push_json(name, data_json)

    def _flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self._emit(*pending)


class QueueRegistry:
    def __init__(self, grace_s: float, on_gone: Callable[[EventQueue, str], None], feeds: Feeds) -> None:
        self.grace_s = grace_s
        # The node's channel subscriptions, shared by the queues that follow each (feeds.py).
        self.feeds = feeds
        self.queues: dict[str, EventQueue] = {}
        # Called per room a collected queue was subscribed to.
        self._on_gone = on_gone

    def create(self, user_id: str, now: float) -> EventQueue:
        queue = EventQueue(user_id, now)
        self.queues[queue.id] = queue
        return queue

    def resume(self, queue_id: str, user_id: str, last_event_id: int) -> EventQueue | None:
        queue = self.queues.get(queue_id)
        if queue is None or queue.user_id != user_id or not queue.can_resume_after(last_event_id):
            return None
        return queue

    def destroy(self, queue: EventQueue) -> list[str]:
        """Forget the queue; returns the rooms it followed (each reported to on_gone)."""
        self.queues.pop(queue.id, None)
        rooms = queue.stop_all()
        for room_id in rooms:
            self._on_gone(queue, room_id)
        return rooms

    def collect(self, now: float) -> int:
        """Drop queues whose socket has been gone longer than the grace period."""
        stale = [
            q for q in self.queues.values() if q.detached_at is not None and now - q.detached_at > self.grace_s
        ]
        for queue in stale:
            self.destroy(queue)
        return len(stale)
