"""The client's REST calls and its one socket.

Being in a room takes two things (docs/API.md, "Being present"): the REST join, and a
socket of yours subscribed to the room. A participant with no subscribed socket for the
reconnect grace (30 s) is removed. So the client keeps its socket: it pings at the
interval the server's `welcome` asks for, reconnects when the socket drops (resuming its
event queue), and subscribes again to every room it is in when the queue could not be
resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
import websockets

from parlor import protocol as p
from parlor.client.e2ee import FrameCrypto
from parlor.client.media import MediaSession

# What a member's list of tokens shows as the client ("Parlor Python client").
USER_AGENT = "parlor.client"

logger = logging.getLogger(__name__)

# Chat lines a RoomSession keeps (the server's history is as long).
CHAT_KEPT = 100
# A room whose node died is taken over by another within seconds ("room_moving" until
# then): subscribing and media are asked for again this often, this many times.
MOVING_TRIES = 20
MOVING_RETRY_S = 0.5


class ClientError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class RoomSession:
    """Being in one room: its latest snapshot and, once started, its media."""

    def __init__(self, client: ParlorClient, room_id: str) -> None:
        self.client = client
        self.room_id = room_id
        self.media: MediaSession | None = None
        # An encrypted room's frame crypto (client/e2ee.py), given to every media
        # connection of this session; None: a plain room.
        self.e2ee: FrameCrypto | None = None
        self.restarts = 0
        # True once the server said we are no longer in the room (left, removed, ended);
        # the client then stops subscribing to it.
        self.gone = False
        # The room's chat as the socket tells it: the recent lines (oldest first), its
        # settings ({mode, slow_mode_s}), our own timeout, and reactions counted so far.
        self.chat: list[dict[str, Any]] = []
        self.chat_settings: dict[str, Any] = {"mode": "everyone", "slow_mode_s": 0}
        self.timed_out_until: float | None = None
        self.reactions: dict[str, int] = {}

    @property
    def state(self) -> dict[str, Any] | None:
        return self.client.rooms.get(self.room_id)

    @property
    def people(self) -> list[dict[str, Any]]:
        """The room's people as the latest snapshot lists them (a big room's snapshot
        leaves out most listeners; in an encrypted room everyone keyed is listed). Each
        carries `public_key` (base64url, None until they publish one) and `keyed_since`
        (server time of the publication) for an encrypted room (docs/E2EE.md §7)."""
        return list((self.state or {}).get("participants", []))

    def me(self) -> dict[str, Any] | None:
        """Your own participant record, from `room.you` (None: not in the room).

        Snapshots of big rooms do not list every listener, so until the first
        `room.you` arrives this falls back to looking in the snapshot.
        """
        if self.room_id in self.client.you:
            mine: dict[str, Any] | None = self.client.you[self.room_id]["participant"]
            return mine
        state = self.state or {}
        return next((x for x in state.get("participants", []) if x["user_id"] == self.client.user_id), None)

    async def post(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.client.call("POST", f"/api/rooms/{self.room_id}/{action}", body)

    async def send_chat(self, text: str) -> dict[str, Any]:
        """Write a line in the room's chat; returns it as everyone gets it."""
        return await self.post("chat", {"text": text})

    async def react(self, emoji: str) -> None:
        """React (one of the room's fixed emoji); it goes out with the next batch. Sent on
        the socket: a refusal comes back as an error message (`client.errors`)."""
        await self.client.send(p.React(self.room_id, emoji))

    async def delete_chat(self, message_id: str) -> None:
        await self.client.call("DELETE", f"/api/rooms/{self.room_id}/chat/{message_id}")

    async def set_chat(self, *, mode: str | None = None, slow_mode_s: int | None = None) -> dict[str, Any]:
        """Moderators: chat off / speakers / everyone, and slow mode (seconds, 0 = off)."""
        body = {k: v for k, v in (("mode", mode), ("slow_mode_s", slow_mode_s)) if v is not None}
        return await self.client.call("PATCH", f"/api/rooms/{self.room_id}/chat", body)

    async def time_out(self, user_id: str, seconds: int) -> dict[str, Any]:
        """Moderators: keep someone out of the chat for `seconds` (0 lifts it)."""
        return await self.post("chat/timeouts", {"user_id": user_id, "seconds": seconds})

    def on_chat(self, name: str, data: dict[str, Any]) -> None:
        """A chat event for this room (called by the client's reader)."""
        if name == "chat.history":
            self.chat = list(data["messages"])
            self.chat_settings = {"mode": data["mode"], "slow_mode_s": data["slow_mode_s"]}
            self.timed_out_until = data["timed_out_until"]
        elif name == "chat.message":
            self.chat = [*self.chat[-(CHAT_KEPT - 1) :], data]
        elif name == "chat.deleted":
            self.chat = [m for m in self.chat if m["id"] != data["message_id"]]
        elif name == "chat.settings":
            self.chat_settings = {"mode": data["mode"], "slow_mode_s": data["slow_mode_s"]}
        elif name == "chat.you":
            self.timed_out_until = data["timed_out_until"]

    async def leave(self) -> None:
        if self.media is not None:
            await self.media.close()
            self.media = None
        self.gone = True
        with contextlib.suppress(ClientError):
            await self.post("leave")


