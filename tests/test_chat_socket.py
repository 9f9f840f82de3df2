"""Chat and reactions over the socket: events to everyone in the room, the recent lines
for a (re)subscribing client, a timeout told to its target, and a reaction storm
merged into a bounded number of `reactions` messages per client."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.test_presence_scale import Client, connect

from parlor.actions.chat_board import BY_MAX, INTERVAL_S
from parlor.client import ParlorClient


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(tmp_path / "data", limits=("reactions=1000/10",))
    async with live_server(settings) as s:
        yield s


def named(client: Client, name: str) -> list[dict[str, Any]]:
    return [m["data"] for m in client.events(name)]


def batches(client: Client) -> list[tuple[float, dict[str, Any]]]:
    return [(at, m) for at, m in client.got if m.get("type") == "reactions"]


async def test_chat_events_history_and_timeouts(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as ann, httpx.AsyncClient(base_url=server.url) as bob:
        ann_id, ann_token = await make_member(server, ann, "ann")
        bob_id, bob_token = await make_member(server, bob, "bob")
        room_id = (await ann.post("/api/rooms", json={"title": "Talk"})).json()["id"]
        await bob.post(f"/api/rooms/{room_id}/join")
        ann_ws, bob_ws = await connect(server, ann_token), await connect(server, bob_token)
        try:
            for c in (ann_ws, bob_ws):
                await c.send({"type": "subscribe", "room_id": room_id})
                await c.wait(lambda m: m.get("name") == "room.you")
            assert named(bob_ws, "chat.history") == []  # nothing said yet: nothing sent
            line = (await ann.post(f"/api/rooms/{room_id}/chat", json={"text": "hi @bob"})).json()
            await bob_ws.wait(lambda m: m.get("name") == "chat.message")
            assert named(bob_ws, "chat.message") == [line]
            assert line["mentions"] == [bob_id]
            await ann.patch(f"/api/rooms/{room_id}/chat", json={"slow_mode_s": 10})
            await bob_ws.wait(lambda m: m.get("name") == "chat.settings")
            assert named(bob_ws, "chat.settings") == [{"room_id": room_id, "mode": "everyone", "slow_mode_s": 10}]
            await ann.post(f"/api/rooms/{room_id}/chat/timeouts", json={"user_id": bob_id, "seconds": 30})
            await bob_ws.wait(lambda m: m.get("name") == "chat.you")
            assert named(bob_ws, "chat.you")[0]["timed_out_until"] > 0
            assert named(ann_ws, "chat.you") == []  # told to bob alone
            # A client subscribing again (a new tab, a lost queue) gets the recent lines.
            late = await connect(server, bob_token)
            try:
                await late.send({"type": "subscribe", "room_id": room_id})
                await late.wait(lambda m: m.get("name") == "chat.history")
                history = named(late, "chat.history")[0]
                assert history["messages"] == [line]
                assert (history["mode"], history["slow_mode_s"]) == ("everyone", 10)
                assert history["timed_out_until"] == named(bob_ws, "chat.you")[0]["timed_out_until"]
            finally:
                await late.close()
            assert (await ann.delete(f"/api/rooms/{room_id}/chat/{line['id']}")).status_code == 204
            await bob_ws.wait(lambda m: m.get("name") == "chat.deleted")
            assert named(bob_ws, "chat.deleted") == [{"room_id": room_id, "message_id": line["id"]}]
            # Over the socket: a bad emoji is refused with its code.
            await bob_ws.send({"type": "react", "room_id": room_id, "emoji": "🦄"})
            await bob_ws.wait(lambda m: m.get("type") == "error")
            error = next(m for _, m in bob_ws.got if m.get("type") == "error")
            assert (error["code"], error["ref"]) == ("unknown_emoji", "react")
        finally:
            await ann_ws.close()
            await bob_ws.close()
        assert ann_id


async def test_a_reaction_storm_is_merged(server: LiveServer) -> None:
    people: list[tuple[httpx.AsyncClient, str, str]] = []
    try:
        for i in range(6):
            http = httpx.AsyncClient(base_url=server.url)
            user_id, token = await make_member(server, http, f"fan{i}")
            people.append((http, user_id, token))
        host = people[0][0]
        room_id = (await host.post("/api/rooms", json={"title": "Storm"})).json()["id"]
        for http, _, _ in people[1:]:
            await http.post(f"/api/rooms/{room_id}/join")
        sockets = [await connect(server, token) for _, _, token in people]
        for c in sockets:
            await c.send({"type": "subscribe", "room_id": room_id})
            await c.wait(lambda m: m.get("name") == "room.you")
        # Each of the six sends 40 reactions over the socket, as fast as it can.
        started = asyncio.get_running_loop().time()
        for _ in range(40):
            for c in sockets:
                await c.send({"type": "react", "room_id": room_id, "emoji": "👏"})
        watcher = sockets[-1]

        def total() -> int:
            return sum(m["counts"].get("👏", 0) for _, m in batches(watcher))

        async with asyncio.timeout(15):
            while total() < 240:
                await asyncio.sleep(0.05)
        got = batches(watcher)
        span = got[-1][0] - started
        # One batch at once, then at most one per interval.
        assert len(got) <= 2 + span / INTERVAL_S, (len(got), span)
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(got)]
        assert all(g >= INTERVAL_S * 0.8 for g in gaps), gaps
        senders = {user_id for _, m in got for user_id in m["by"]}
        assert senders == {user_id for _, user_id, _ in people}
        assert all(len(m["by"]) <= BY_MAX for _, m in got)
        for c in sockets:
            await c.close()
    finally:
        for http, _, _ in people:
            await http.aclose()


async def test_python_client_chats_and_reacts(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, ann_token = await make_member(server, http, "ann")
        async with ParlorClient(server.url, ann_token) as ann:
            room = await ann.create_room("Bots")
            session = await ann.join_room(room["id"], media=False)
            line = await session.send_chat("hello from a bot")
            assert line["text"] == "hello from a bot"
            await ann.wait_for(lambda: any(m["id"] == line["id"] for m in session.chat))
            await session.react("🔥")
            await ann.wait_for(lambda: session.reactions.get("🔥", 0) >= 1)
