"""The guests' socket, /ws/guest, against a real server: a guest follows their room
like a member, and is told and disconnected when they are out of it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", guest_rooms=True)) as s:
        yield s


async def recv_until(ws: Any, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = dict(json.loads(await ws.recv()))
            if pred(msg):
                return msg


def guest_url(server: LiveServer) -> str:
    return server.ws_url + "/guest"


async def test_a_guest_socket_follows_the_room_and_closes_when_the_guest_is_out(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as host, httpx.AsyncClient(base_url=server.url) as guest:
        _, token = await make_member(server, host, "host")
        room = (await host.post("/api/rooms", json={"title": "Late show"})).json()
        assert (await host.post(f"/api/rooms/{room['id']}/guests", json={"allowed": True})).status_code == 200
        r = await guest.post(f"/api/guest/rooms/{room['id']}/enter", json={"display_name": "Gus"})
        gus = r.json()["guest"]["id"]
        cookie = {"Cookie": f"parlor_guest={guest.cookies['parlor_guest']}"}

        # Without the cookie, from another site's page, or with a member's token: refused.
        for headers in ({}, {**cookie, "Origin": "https://evil.example"}, {"Authorization": f"Bearer {token}"}):
            await refused(server, headers)

        async with websockets.connect(guest_url(server), additional_headers=cookie) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome" and welcome["user_id"] == gus
            await ws.send(json.dumps({"type": "subscribe", "room_id": room["id"]}))
            state = await recv_until(ws, lambda m: m.get("name") == "room.state")
            me = next(p for p in state["data"]["participants"] if p["user_id"] == gus)
            assert me["guest"] is True and me["display_name"] == "Gus"
            # Subscribing to another room is refused like a member's.
            await ws.send(json.dumps({"type": "subscribe", "room_id": "r_elsewhere"}))
            err = await recv_until(ws, lambda m: m["type"] == "error")
            assert err["code"] == "room_not_found"

            assert (await host.post(f"/api/rooms/{room['id']}/guests", json={"allowed": False})).status_code == 200
            out = await recv_until(ws, lambda m: m.get("name") == "room.you")
            assert out["data"]["participant"] is None
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # The token names nobody now: no socket either.
        await refused(server, cookie)


async def refused(server: LiveServer, headers: dict[str, str]) -> None:
    """Closed before the handshake completes: the client sees HTTP 403."""
    with pytest.raises(websockets.InvalidStatus) as no:
        async with websockets.connect(guest_url(server), additional_headers=headers):
            pass
    assert no.value.response.status_code == 403
