"""The client socket against a real server: typed messages, events, resume, bad input."""

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
from tests.people import MEMBER_PASSWORD

from parlor import protocol as p


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", reconnect_grace_s=2.0)) as s:
        yield s


class Sock:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, obj: Any) -> None:
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))

    async def recv_until(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.recv(timeout)
                if pred(msg):
                    return msg


async def connect(server: LiveServer, token: str, hello: dict[str, Any] | None = None) -> tuple[Sock, dict[str, Any]]:
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    sock = Sock(ws)
    await sock.send(hello or {"type": "hello"})
    welcome = await sock.recv()
    assert welcome["type"] == "welcome", welcome
    return sock, welcome


async def present(server: LiveServer, token: str, room_id: str) -> Sock:
    """A connected client in the room (a participant with no client leaves after the grace period)."""
    sock, _ = await connect(server, token)
    await sock.send({"type": "subscribe", "room_id": room_id})
    return sock


def room_state(msg: dict[str, Any]) -> bool:
    return msg.get("type") == "event" and msg.get("name") == "room.state"


async def test_unauthenticated_socket_is_refused(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(server.ws_url):
            pass
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(server.ws_url + "?token=nope"):
            pass


async def test_a_token_in_the_socket_url_is_refused(server: LiveServer) -> None:
    """The query string lands in access logs: a token there is refused, even a good one
    (and even beside a good header); the Authorization header is the way."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
    for url, headers in (
        (f"{server.ws_url}?token={token}", {}),
        (f"{server.ws_url}?token={token}", {"Authorization": f"Bearer {token}"}),
        (f"{server.ws_url}?token=", {"Authorization": f"Bearer {token}"}),
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
    sock, welcome = await connect(server, token)
    assert welcome["type"] == "welcome"
    await sock.ws.close()


async def test_hello_must_come_first(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    await ws.send(json.dumps({"type": "ping"}))
    err = json.loads(await ws.recv())
    assert err["type"] == "error" and err["code"] == "bad_message"
    with pytest.raises(websockets.ConnectionClosed) as info:
        await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


@pytest.mark.parametrize(
    "garbage",
    [
        "not json",
        "[1,2]",
        '{"type":"nope"}',
        '{"type":"ack","event_id":"one"}',
        '{"type":"subscribe"}',
        '{"type":"welcome","queue_id":"x","user_id":"u","resumed":true,"last_event_id":1,"heartbeat_s":1}',
        '{"type":"media.answer","room_id":"r","sdp":"' + "x" * 40000 + '"}',
    ],
    ids=["text", "array", "unknown-type", "wrong-field-type", "missing-field", "server-type", "oversized-sdp"],
)
async def test_malformed_messages_get_an_error_and_the_socket_stays_open(server: LiveServer, garbage: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
    sock, _ = await connect(server, token)
    await sock.send(garbage)
    err = await sock.recv()
    assert err["type"] == "error" and err["code"] == "bad_message"
    await sock.send({"type": "ping"})
    assert (await sock.recv())["type"] == "pong"
    await sock.ws.close()


async def test_oversized_frame_closes_only_that_socket(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
    bystander, _ = await connect(server, token)
    sock, _ = await connect(server, token)
    await sock.send("x" * 70000)
    with pytest.raises(websockets.ConnectionClosed) as info:
        await sock.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await bystander.send({"type": "ping"})
    assert (await bystander.recv())["type"] == "pong"


async def test_room_events_flow_and_non_members_cannot_subscribe(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, ann = await make_member(server, ann_http, "ann")
        _, bob = await make_member(server, bob_http, "bob")
        room = (await ann_http.post("/api/rooms", json={"title": "Events"})).json()
        ann_sock, _ = await connect(server, ann)
        bob_sock, _ = await connect(server, bob)
        await bob_sock.send({"type": "subscribe", "room_id": room["id"]})
        err = await bob_sock.recv()
        assert err == {"type": "error", "code": "not_in_room", "message": err["message"], "ref": "subscribe"}
        await ann_sock.send({"type": "subscribe", "room_id": room["id"]})
        first = await ann_sock.recv_until(room_state)
        assert [x["username"] for x in first["data"]["participants"]] == ["ann"]
        await bob_http.post(f"/api/rooms/{room['id']}/join")
        joined = await ann_sock.recv_until(room_state)
        assert [x["username"] for x in joined["data"]["participants"]] == ["ann", "bob"]
        assert joined["id"] > first["id"]
        await ann_http.post(f"/api/rooms/{room['id']}/end")
        ended = await ann_sock.recv_until(lambda m: m.get("name") == "room.ended")
        assert ended["data"] == {"room_id": room["id"]}
        unknown = {"type": "subscribe", "room_id": "r_nope"}
        await ann_sock.send(unknown)
        assert (await ann_sock.recv_until(lambda m: m["type"] == "error"))["code"] == "room_not_found"


async def test_reconnect_within_grace_keeps_role_and_hand_and_replays_events(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, ann = await make_member(server, ann_http, "ann")
        bob_id, bob = await make_member(server, bob_http, "bob")
        room = (await ann_http.post("/api/rooms", json={"title": "Resume"})).json()
        ann_sock = await present(server, ann, room["id"])
        await bob_http.post(f"/api/rooms/{room['id']}/join")
        await bob_http.post(f"/api/rooms/{room['id']}/hand", json={"raised": True})
        sock, welcome = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room["id"]})
        seen = await sock.recv_until(room_state)
        await sock.ws.close()
        # while bob is away, something happens
        await ann_http.patch(f"/api/rooms/{room['id']}", json={"title": "Resumed"})
        await asyncio.sleep(1.0)  # within the 2 s grace
        sock2, welcome2 = await connect(
            server, bob, {"type": "hello", "queue_id": welcome["queue_id"], "last_event_id": seen["id"]}
        )
        assert welcome2["resumed"] is True and welcome2["queue_id"] == welcome["queue_id"]
        missed = await sock2.recv_until(room_state)
        assert missed["data"]["title"] == "Resumed"
        await asyncio.sleep(2.5)  # past the grace period, but connected: still there
        state = (await ann_http.get(f"/api/rooms/{room['id']}")).json()
        bob_p = next(x for x in state["participants"] if x["user_id"] == bob_id)
        assert bob_p["hand_raised"] is True and bob_p["role"] == "listener"
        await sock2.ws.close()
        await ann_sock.ws.close()


async def test_gone_past_grace_leaves_the_room_and_the_queue(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann_http, httpx.AsyncClient(base_url=server.url) as bob_http:
        _, ann = await make_member(server, ann_http, "ann")
        bob_id, bob = await make_member(server, bob_http, "bob")
        room = (await ann_http.post("/api/rooms", json={"title": "Gone"})).json()
        ann_sock = await present(server, ann, room["id"])
        await bob_http.post(f"/api/rooms/{room['id']}/join")
        sock, welcome = await connect(server, bob)
        await sock.send({"type": "subscribe", "room_id": room["id"]})
        await sock.recv_until(room_state)
        await sock.ws.close()
        await asyncio.sleep(4.5)  # grace (2 s) + reaping
        state = (await ann_http.get(f"/api/rooms/{room['id']}")).json()
        assert bob_id not in [x["user_id"] for x in state["participants"]]
        _, again = await connect(server, bob, {"type": "hello", "queue_id": welcome["queue_id"], "last_event_id": 1})
        assert again["resumed"] is False
        await ann_sock.ws.close()


async def test_socket_message_classes_round_trip() -> None:
    for message in (p.Welcome("q", "u", True, 3, 20.0), p.Event(1, "room.state", {"x": 1}), p.MediaOffer("r", "v=0")):
        assert p.parse_server(message.to_json()) == message
    with pytest.raises(p.ProtocolError):
        p.parse_client(p.Welcome("q", "u", True, 3, 20.0).to_json())


async def test_deleting_your_account_closes_your_open_sockets(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        sock, _ = await connect(server, token)
        other_token = (await http.post("/api/tokens", json={"name": "second"})).json()["token"]
        other, _ = await connect(server, other_token)
        r = await http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
        assert r.status_code == 204, r.text
        for ws in (sock.ws, other.ws):
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            assert ws.close_code == 1008 and ws.close_reason == "signed out"
        with pytest.raises(websockets.InvalidStatus):
            await connect(server, token)


async def closed_signed_out(sock: Sock) -> None:
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(5):
            while True:
                await sock.ws.recv()
    assert sock.ws.close_code == 1008 and sock.ws.close_reason == "signed out"


async def test_signing_out_closes_only_the_sockets_that_session_opened(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        other_token = (await http.post("/api/tokens", json={"name": "second"})).json()["token"]
        mine, _ = await connect(server, token)
        other, _ = await connect(server, other_token)
        # A bearer client signing out revokes its token and closes its socket...
        r = await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204
        await closed_signed_out(mine)
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        # ...and the other token's socket carries on.
        await other.send({"type": "ping"})
        assert (await other.recv_until(lambda m: m["type"] == "pong"))["type"] == "pong"
        # The browser session (cookie) signing out closes nothing else either.
        r = await http.post("/api/logout")
        assert r.status_code == 204
        await other.send({"type": "ping"})
        assert (await other.recv_until(lambda m: m["type"] == "pong"))["type"] == "pong"
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {other_token}"})).status_code == 200
