"""A ban takes effect at once on the banned person's open socket and live media.

Real server, real aiortc peers (parlor.client) over loopback: bob speaks in ann's room
and has another socket open; the admin bans him. Within a second his socket is closed
("signed out"), he is out of the room, the server has closed his peer connection and
ann stops hearing him.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.media.media_helpers import write_tone
from tests.people import ADMIN

from parlor.client import ParlorClient
from parlor.client.media import MediaSession

pytestmark = pytest.mark.media
LOOPBACK = ("127.0.0.1",)
WITHIN_S = 1.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


def packets(media: MediaSession | None) -> int:
    assert media is not None
    return media.packets_received


async def eventually(predicate: Callable[[], bool], within: float) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_ban_closes_the_socket_and_stops_the_media_within_a_second(server: LiveServer, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "bob.wav", seconds=20, freq=500)
    clients: list[ParlorClient] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("ann", "bob"):
            _, token = await make_member(server, http, name)
            clients.append(ParlorClient(server.url, token, ice_hosts=LOOPBACK))
    ann, bob = clients
    bob_token = bob.token
    admin = httpx.AsyncClient(base_url=server.url)
    try:
        r = await admin.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        assert r.status_code == 200, r.text
        for c in clients:
            await c.connect()
        room = await ann.create_room("Banned mid-sentence")
        ann_room = await ann.join_room(room["id"])
        bob_room = await bob.join_room(room["id"])
        await bob_room.post("hand", {"raised": True})
        await ann_room.post("speak-invites", {"user_id": bob.user_id})
        await bob_room.post("speak-invite/accept")
        assert bob_room.media is not None
        bob_room.media.set_microphone(tone)
        await bob_room.post("mute", {"muted": False})
        await eventually(lambda: packets(ann_room.media) > 50, 10.0)  # ann hears bob
        # bob has a second client open: a plain socket.
        other = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {bob_token}"})
        await other.send('{"type":"hello"}')
        assert '"welcome"' in await other.recv()

        sfu = server.app.state.services.media
        live = server.app.state.services.live
        server_pc = sfu.peer_connection(room["id"], bob.user_id)
        assert server_pc is not None

        started = time.monotonic()
        r = await admin.post(f"/api/admin/users/{bob.user_id}/ban", json={"reason": "abuse on stage"})
        assert r.status_code == 201, r.text

        def gone() -> bool:
            return (
                other.close_code is not None
                and bob.user_id not in live.rooms[room["id"]].participants
                and sfu.peer_connection(room["id"], bob.user_id) is None
                and server_pc.connectionState == "closed"
                and bob_room.gone
            )

        await eventually(gone, WITHIN_S - (time.monotonic() - started))
        took = time.monotonic() - started
        assert took < WITHIN_S, took
        assert (other.close_code, other.close_reason) == (1008, "signed out")
        # Nothing of bob reaches ann any more (in-flight packets aside).
        await asyncio.sleep(0.3)
        heard = packets(ann_room.media)
        await asyncio.sleep(1.0)
        assert packets(ann_room.media) == heard
        # ...and he cannot come back: his token is revoked, sign-in is refused.
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {bob_token}"})
        r = await httpx.AsyncClient(base_url=server.url).post(
            "/api/login", json={"username": "bob", "password": "hunter2hunter2"}
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "banned"
        await other.close()
    finally:
        await admin.aclose()
        for c in clients:
            await c.close()