class ParlorClient:
    def __init__(
        self, base_url: str, token: str, *, ice_hosts: tuple[str, ...] = (), relay_only: bool = False
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ice_hosts = ice_hosts
        # media only through the instance's TURN servers (to check a TURN set-up)
        self.relay_only = relay_only
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=15.0,
        )
        self.user_id = ""
        self.rooms: dict[str, dict[str, Any]] = {}
        # room id -> the latest `room.you` data: {room_id, version, participant | None}
        self.you: dict[str, dict[str, Any]] = {}
        self.errors: list[p.Error] = []
        # room id -> who is speaking now ({user_id: loudness 0..1}); `speaking` messages
        # come only when that changes, each one the whole picture
        self.speaking: dict[str, dict[str, float]] = {}
        self.speaking_messages = 0
        # Room keys wrapped for us (`e2ee.key`, docs/E2EE.md §7), in arrival order, each
        # {room_id, from, epoch, wrapped}; see `send_room_key`. Nothing here unwraps them.
        self.room_keys: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._offers: dict[str, asyncio.Future[str]] = {}
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._changed = asyncio.Event()
        self._last_event = 0
        self._queue_id: str | None = None
        self._heartbeat_s = 20.0
        self._closing = False
        self._sessions: list[RoomSession] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # How many times the socket was reconnected, and how many of those resumed the queue.
        self.reconnects = 0
        self.resumed = 0

    async def __aenter__(self) -> ParlorClient:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- REST -------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.http.request(method, path, json=body)
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ClientError(r.status_code, err["code"], err["message"])
            except (ValueError, KeyError):
                raise ClientError(r.status_code, "http_error", r.text) from None
        if r.status_code == 204:
            return {}
        result: dict[str, Any] = r.json()
        return result

    async def ice_servers(self) -> list[dict[str, Any]]:
        """TURN servers with short-lived credentials for a new media connection (none when
        the instance has no TURN configured)."""
        servers: list[dict[str, Any]] = (await self.call("GET", "/api/media/ice-servers"))["ice_servers"]
        return servers

    async def create_room(self, title: str, *, encrypted: bool = False) -> dict[str, Any]:
        """Start a room; `encrypted`: end-to-end encrypted for its whole life (docs/E2EE.md)."""
        body: dict[str, Any] = {"title": title}
        if encrypted:
            body["encrypted"] = True
        return await self.call("POST", "/api/rooms", body)

    # -- socket -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket and say hello (resuming our event queue if we had one)."""
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        # The token goes in the Authorization header: the server refuses one in the URL
        # (it would end up in access logs).
        ws = await websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            user_agent_header=USER_AGENT,
            open_timeout=15,
        )
        tried = self._queue_id is not None
        await ws.send(p.Hello(self._queue_id, self._last_event if tried else None).to_json())
        async with asyncio.timeout(15):
            welcome = p.parse_server(await ws.recv())
        if not isinstance(welcome, p.Welcome):
            await ws.close()
            raise ClientError(0, "bad_message", f"expected welcome, got {welcome.TYPE}")
        self._ws = ws
        self.user_id = welcome.user_id
        self._queue_id = welcome.queue_id
        self._heartbeat_s = welcome.heartbeat_s
        if tried and welcome.resumed:
            self.resumed += 1
        elif tried:
            # The queue is gone (we were away too long, or the server restarted): its
            # subscriptions went with it. Take up our rooms again.
            self._last_event = welcome.last_event_id
            for session in self._sessions:
                if not session.gone:
                    self._spawn(self._resubscribe(session))
            # Our media may have been on a node that is gone (a cluster): connect it again,
            # as the web client does on every new socket.
            for room_id in {s.room_id for s in self._sessions if not s.gone and s.media is not None}:
                self._restart_media(room_id)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._run())

    async def send(self, message: p.Message) -> None:
        await self._ws.send(message.to_json())

    # -- end-to-end encrypted rooms: signalling only (docs/E2EE.md §7) -------------------

    async def publish_public_key(self, room_id: str, public_key_b64: str) -> None:
        """Publish our public key for this visit to an encrypted room we are in: the
        uncompressed P-256 point (65 bytes, 0x04 first) in base64url without padding.
        The room's people list then shows it as our `public_key`, with `keyed_since`;
        publishing the same key again changes nothing. Sent on the socket: a refusal
        (`bad_key`, `not_encrypted`, `not_in_room`, `rate_limited`) comes back as an
        error message with `ref` "e2ee.publish" (`errors`)."""
        await self.send(p.E2eePublish(room_id=room_id, public_key=public_key_b64))

    async def send_room_key(self, room_id: str, to_user_id: str, epoch: int, wrapped_b64: str) -> None:
        """Send the room key of `epoch` (1 to 2^31 - 1), wrapped for `to_user_id`
        (docs/E2EE.md §3; base64url without padding, at most 100 characters): the server
        hands it to that person's sockets only, who get it in their `room_keys` as
        {room_id, from: our user id, epoch, wrapped}. Refusals come back as error messages
        with `ref` "e2ee.key" (`errors`). Not queued by the server: a recipient whose
        socket was away when it was sent does not get it."""
        await self.send(p.E2eeKeySend(room_id=room_id, to=to_user_id, epoch=epoch, wrapped=wrapped_b64))

    async def _run(self) -> None:
        """Read the socket and keep it alive; reconnect when it drops, until close()."""
        delay = 0.2
        while not self._closing:
            pinger = asyncio.create_task(self._ping(self._ws, self._heartbeat_s))
            try:
                async for text in self._ws:
                    self._handle(p.parse_server(text))
            except websockets.ConnectionClosed:
                pass
            except p.ProtocolError:
                logger.exception("server sent a message we cannot read")
            finally:
                pinger.cancel()
            while not self._closing:
                await asyncio.sleep(delay)
                try:
                    await self.connect()
                except (OSError, websockets.WebSocketException, ClientError, TimeoutError, p.ProtocolError) as exc:
                    logger.warning("reconnecting to %s failed: %s", self.base_url, exc)
                    delay = min(delay * 2, 10.0)
                    continue
                self.reconnects += 1
                delay = 0.2
                break

    @staticmethod
    async def _ping(ws: Any, every: float) -> None:
        """Heartbeats: the server closes a socket that says nothing for 2.5 intervals."""
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(every)
                await ws.send(p.Ping().to_json())

    async def _subscribe(self, room_id: str) -> None:
        """Subscribe and wait for the room's snapshot (or the server's refusal)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._subscribing[room_id] = future
        try:
            await self.send(p.Subscribe(room_id))
            await asyncio.wait_for(future, 15.0)
        finally:
            self._subscribing.pop(room_id, None)

    async def _resubscribe(self, session: RoomSession) -> None:
        for _ in range(MOVING_TRIES):
            try:
                await self._subscribe(session.room_id)
                return
            except ClientError as exc:
                if exc.code in ("not_in_room", "room_ended", "room_not_found"):
                    session.gone = True
                    return
                if exc.code != "room_moving":
                    logger.warning("subscribing again to %s failed: %s", session.room_id, exc)
                    return
            except (TimeoutError, websockets.ConnectionClosed):
                return  # the socket dropped again: the next reconnect tries again
            # Its node is gone and another takes it over within seconds: ask again.
            await asyncio.sleep(MOVING_RETRY_S)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _handle(self, message: p.Message) -> None:
        match message:
            case p.Event(id=event_id, name=name, data=data):
                self._last_event = event_id
                if name == "room.state":
                    known = self.rooms.get(data["id"])
                    if known is None or known["version"] <= data["version"]:
                        self.rooms[data["id"]] = data
                    subscribing = self._subscribing.get(data["id"])
                    if subscribing is not None and not subscribing.done():
                        subscribing.set_result(None)
                elif name == "room.you":
                    self.you[data["room_id"]] = data
                    if data["participant"] is None:
                        for session in self._sessions:
                            if session.room_id == data["room_id"]:
                                session.gone = True
                elif name == "room.ended":
                    room = self.rooms.get(data["room_id"])
                    if room is not None:
                        room["ended"] = True
                elif name.startswith("chat."):
                    for session in self._sessions:
                        if session.room_id == data.get("room_id"):
                            session.on_chat(name, data)
                if event_id % 20 == 0:
                    task = asyncio.ensure_future(self.send(p.Ack(event_id)))
                    task.add_done_callback(lambda t: t.exception())
            case p.Speaking(room_id=room_id, levels=levels):
                self.speaking[room_id] = dict(levels)
                self.speaking_messages += 1
            case p.Reactions(room_id=room_id, counts=counts):
                for session in self._sessions:
                    if session.room_id == room_id:
                        for emoji, n in counts.items():
                            session.reactions[emoji] = session.reactions.get(emoji, 0) + n
            case p.E2eeKey(room_id=room_id, from_=sender, epoch=epoch, wrapped=wrapped):
                self.room_keys.put_nowait({"room_id": room_id, "from": sender, "epoch": epoch, "wrapped": wrapped})
            case p.MediaRestart(room_id=room_id):
                self._restart_media(room_id)
            case p.MediaOffer(room_id=room_id, sdp=sdp):
                future = self._offers.pop(room_id, None)
                if future is not None and not future.done():
                    future.set_result(sdp)
            case p.Error():
                self.errors.append(message)
                pending: dict[str, asyncio.Future[Any]] = {}
                if message.ref == "media.start":
                    pending = dict(self._offers)
                elif message.ref == "subscribe":
                    pending = dict(self._subscribing)
                for future in pending.values():
                    if not future.done():
                        future.set_exception(ClientError(0, message.code, message.message))
        self._changed.set()

    def _restart_media(self, room_id: str) -> None:
        """The server lost our media connection: connect again, as the same sender."""
        for session in self._sessions:
            if session.room_id == room_id and session.media is not None:
                old = session.media
                session.media = None
                session.restarts += 1

                async def restart(session: RoomSession = session, old: MediaSession = old) -> None:
                    await old.close()
                    for _ in range(MOVING_TRIES):
                        try:
                            await self.start_media(session, send_wav=old.send_wav, record_rtp=old.record_rtp)
                            return
                        except ClientError as exc:
                            if exc.code != "room_moving" or session.gone:
                                raise
                        await asyncio.sleep(MOVING_RETRY_S)

                self._spawn(restart())

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checking on every message."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # -- rooms ------------------------------------------------------------------------

    async def join_room(
        self,
        room_id: str,
        *,
        send_wav: str | None = None,
        record_rtp: bool = False,
        media: bool = True,
        e2ee: FrameCrypto | None = None,
    ) -> RoomSession:
        """Join (if not in it yet), subscribe on the socket (without which the server
        removes us after the grace period) and, by default, connect media."""
        try:
            state = await self.call("POST", f"/api/rooms/{room_id}/join")
        except ClientError as exc:
            if exc.code != "already_in_room":
                raise
            state = await self.call("GET", f"/api/rooms/{room_id}")
        self.rooms[room_id] = state
        session = RoomSession(self, room_id)
        session.e2ee = e2ee
        self._sessions.append(session)
        await self._subscribe(room_id)
        if media:
            await self.start_media(session, send_wav=send_wav, record_rtp=record_rtp)
        return session

    async def start_media(self, session: RoomSession, *, send_wav: str | None = None, record_rtp: bool = False) -> None:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._offers[session.room_id] = future
        await self.send(p.MediaStart(session.room_id))
        offer = await asyncio.wait_for(future, 15.0)
        media = MediaSession(
            send_wav=send_wav,
            ice_hosts=self.ice_hosts,
            record_rtp=record_rtp,
            ice_servers=await self.ice_servers(),
            relay_only=self.relay_only,
            e2ee=session.e2ee,
        )
        answer = await media.answer(offer)
        await self.send(p.MediaAnswer(session.room_id, answer))
        session.media = media
        async with asyncio.timeout(15.0):
            while media.connection_state not in ("connected", "failed", "closed"):
                await asyncio.sleep(0.05)
        if media.connection_state != "connected":
            raise ClientError(0, "media_unavailable", f"media connection {media.connection_state}")

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self._sessions:
            if session.media is not None:
                await session.media.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()
        await self.http.aclose()
