"""The client socket: one per client, events and signalling as typed messages.

States: AWAITING_HELLO → OPEN → CLOSED. A malformed message (not JSON, nested too
deep, a binary frame, a lone surrogate, the wrong shape) gets a `bad_message` error
and the socket stays open; a client that keeps sending garbage is closed with 1003,
one that is silent past the heartbeat with 1001. Each socket has a message budget
(transport/ws/budget.py): past it, frames are dropped unread and the client gets a
`rate_limited` error; a sustained flood is closed with 1008.

A socket that closes after `bye` (its page closed or is reloading) leaves its
rooms after `BYE_GRACE_S` instead of the reconnect grace: a reloaded page resumes
the same queue well within that second and keeps its place (a speaker keeps the
stage); a closed tab is gone from the room in about a second. A socket that
drops without `bye` keeps the reconnect grace.

A client pings every HEARTBEAT_S. A socket silent for LATE_AFTER heartbeats marks its
user's link poor in its rooms (actions/links.py) until it speaks again; silent for
CLOSE_AFTER heartbeats it is closed, and its queue counts as gone since the last thing heard, not since the
close: the reconnect grace (30 s) runs from when the client fell silent, so a client
whose network dropped for longer than that has left, and the room was told, by the time
its network is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from enum import Enum
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from parlor import protocol as p
from parlor.actions import accounts, e2ee, links, presence, room_ops, speaking
from parlor.actions.ids import digest
from parlor.actions.room_ops import ROOM_MOVED
from parlor.actions.services import Services
from parlor.bus.base import HALLWAY, RESYNC, room_channel, user_channel
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.transport.http.auth import COOKIE, EMBED_COOKIE, _origin_of
from parlor.transport.ws.budget import MessageBudget
from parlor.transport.ws.queues import CLOSE, SIGNED_OUT, Coalescer, EventQueue, QueueRegistry

logger = logging.getLogger(__name__)

router = APIRouter()

HEARTBEAT_S = 5.0
# In heartbeats: silent this long, a socket's user has a poor link (7 s); this long, it is
# closed (20 s, well inside the 30 s reconnect grace).
LATE_AFTER = 1.4
CLOSE_AFTER = 4.0
# How often (on a ping) a socket asks the database whether its session still exists.
SESSION_CHECK_S = 300.0
MAX_BAD_MESSAGES = 20
# A room taken over by another node: its sockets are counted there, asking again while
# the new node settles (actions/room_takeover.py).
MOVED_TRIES = 10
MOVED_RETRY_S = 0.5
# At most one audience-only room snapshot per this many seconds per queue and room,
# and one hallway.changed per queue (DESIGN §3 "Presence at scale").
AUDIENCE_COALESCE_S = 0.25
# ...and, in a big room, fewer: the room's audience-only snapshots, summed over its
# sockets, stay under this many a second (a 15 kB snapshot to each of 5,000 sockets four
# times a second is 20,000 sends a second, more than a node has: joins starved; at 2,000
# a second, with the hallway's as many, a node on a shared 2-core box still fell behind).
# A room of 5,000 sees its listener count move every 5 s; stage changes go out at once.
ROOM_AUDIENCE_SENDS_PER_S = 1000.0
HALLWAY_COALESCE_S = 1.0
# The same for "the hallway changed", over all of the node's sockets.
HALLWAY_SENDS_PER_S = 1000.0

CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_BAD_DATA, CLOSE_POLICY, CLOSE_INTERNAL = 1000, 1001, 1003, 1008, 1011


class State(Enum):
    AWAITING_HELLO = "awaiting_hello"
    OPEN = "open"
    CLOSED = "closed"


class ClientSocket:
    def __init__(
        self,
        ws: WebSocket,
        s: Services,
        registry: QueueRegistry,
        user: User,
        session_hash: str,
        expires_at: float | None = None,
    ) -> None:
        self.ws = ws
        # Which session or token opened this socket: ending it closes the socket (a bus
        # message), and so does its expiry, or its end seen by a check now and then (ended
        # where the bus does not reach, e.g. `parlor admin reset-password` on another process).
        self.session_hash = session_hash
        self.expires_at = expires_at
        self.session_checked_at = s.clock()
        self.s = s
        self.registry = registry
        self.user = user
        self.state = State.AWAITING_HELLO
        self.queue: EventQueue | None = None
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.bad_messages = 0
        self.budget = MessageBudget()
        self.said_bye = False
        self._tasks: set[asyncio.Task[None]] = set()
        # When a frame last came (s.clock), and whether the user's link is marked late for it.
        self.heard_at = s.clock()
        self.late = False

    def _to(self, state: State) -> None:
        allowed = {
            State.AWAITING_HELLO: {State.OPEN, State.CLOSED},
            State.OPEN: {State.CLOSED},
            State.CLOSED: set(),
        }
        if state not in allowed[self.state]:
            raise RuntimeError(f"socket cannot go from {self.state} to {state}")
        self.state = state

    def send(self, message: p.Message) -> None:
        self.outbox.put_nowait(message.to_json())

    async def writer(self) -> None:
        while True:
            text = await self.outbox.get()
            if text == CLOSE:
                logger.info("closing a socket of %s: superseded by a newer one, or too slow to read", self.user.id)
                await self.ws.close(CLOSE_POLICY, "superseded or too slow")
                return
            if text == SIGNED_OUT:
                await self.ws.close(CLOSE_POLICY, "signed out")
                return
            await self.ws.send_text(text)

    async def run(self) -> None:
        writer = asyncio.create_task(self.writer())
        gone_at: float | None = None
        try:
            heard = time.monotonic()
            while True:
                wait = HEARTBEAT_S * (CLOSE_AFTER if self.late else LATE_AFTER) - (time.monotonic() - heard)
                try:
                    # asyncio.timeout, not wait_for: wait_for makes a task per message
                    async with asyncio.timeout(max(wait, 0.0)):
                        frame = await self.ws.receive()
                except TimeoutError:
                    if not self.late:
                        self._set_late(True)
                        continue
                    gone_at = self.heard_at
                    logger.info("closing a socket of %s: no heartbeat", self.user.id)
                    await self.ws.close(CLOSE_GOING_AWAY, "no heartbeat")
                    return
                heard, self.heard_at = time.monotonic(), self.s.clock()
                if self.late:
                    self._set_late(False)
                if frame["type"] == "websocket.disconnect" or writer.done():
                    return
                if not await self.within_budget():
                    if self.budget.abusive:
                        await self._drain_and_close(CLOSE_POLICY, "message rate exceeded")
                        return
                    continue
                text = frame.get("text")
                if text is None:
                    ok = await self.bad_message("Send JSON in text frames, not binary.")
                else:
                    ok = await self.handle_text(text)
                if not ok:
                    return
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            if self.state is not State.CLOSED:
                self._to(State.CLOSED)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if self.queue is not None:
                self.queue.detach(self.outbox, self.s.clock() if gone_at is None else gone_at)

    def _set_late(self, late: bool) -> None:
        """Mark (or clear) the user's link as poor in the rooms this socket follows."""
        self.late = late
        if self.queue is not None and self.queue.rooms:
            links.do_socket_late(self.s, self.user.id, list(self.queue.rooms), late)

    async def within_budget(self) -> bool:
        """Take this frame from the budget; over it, drop the frame (and say so, now and then)."""
        now = time.monotonic()
        if self.budget.allow(now):
            return True
        if self.budget.should_notice(now):
            wait = self.budget.messages.wait_s()
            self.send(p.Error(Code.RATE_LIMITED.value, f"Too many messages, some dropped: slow down ({wait:.2f} s)."))
        return False

    async def bad_message(self, why: str) -> bool:
        """Tell the client; False (closed) once it has sent too much garbage."""
        self.bad_messages += 1
        self.send(p.Error(Code.BAD_MESSAGE.value, why))
        if self.bad_messages > MAX_BAD_MESSAGES:
            await self._drain_and_close(CLOSE_BAD_DATA, "too many malformed messages")
            return False
        return True

    async def handle_text(self, text: str) -> bool:
        """Handle one message; False means the socket was closed."""
        try:
            message = p.parse_client(text)
        except p.ProtocolError as exc:
            return await self.bad_message(str(exc))
        if self.state is State.AWAITING_HELLO:
            if not isinstance(message, p.Hello):
                self.send(p.Error(Code.BAD_MESSAGE.value, "Say hello first.", message.TYPE))
                await self._drain_and_close(CLOSE_POLICY, "hello expected")
                return False
            self.hello(message)
            return True
        try:
            await self.dispatch(message)
        except ParlorError as exc:
            self.send(p.Error(exc.code.value, exc.message, message.TYPE))
        return True

    async def _drain_and_close(self, code: int, reason: str) -> None:
        while not self.outbox.empty():
            text = self.outbox.get_nowait()
            if text != CLOSE:
                await self.ws.send_text(text)
        await self.ws.close(code, reason)

    def hello(self, hello: p.Hello) -> None:
        queue = None
        tried = hello.queue_id is not None
        if hello.queue_id is not None:
            queue = self.registry.resume(hello.queue_id, self.user.id, hello.last_event_id or 0)
        resumed = queue is not None
        if queue is None:
            queue = self.registry.create(self.user.id, self.s.clock())
            self._follow_user(queue)
        queue.session_hash = self.session_hash
        self.queue = queue
        self._to(State.OPEN)
        self.send(
            p.Welcome(
                queue_id=queue.id,
                user_id=self.user.id,
                resumed=resumed if tried else False,
                last_event_id=queue.last_id,
                heartbeat_s=HEARTBEAT_S,
            )
        )
        if resumed:
            for text in queue.unacked_after(hello.last_event_id or 0):
                self.outbox.put_nowait(text)
            # `speaking` and `links` are not queued and come only on change: resend the
            # current pictures. A client back from a drop has a good enough link again.
            links.do_socket_late(self.s, self.user.id, list(queue.rooms), False)
            for room_id in queue.rooms:
                self.outbox.put_nowait(
                    speaking.current_text(self.s, room_id) or p.Speaking(room_id=room_id).to_json()
                )
                self.outbox.put_nowait(
                    links.current_text(self.s, room_id) or p.Links(room_id=room_id).to_json()
                )
        queue.attach(self.outbox)

    async def dispatch(self, message: p.Message) -> None:
        queue = self.queue
        assert queue is not None
        user_id = self.user.id
        match message:
            case p.Ping():
                if not await self._session_still_valid():
                    self.send_signed_out()
                    return
                self.send(p.Pong())
            case p.Bye():
                self.said_bye = True
            case p.Ack(event_id=event_id):
                queue.ack(event_id)
            case p.Subscribe(room_id=room_id):
                await self.subscribe(queue, room_id)
            case p.Unsubscribe(room_id=room_id):
                stop = queue.rooms.pop(room_id, None)
                if stop is not None:
                    stop()
                    room_ops.do_detach(self.s, user_id, room_id, self.s.clock())
            case p.MediaStart() | p.MediaAnswer() | p.MediaStop() | p.Link() | p.React() | p.E2eePublish() | (
                p.E2eeKeySend()
            ):
                # answered by the room's node, this one or another (actions/room_ops.py)
                for text in await room_ops.do_message(self.s, self.user, message):
                    self.outbox.put_nowait(text)
            case p.Hello():
                raise ParlorError(400, Code.BAD_MESSAGE, "Already said hello.")
            case _:  # pragma: no cover - parse_client only yields the types above
                raise ParlorError(400, Code.BAD_MESSAGE, "Unexpected message.")

    async def _session_still_valid(self) -> bool:
        now = self.s.clock()
        if self.expires_at is not None and now >= self.expires_at:
            return False
        if now - self.session_checked_at < SESSION_CHECK_S:
            return True
        self.session_checked_at = now
        return await accounts.session_alive(self.s, self.session_hash)

    def send_signed_out(self) -> None:
        self.outbox.put_nowait(SIGNED_OUT)

    def _follow_user(self, queue: EventQueue) -> None:
        """A new queue gets the hallway (coalesced) and the user's own channel (`room.you`,
        `notification`)."""
        hallway = Coalescer(queue, HALLWAY_COALESCE_S)

        def on_hallway(m: dict[str, Any]) -> None:
            if m["name"] == RESYNC:
                return  # the user's own channel resyncs the whole queue
            hallway.later(m["name"], m.get("data_json") or _compact(m["data"]))

        queue.other.append(self.registry.feeds.follow(HALLWAY, _hallway_merge, on_hallway))
        queue.other.append(hallway.stop)

        def on_user(message: dict[str, Any]) -> None:
            name, data = message["name"], message["data"]
            if name == RESYNC:
                queue.resync()
                return
            if name in ("account.deleted", "account.sanctioned"):
                # Deleted, suspended or banned: its sessions are gone (maybe ended by another
                # process, the CLI), so this socket must not outlive them.
                queue.send(SIGNED_OUT)
                return
            if name == "account.signed_out":
                if queue.session_hash in data["sessions"]:
                    queue.send(SIGNED_OUT)
                return
            if name == e2ee.KEY_EVENT:  # a wrapped room key for this user: not queued
                queue.send(message["text"])
                return
            queue.push_event(name, data)
            if name == "notification" and data.get("kind") in ("room_started", "room_invite"):
                # Someone this user follows started a room, or they were invited into one:
                # their hallway changes now, not after the coalescing delay (actions/hallway.py).
                hallway.now("hallway.changed", "{}")
            if name == "room.you" and data["participant"] is None:
                # Left, removed or ended: stop following the room.
                stop = queue.rooms.pop(data["room_id"], None)
                if stop is not None:
                    stop()

        queue.other.append(self.s.bus.subscribe(user_channel(queue.user_id), on_user))

    async def subscribe(self, queue: EventQueue, room_id: str, moved: bool = False) -> None:
        """Follow the room's events and send its picture. `moved`: the room went to another
        node, which counts nobody yet: attach there, with nothing to detach."""
        items = await room_ops.do_attach(self.s, self.user.id, room_id)
        old = queue.rooms.pop(room_id, None)
        if old is not None:
            old()
            if not moved:
                room_ops.do_detach(self.s, self.user.id, room_id, self.s.clock())
        user_id = self.user.id

        def stop_room() -> None:
            stop = queue.rooms.pop(room_id, None)
            if stop is not None:
                stop()

        def on_room(message: dict[str, Any]) -> None:
            name = message["name"]
            if name == RESYNC:
                queue.resync()
                return
            if name == "room.state":  # audience-only ones merged by the room's feed (_room_merge)
                queue.push_json(name, message.get("data_json") or _compact(message["data"]))
                return
            if name == "reactions":  # aggregated, not queued (actions/reactions.py)
                queue.send(message["text"])
                return
            if "data_json" in message:  # serialized once for every queue (chat events)
                queue.push_json(name, message["data_json"])
                return
            data = message["data"]
            if name == "speaking":
                queue.send(message.get("text") or p.Speaking(room_id=data["room_id"], levels=data["levels"]).to_json())
                return
            if name == "links":
                queue.send(message.get("text") or p.Links(room_id=data["room_id"], poor=data["poor"]).to_json())
                return
            if name == "media.restart":
                if data["user_id"] == user_id:
                    queue.send(p.MediaRestart(room_id=data["room_id"]).to_json())
                return
            if name == ROOM_MOVED:  # taken over by another node: be counted there
                self._spawn(self._follow_moved(queue, room_id))
                return
            queue.push_event(name, data)
            if name == "room.ended":
                stop_room()

        queue.rooms[room_id] = self.registry.feeds.follow(room_channel(room_id), _room_merge, on_room)
        for kind, name, text in items:
            if kind == "event":
                queue.push_json(name, text)
            else:
                queue.send(text)

    async def _follow_moved(self, queue: EventQueue, room_id: str) -> None:
        for _ in range(MOVED_TRIES):
            if room_id not in queue.rooms:
                return  # unsubscribed meanwhile
            try:
                await self.subscribe(queue, room_id, moved=True)
                return
            except ParlorError as exc:
                if exc.code != Code.ROOM_MOVING:
                    logger.info("following room %s to its new node failed: %s", room_id, exc.code.value)
                    return
            await asyncio.sleep(MOVED_RETRY_S)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _room_merge(message: dict[str, Any], followers: int) -> float | None:
    """Snapshots where only the audience changed are merged (DESIGN §3 "Presence at
    scale"): at most one per AUDIENCE_COALESCE_S, and fewer in a big room, so that the
    room's sockets get under ROOM_AUDIENCE_SENDS_PER_S of them a second (counted by the
    room's people, so every node of a cluster spaces them alike, or by this node's
    sockets on it if more: a person may have two tabs)."""
    if message["name"] == "room.state" and message.get("audience_only"):
        people = int(message.get("people", 0))
        return max(AUDIENCE_COALESCE_S, max(followers, people) / ROOM_AUDIENCE_SENDS_PER_S)
    return None


