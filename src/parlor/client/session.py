"""The client's REST calls and its one socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
import websockets

from parlor import protocol as p
from parlor.client.media import MediaSession

logger = logging.getLogger(__name__)


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
        self.restarts = 0

    @property
    def state(self) -> dict[str, Any] | None:
        return self.client.rooms.get(self.room_id)

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

    async def leave(self) -> None:
        if self.media is not None:
            await self.media.close()
            self.media = None
        with contextlib.suppress(ClientError):
            await self.post("leave")


class ParlorClient:
    def __init__(self, base_url: str, token: str, *, ice_hosts: tuple[str, ...] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ice_hosts = ice_hosts
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15.0
        )
        self.user_id = ""
        self.rooms: dict[str, dict[str, Any]] = {}
        # room id -> the latest `room.you` data: {room_id, version, participant | None}
        self.you: dict[str, dict[str, Any]] = {}
        self.errors: list[p.Error] = []
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._offers: dict[str, asyncio.Future[str]] = {}
        self._changed = asyncio.Event()
        self._last_event = 0
        self._sessions: list[RoomSession] = []
        self._tasks: set[asyncio.Task[None]] = set()

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

    async def create_room(self, title: str) -> dict[str, Any]:
        return await self.call("POST", "/api/rooms", {"title": title})

    # -- socket -----------------------------------------------------------------------

    async def connect(self) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        self._ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {self.token}"})
        await self._ws.send(p.Hello().to_json())
        welcome = p.parse_server(await self._ws.recv())
        if not isinstance(welcome, p.Welcome):
            raise ClientError(0, "bad_message", f"expected welcome, got {welcome.TYPE}")
        self.user_id = welcome.user_id
        self._reader = asyncio.create_task(self._read())

    async def send(self, message: p.Message) -> None:
        await self._ws.send(message.to_json())

    async def _read(self) -> None:
        try:
            async for text in self._ws:
                self._handle(p.parse_server(text))
        except (websockets.ConnectionClosed, asyncio.CancelledError):
            pass
        except p.ProtocolError:
            logger.exception("server sent a message we cannot read")

    def _handle(self, message: p.Message) -> None:
        match message:
            case p.Event(id=event_id, name=name, data=data):
                self._last_event = event_id
                if name == "room.state":
                    known = self.rooms.get(data["id"])
                    if known is None or known["version"] <= data["version"]:
                        self.rooms[data["id"]] = data
                elif name == "room.you":
                    self.you[data["room_id"]] = data
                elif name == "room.ended":
                    room = self.rooms.get(data["room_id"])
                    if room is not None:
                        room["ended"] = True
                if event_id % 20 == 0:
                    task = asyncio.ensure_future(self.send(p.Ack(event_id)))
                    task.add_done_callback(lambda t: t.exception())
            case p.MediaRestart(room_id=room_id):
                self._restart_media(room_id)
            case p.MediaOffer(room_id=room_id, sdp=sdp):
                future = self._offers.pop(room_id, None)
                if future is not None and not future.done():
                    future.set_result(sdp)
            case p.Error():
                self.errors.append(message)
                if message.ref == "media.start":
                    for future in self._offers.values():
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
                    await self.start_media(session, send_wav=old.send_wav, record_rtp=old.record_rtp)

                task = asyncio.ensure_future(restart())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checking on every message."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # -- rooms ------------------------------------------------------------------------

    async def join_room(
        self, room_id: str, *, send_wav: str | None = None, record_rtp: bool = False, media: bool = True
    ) -> RoomSession:
        """Join (if not in it yet), follow its events and, by default, connect media."""
        try:
            state = await self.call("POST", f"/api/rooms/{room_id}/join")
        except ClientError as exc:
            if exc.code != "already_in_room":
                raise
            state = await self.call("GET", f"/api/rooms/{room_id}")
        self.rooms[room_id] = state
        session = RoomSession(self, room_id)
        self._sessions.append(session)
        await self.send(p.Subscribe(room_id))
        if media:
            await self.start_media(session, send_wav=send_wav, record_rtp=record_rtp)
        return session

    async def start_media(self, session: RoomSession, *, send_wav: str | None = None, record_rtp: bool = False) -> None:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._offers[session.room_id] = future
        await self.send(p.MediaStart(session.room_id))
        offer = await asyncio.wait_for(future, 15.0)
        media = MediaSession(send_wav=send_wav, ice_hosts=self.ice_hosts, record_rtp=record_rtp)
        answer = await media.answer(offer)
        await self.send(p.MediaAnswer(session.room_id, answer))
        session.media = media
        async with asyncio.timeout(15.0):
            while media.connection_state not in ("connected", "failed", "closed"):
                await asyncio.sleep(0.05)
        if media.connection_state != "connected":
            raise ClientError(0, "media_unavailable", f"media connection {media.connection_state}")

    async def close(self) -> None:
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
