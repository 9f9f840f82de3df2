"""`bye`: a client that closes on purpose leaves its rooms in about a second; one that
drops keeps the reconnect grace; one that says bye and comes back at once (a reload)
keeps its place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.test_socket import connect, present, room_state

from parlor import protocol as p


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # The default 30 s grace: a dropped client must still be in the room seconds later.
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=30.0)) as s:
        yield s


async def _in_room(http: httpx.AsyncClient, room_id: str) -> dict[str, Any]:
    state = (await http.get(f"/api/rooms/{room_id}")).json()
    return {x["user_id"]: x for x in state["participants"]}


async def _setup(
    server: LiveServer, ann_http: httpx.AsyncClient, bob_http: httpx.AsyncClient
) -> tuple[str, str, str, str]:
    """(ann's token, bob's id, bob's token, room id): ann's room, bob listening."""
    _, ann = await make_member(server, ann_http, "ann")
    bob_id, bob = await make_member(server, bob_http, "bob")
    room = (await ann_http.post("/api/rooms", json={"title": "Bye"})).json()
    await bob_http.post(f"/api/rooms/{room['id']}/join")
    return ann, bob_id, bob, room["id"]


async def test_bye_then_close_leaves_within_two_seconds(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        ann, bob_id, bob, room_id = await _setup(server, ann_http, bob_http)
        ann_sock = await present(server, ann, room_id)
        sock, _ = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room_id})
        await sock.recv_until(room_state)
        await sock.send(p.Bye().to_json())
        closed_at = time.monotonic()
        await sock.ws.close()
        gone = await ann_sock.recv_until(
            lambda m: room_state(m) and bob_id not in [x["user_id"] for x in m["data"]["participants"]]
        )
        took = time.monotonic() - closed_at
        assert took < 2.0, took
        assert gone["data"]["listener_count"] == 0
        assert bob_id not in await _in_room(ann_http, room_id)
        await ann_sock.ws.close()


async def test_a_dropped_socket_keeps_the_reconnect_grace(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, bob_id, bob, room_id = await _setup(server, ann_http, bob_http)
        sock, _ = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room_id})
        await sock.recv_until(room_state)
        await sock.ws.close()  # no bye: maybe a tunnel, maybe a lift
        await asyncio.sleep(p.BYE_GRACE_S + 2.0)
        assert bob_id in await _in_room(ann_http, room_id)


async def test_bye_and_back_at_once_keeps_the_stage(server: LiveServer) -> None:
    """A reload: the page says bye, the new page resumes the queue within the second."""
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, bob_id, bob, room_id = await _setup(server, ann_http, bob_http)
        await ann_http.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": bob_id})
        await bob_http.post(f"/api/rooms/{room_id}/speak-invite/accept")
        sock, welcome = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room_id})
        seen = await sock.recv_until(room_state)
        await sock.send({"type": "bye"})
        await sock.ws.close()
        await asyncio.sleep(0.3)
        again, welcome2 = await connect(
            server, bob, {"type": "hello", "queue_id": welcome["queue_id"], "last_event_id": seen["id"]}
        )
        assert welcome2["resumed"] is True
        await again.send({"type": "subscribe", "room_id": room_id})
        await asyncio.sleep(p.BYE_GRACE_S + 1.5)
        people = await _in_room(ann_http, room_id)
        assert people[bob_id]["role"] == "speaker", people


async def test_bye_from_one_tab_leaves_the_other_tab_in_the_room(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, bob_id, bob, room_id = await _setup(server, ann_http, bob_http)
        other_tab = await present(server, bob, room_id)
        await other_tab.recv_until(room_state)
        sock, _ = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room_id})
        await sock.recv_until(room_state)
        await sock.send({"type": "bye"})
        await sock.ws.close()
        await asyncio.sleep(p.BYE_GRACE_S + 1.5)
        assert bob_id in await _in_room(ann_http, room_id)
        await other_tab.ws.close()


async def test_bye_with_the_socket_kept_open_changes_nothing(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, bob_id, bob, room_id = await _setup(server, ann_http, bob_http)
        sock, _ = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room_id})
        await sock.recv_until(room_state)
        await sock.send({"type": "bye"})
        await sock.send({"type": "ping"})
        assert (await sock.recv_until(lambda m: m["type"] in ("pong", "error")))["type"] == "pong"
        await asyncio.sleep(p.BYE_GRACE_S + 1.0)
        assert bob_id in await _in_room(ann_http, room_id)
        await sock.ws.close()
