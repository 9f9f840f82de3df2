"""The socket against bad frames and floods, on a real server: every bad frame gets an
error and the socket lives; a flooding socket is held to its message budget (its
answers are bounded by it) while another socket is served, keeps working once it
slows down, and is closed with 1008 only when the flood goes on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.transport.ws import budget


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


@pytest.fixture
async def token(server: LiveServer) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return (await make_member(server, http, "ann"))[1]


async def open_socket(server: LiveServer, token: str, hello: bool = True) -> Any:
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    if hello:
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def still_alive(ws: Any) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    async with asyncio.timeout(5):
        while (await recv(ws))["type"] != "pong":
            pass


BAD_FRAMES = {
    "binary": b"\x00\x01binary",
    "binary json": b'{"type":"ping"}',
    "lone surrogate": '{"type":"subscribe","room_id":"\\ud800"}',
    "lone surrogate in sdp": '{"type":"media.answer","room_id":"r_x","sdp":"v=0\\udfff"}',
    "deeply nested": "[" * 30000 + "]" * 30000,
    "deeply nested field": '{"type":"ping","x":' + "[" * 20000 + "]" * 20000 + "}",
    "nested object": '{"type":"hello","queue_id":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
}


@pytest.mark.parametrize("frame", list(BAD_FRAMES))
async def test_every_bad_frame_gets_bad_message_and_the_socket_lives(
    server: LiveServer, token: str, frame: str
) -> None:
    for hello in (False, True):  # before hello too: the socket waits for a good hello
        ws = await open_socket(server, token, hello=hello)
        await ws.send(BAD_FRAMES[frame])
        err = await recv(ws)
        assert err["type"] == "error" and err["code"] == "bad_message", (frame, hello, err)
        if not hello:
            await ws.send(json.dumps({"type": "hello"}))
            assert (await recv(ws))["type"] == "welcome"
        await still_alive(ws)
        await ws.close()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe", "room_id": "a\x00b"},
        {"type": "media.start", "room_id": "a\u202eb"},
        {"type": "subscribe", "room_id": "x" * 5000},
        {"type": "hello", "queue_id": "q\x00"},
    ],
)
async def test_garbage_ids_are_refused_not_crashed_on(server: LiveServer, token: str, message: dict[str, Any]) -> None:
    ws = await open_socket(server, token, hello=message["type"] != "hello")
    await ws.send(json.dumps(message))
    reply = await recv(ws)
    if message["type"] == "hello":
        assert reply["type"] == "welcome" and reply["resumed"] is False  # no such queue: a new one
    else:
        assert reply["type"] == "error" and reply["code"] == "room_not_found", reply
    await still_alive(ws)
    await ws.close()


async def drain(ws: Any, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Everything the socket receives until it is quiet for `quiet` seconds."""
    got = []
    while True:
        try:
            got.append(await recv(ws, quiet))
        except TimeoutError:
            return got


async def test_a_ping_flood_is_held_to_the_budget_while_others_are_served(server: LiveServer, token: str) -> None:
    flooder = await open_socket(server, token)
    other = await open_socket(server, token)
    flood = 2000
    ping = json.dumps({"type": "ping"})
    started = time.monotonic()

    async def answered(ws: Any) -> tuple[dict[str, Any], float]:
        return await recv(ws), time.monotonic()

    for i in range(flood):
        await flooder.send(ping)
        if i % 100 == 0:
            # The flooding client shares this event loop with the server: let it run
            # now and then, as a client elsewhere would (the wait measured is then the
            # server's), while frames still arrive faster than the budget lets through.
            await asyncio.sleep(0)
        if i == flood // 2:
            # Another socket, mid-flood: answered, and soon (the finding: 2.4 s).
            asked = time.monotonic()
            await other.send(ping)
            reply = asyncio.create_task(answered(other))
    message, at = await reply
    assert message["type"] == "pong" and at - asked < 0.5, at - asked
    got = await drain(flooder)
    elapsed = time.monotonic() - started
    pongs = sum(1 for m in got if m["type"] == "pong")
    limited = [m for m in got if m.get("code") == "rate_limited"]
    # Bounded by the budget: the burst plus what refilled while it lasted, not 2,000.
    assert pongs <= budget.BURST + budget.RATE * elapsed + 1, (pongs, elapsed)
    assert pongs >= budget.BURST - 1  # the hello came out of the same bucket, moments before
    # Told, but not once per dropped frame.
    assert 1 <= len(limited) <= elapsed / budget.NOTICE_EVERY_S + 1
    assert len(got) == pongs + len(limited)
    # Slowed down, it keeps working (a token refills in 1/RATE s).
    await asyncio.sleep(2 / budget.RATE)
    await still_alive(flooder)
    await still_alive(other)
    await flooder.close()
    await other.close()


async def test_a_sustained_flood_is_closed_with_1008_and_only_that_socket(server: LiveServer, token: str) -> None:
    flooder = await open_socket(server, token)
    other = await open_socket(server, token)
    ping = json.dumps({"type": "ping"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(budget.ABUSE_BURST * 4):
            await flooder.send(ping)
        await drain(flooder, quiet=2.0)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "message rate exceeded"
    await still_alive(other)
    await other.close()


def test_the_bucket_refills_at_its_rate() -> None:
    b = budget.Bucket(capacity=3, rate=2.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not b.take(0.25) and b.take(0.5)  # half a token, then one
    assert b.take(10.0) and b.take(10.0) and b.take(10.0) and not b.take(10.0)  # capped at capacity