def _hallway_merge(message: dict[str, Any], followers: int) -> float | None:
    """"The hallway changed" (a listener count moved, a room opened): at most once a
    second, and at most HALLWAY_SENDS_PER_S a second over the node's sockets."""
    return max(HALLWAY_COALESCE_S, followers / HALLWAY_SENDS_PER_S)


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _authenticate_ws(ws: WebSocket) -> tuple[str, str] | None:
    """(secret, kind) from the socket handshake, or None. Never from the URL: a token in
    the query string ends up in access logs (clients send the Authorization header)."""
    header = ws.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    cookie = ws.cookies.get(COOKIE) or ws.cookies.get(EMBED_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


@router.websocket("/ws")
async def client_socket(ws: WebSocket) -> None:
    s: Services = ws.app.state.services
    registry: QueueRegistry = ws.app.state.queues
    if "token" in ws.query_params:
        await ws.close(CLOSE_POLICY, "no tokens in the URL: send the Authorization header")
        return
    found = _authenticate_ws(ws)
    session = await accounts.authenticate_session(s, *found, ws.headers.get("user-agent")) if found else None
    if session is None:
        await ws.close(CLOSE_POLICY, "not authenticated")
        return
    user = session[0]
    if found and found[1] == "cookie":
        # Cross-site WebSocket hijacking: browsers send the cookie from any page.
        origin = ws.headers.get("origin")
        host = ws.headers.get("host", "")
        if origin and _origin_of(origin) not in {f"http://{host}".lower(), f"https://{host}".lower()}:
            await ws.close(CLOSE_POLICY, "cross-origin")
            return
    await ws.accept()
    assert found is not None
    await serve(ClientSocket(ws, s, registry, user, digest(found[0]), session[1].expires_at), s, registry)


async def serve(socket: ClientSocket, s: Services, registry: QueueRegistry) -> None:
    """Run an accepted socket (a member's or a guest's); after a bye, leave its rooms soon."""
    try:
        await socket.run()
    except Exception:
        logger.exception("socket handler failed")
        with contextlib.suppress(Exception):
            await socket.ws.close(CLOSE_INTERNAL)
    queue = socket.queue
    if socket.said_bye and queue is not None and queue.detached_at is not None:
        await _leave_after_bye(s, registry, queue, queue.detached_at)


async def _leave_after_bye(s: Services, registry: QueueRegistry, queue: EventQueue, gone_at: float) -> None:
    """The page said bye and its socket closed: unless the queue is resumed within
    BYE_GRACE_S (a reload), drop it and leave the rooms no other client of the user follows."""
    await asyncio.sleep(p.BYE_GRACE_S)
    if queue.detached_at != gone_at or registry.queues.get(queue.id) is not queue:
        return  # resumed (and maybe gone again since), or collected already
    rooms = registry.destroy(queue)
    await presence.do_leave_unattended(s, queue.user_id, rooms)
