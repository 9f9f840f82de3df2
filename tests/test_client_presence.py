"""Being present (docs/API.md "Being present"): a participant needs a subscribed socket.

A REST-only join is reaped after the reconnect grace; `parlor.client` keeps its socket
(heartbeats), resumes its queue after a drop, and subscribes again when the queue is gone.
Short grace and heartbeat here so the test runs in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.client import ParlorClient
from parlor.transport.ws import endpoint
from parlor.transport.ws.queues import CLOSE, QueueRegistry

GRACE_S = 1.5
HEARTBEAT_S = 0.4  # the server closes a socket silent for 4 of these: 1.6 s, less than the grace


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LiveServer]:
    monkeypatch.setattr(endpoint, "HEARTBEAT_S", HEARTBEAT_S)
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=GRACE_S)) as s:
        yield s


async def client_for(server: LiveServer, name: str) -> tuple[ParlorClient, str]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, name)
    client = ParlorClient(server.url, token)
    await client.connect()
    return client, token


def in_room(server: LiveServer, room_id: str, user_id: str) -> bool:
    room = server.app.state.services.live.get(room_id)
    return room is not None and user_id in room.participants


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_a_client_listener_stays_past_the_grace_and_a_rest_only_join_is_reaped(server: LiveServer) -> None:
    ann, _ = await client_for(server, "ann")
    bob, _ = await client_for(server, "bob")
    async with httpx.AsyncClient(base_url=server.url) as http:
        carl_id, carl_token = await make_member(server, http, "carl")
    try:
        room_id = (await ann.create_room("Presence"))["id"]
        await ann.join_room(room_id, media=False)
        bob_room = await bob.join_room(room_id, media=False)
        # carl joins through the REST API only and never subscribes on a socket
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {carl_token}"}) as carl:
            assert (await carl.post(f"/api/rooms/{room_id}/join")).status_code == 200
        assert in_room(server, room_id, carl_id)

        await until(lambda: not in_room(server, room_id, carl_id), within=GRACE_S + 5)
        # carl joined after bob, was absent for the whole grace and is gone; bob's socket,
        # silent but for heartbeats, was never closed (more than 4 heartbeats went by)
        assert in_room(server, room_id, bob.user_id)
        assert bob.reconnects == 0
        assert not bob_room.gone
        me = bob_room.me()
        assert me is not None and me["role"] == "listener"
        # the room's events still reach bob: carl's leaving shows in his snapshot
        await until(lambda: all(p["user_id"] != carl_id for p in bob.rooms[room_id]["participants"]))
    finally:
        await ann.close()
        await bob.close()


async def test_the_client_resumes_after_a_drop_and_subscribes_again_when_its_queue_is_gone(
    server: LiveServer,
) -> None:
    ann, _ = await client_for(server, "ann")
    bob, _ = await client_for(server, "bob")
    registry: QueueRegistry = server.app.state.queues
    try:
        room_id = (await ann.create_room("Drops"))["id"]
        await ann.join_room(room_id, media=False)
        await bob.join_room(room_id, media=False)

        # 1. The connection drops (no close handshake): bob reconnects and resumes his queue.
        bob._ws.transport.abort()
        await until(lambda: bob.reconnects == 1)
        assert bob.resumed == 1

        # 2. The server loses bob's queue (as after a long absence) and closes his socket:
        #    bob's hello cannot resume, so he subscribes to the room again.
        queue = next(q for q in registry.queues.values() if q.user_id == bob.user_id)
        outbox = queue.outbox
        registry.destroy(queue)
        assert outbox is not None
        outbox.put_nowait(CLOSE)
        await until(lambda: bob.reconnects == 2)
        assert bob.resumed == 1
        fresh = next(q for q in registry.queues.values() if q.user_id == bob.user_id)
        await until(lambda: room_id in fresh.rooms)

        # bob still hears about the room, and stays in it past the grace: a REST-only
        # joiner who came after the queue was lost is reaped, bob is not.
        await ann.call("PATCH", f"/api/rooms/{room_id}", {"title": "Still here"})
        await until(lambda: bob.rooms[room_id]["title"] == "Still here")
        async with httpx.AsyncClient(base_url=server.url) as http:
            carl_id, carl_token = await make_member(server, http, "carl")
            headers = {"Authorization": f"Bearer {carl_token}"}
            assert (await http.post(f"/api/rooms/{room_id}/join", headers=headers)).status_code == 200
        await until(lambda: not in_room(server, room_id, carl_id), within=GRACE_S + 5)
        assert in_room(server, room_id, bob.user_id)
    finally:
        await ann.close()
        await bob.close()
