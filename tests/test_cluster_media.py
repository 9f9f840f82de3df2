"""Three `parlor serve` nodes on one PostgreSQL and one Redis, people spread over them:
a room runs on node A while its listeners and its speaker are on B and C. Their
requests and socket messages reach A through their own nodes (no load balancer: each
client talks to one node only); their media is on their own nodes, and C relays the
speaker's packets to B, which does the last fan-out: every listener hears the speaker
(packets counted by real aiortc peers). Then A is killed with -9: the room lives on on
B or C with the same stage, and everyone still hears the speaker, with no client doing
anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.media.media_helpers import write_tone
from tests.people import setup_body, signup_body
from tests.redis_server import RedisServer
from tests.test_cluster_nodes import Node

from parlor.client import ParlorClient
from parlor.client.media import MediaSession

pytestmark = pytest.mark.media
LOOPBACK = ("127.0.0.1",)
# The acceptance line: heard again within this long of the kill.
HEARD_AGAIN_WITHIN_S = 5.0
# Short, so that the test sees a person whose sockets are all on other nodes stay in
# the room (counted present by the room's node) well past it.
GRACE = {"PARLOR_RECONNECT_GRACE_S": "4"}


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), (response.request.url, response.status_code, response.text)
    return response.json()


async def _members(node: Node, names: list[str]) -> dict[str, tuple[httpx.AsyncClient, str]]:
    """Each name signed up (cookie client) with a bearer token for its bot."""
    admin = httpx.AsyncClient(base_url=node.url, timeout=30.0)
    await _ok(await admin.post("/api/setup", json=setup_body(node.setup_token())))
    out = {}
    for name in names:
        code = (await _ok(await admin.post("/api/invites")))["code"]
        client = httpx.AsyncClient(timeout=30.0)
        await _ok(await client.post(f"{node.url}/api/signup", json=signup_body(code, name)))
        token = (await _ok(await client.post(f"{node.url}/api/tokens", json={"name": "bot"})))["token"]
        out[name] = (client, str(token))
    await admin.aclose()
    return out


async def _metric(node: Node, name: str) -> int:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{node.url}/metrics")).text
    return next(int(float(line.split()[1])) for line in text.splitlines() if line.startswith(name + " "))


async def _live(node: Node) -> tuple[int, int]:
    """(live rooms, media peers) on the node."""
    async with httpx.AsyncClient() as http:
        health = await _ok(await http.get(f"{node.url}/healthz"))
    return int(health["live_rooms"]), int(health["peers"])


async def _eventually(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.05)


def _packets(media: MediaSession | None) -> int:
    return 0 if media is None else media.packets_received


def _stage(view: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((p["username"], p["role"], p["self_muted"], p["mute_locked"]) for p in view["participants"])


@pytest.mark.parametrize("workers", [1, 2], ids=["media-relayed-between-nodes", "media-on-the-rooms-node"])
async def test_a_room_on_one_node_heard_from_two_others_and_after_its_node_is_killed(
    tmp_path: Path, postgres_url: str, redis: RedisServer, workers: int
) -> None:
    """With media in the node's process (`--workers 1`), each person's media is on their
    own node and the nodes relay speakers to each other; with media workers, a room's
    media is on the room's node (the relay between nodes is built for in-process media
    only), and after the kill everyone's media connects again to the room's new node."""
    relayed = workers == 1
    env = {**GRACE, "PARLOR_WORKERS": str(workers)}
    a = Node(tmp_path, "a", postgres_url, redis.url, extra_env=env)
    nodes = [a]
    bots: list[ParlorClient] = []
    http: list[httpx.AsyncClient] = []
    try:
        people = await _members(a, ["ann", "bob", "cat", "dan"])  # a's setup link: before the others start
        http.extend(client for client, _ in people.values())
        b = Node(tmp_path, "b", postgres_url, redis.url, extra_env=env)
        nodes.append(b)
        c = Node(tmp_path, "c", postgres_url, redis.url, extra_env=env)
        nodes.append(c)
        ann = people["ann"][0]
        rid = (await _ok(await ann.post(f"{a.url}/api/rooms", json={"title": "Across three nodes"})))["id"]
        assert [await _live(n) for n in (a, b, c)] == [(1, 0), (0, 0), (0, 0)]

        def bot(name: str, node: Node) -> ParlorClient:
            client = ParlorClient(node.url, people[name][1], ice_hosts=LOOPBACK)
            bots.append(client)
            return client

        ann_bot, bob, cat, dan = bot("ann", a), bot("bob", b), bot("cat", c), bot("dan", c)
        for client in (ann_bot, bob, cat, dan):
            await client.connect()
        await ann_bot.join_room(rid, media=False)  # her socket, on A
        tone = write_tone(tmp_path / "cat.wav", seconds=4, freq=440)
        # Joined, subscribed and media connected through B and C; the room stays on A.
        bob_room = await bob.join_room(rid)
        dan_room = await dan.join_room(rid)
        cat_room = await cat.join_room(rid, send_wav=tone)
        cat_id = cat_room.me()["user_id"]  # type: ignore[index]
        await _ok(await ann.post(f"{a.url}/api/rooms/{rid}/speak-invites", json={"user_id": cat_id}))
        await cat_room.post("speak-invite/accept", {})  # through C
        await cat_room.post("mute", {"muted": False})  # through C
        # a client posing as a node is refused (its request is not signed with the node key)
        async with httpx.AsyncClient() as stranger:
            for headers in ({}, {"x-parlor-hop": "1.abc"}):
                body = {"op": "attach", "user_id": cat_id, "room_id": rid, "node_id": "x", "message": ""}
                r = await stranger.post(f"{a.url}/internal/room-op", json=body, headers=headers)
                assert r.status_code == 403, r.text
        await _eventually(
            lambda: _packets(bob_room.media) > 50 and _packets(dan_room.media) > 50, 15, "listeners on B and C hear C"
        )
        if relayed:
            # the room is on A, each person's media on their own node: Bob's on B, Cat's and Dan's on C
            assert [await _live(n) for n in (a, b, c)] == [(1, 0), (0, 1), (0, 2)]
            # C sent Cat's packets to B (once each: B is the only other node with peers), B took them
            assert await _metric(c, "parlor_node_relay_sent_total") > 50
            assert await _metric(b, "parlor_node_relay_received_total") > 50
            assert await _metric(a, "parlor_node_relay_sent_total") == 0
            assert await _metric(b, "parlor_node_relay_refused_total") == 0
        else:
            # the room and all its media on A
            assert [await _live(n) for n in (a, b, c)] == [(1, 3), (0, 0), (0, 0)]
        # The room's node counts every one of them as present (their sockets are on B
        # and C): nobody is removed when the reconnect grace has long passed.
        await asyncio.sleep(6)
        before = await _ok(await ann.get(f"{b.url}/api/rooms/{rid}"))
        assert {p["username"] for p in before["participants"]} == {"ann", "bob", "cat", "dan"}

        a.kill()
        killed = time.monotonic()
        media = (bob_room.media, dan_room.media)
        at_kill = [_packets(m) for m in media]

        def heard_again() -> bool:
            if relayed:  # the same connections hear on
                return all(_packets(m) > n + 10 for m, n in zip(media, at_kill, strict=True))
            now = (bob_room.media, dan_room.media)  # new connections, to the room's new node
            return all(m is not None and m not in media and _packets(m) > 10 for m in now)

        await _eventually(heard_again, 20, "heard after the kill")
        heard_in = time.monotonic() - killed
        print(f"heard {heard_in:.2f} s after the kill")
        assert heard_in <= HEARD_AGAIN_WITHIN_S, heard_in
        while (r := await people["bob"][0].get(f"{b.url}/api/rooms/{rid}")).status_code != 200:
            assert r.json()["error"]["code"] == "room_moving", r.text  # until B or C takes it over
            assert time.monotonic() - killed < 10, r.text
            await asyncio.sleep(0.1)
        print(f"taken over {time.monotonic() - killed:.2f} s after the kill")
        assert _stage(r.json()) == _stage(before)
        (rooms_b, peers_b), (rooms_c, peers_c) = await _live(b), await _live(c)
        assert rooms_b + rooms_c == 1  # the room moved to B or C
        assert peers_b + peers_c == 3
        if relayed:  # and its media never stopped: the same connections, hearing Cat on
            await asyncio.sleep(3)
            assert (bob_room.media, dan_room.media) == media
            assert all(_packets(m) > n + 100 for m, n in zip(media, at_kill, strict=True))
    finally:
        for client in bots:
            await client.close()
        for h in http:
            await h.aclose()
        for node in nodes:
            node.stop()
