"""Several nodes on one PostgreSQL and one Redis (a real redis-server of the test's own):
leases, nodes that see each other, rooms a starting node leaves alone, reminders sent
once across nodes, sockets told to resync after a Redis outage, and clear refusals at
start (Redis unreachable, a node of another version, a database of a newer schema)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from tests.conftest import Person, fresh_postgres, make_settings, running_instance
from tests.live import live_server, make_member
from tests.redis_server import RedisServer
from tests.test_cli import one_line_error, run_parlor
from tests.test_event_reminders import LEAD, START, kinds, setup_event
from tests.test_events import drive, listen, notes
from tests.test_socket import Sock, connect

from parlor import __version__
from parlor.cluster.base import Cluster
from parlor.cluster.local import LocalCluster
from parlor.cluster.redis import NODE, RedisCluster
from parlor.storage import rooms as room_store
from parlor.storage.db import schema_head


async def until(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


# -- leases ---------------------------------------------------------------------------------------


@pytest.fixture(params=["local", "redis"])
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    if request.param == "local":
        yield LocalCluster("a")
        return
    made = RedisCluster(request.getfixturevalue("redis").url, "a")
    try:
        yield made
    finally:
        await made.close()


async def test_a_lease_is_held_renewed_and_let_go(cluster: Cluster) -> None:
    assert await cluster.holders(["room:x", "room:y"]) == [None, None]
    assert await cluster.acquire("room:x", 5.0)
    assert await cluster.acquire("room:x", 5.0)  # already ours: renewed
    assert await cluster.holders(["room:x", "room:y"]) == ["a", None]
    assert await cluster.renew(["room:x"], 5.0) == []
    await cluster.release("room:x")
    assert await cluster.holders(["room:x"]) == [None]
    assert await cluster.acquire("room:z", 0.2)
    await asyncio.sleep(0.3)
    assert await cluster.holders(["room:z"]) == [None]  # lapsed
    # Renewing a lapsed lease says so where another node might have taken it meanwhile;
    # a cluster of one simply holds it again.
    assert await cluster.renew(["room:z"], 5.0) == ([] if isinstance(cluster, LocalCluster) else ["room:z"])


async def test_what_one_node_remembers_every_node_recalls_until_it_expires(cluster: Cluster) -> None:
    assert await cluster.recall("contact-match:u1:w1") is None
    await cluster.remember({"contact-match:u1:w1": "1.5", "contact-match:u1:w2": "2.5"}, 0.3)
    assert [await cluster.recall(k) for k in ("contact-match:u1:w1", "contact-match:u1:w2")] == ["1.5", "2.5"]
    await asyncio.sleep(0.4)
    assert await cluster.recall("contact-match:u1:w1") is None


async def test_a_contact_matched_on_one_node_can_be_let_in_from_another(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    """The let-in window (a member may let in a waitlisted person they found among their
    contacts in the last 15 minutes) is kept in Redis: the next request may land on
    another node behind the load balancer."""
    from tests.test_contacts import find, join_waitlist

    from parlor.client import contacts as cc

    async with running_instance(tmp_path / "a", **shared) as a:
        ann = await a.member("ann")  # set up on a, before b starts
        eve_id, _, eve = await join_waitlist(a, "eve")
        await cc.add_findable(eve, "email", "eve@example.org", waitlist=True)
        async with running_instance(tmp_path / "b", **shared) as b:
            ann_on_b = Person(b.client(), ann.user)
            ann_on_b.http.cookies = ann.http.cookies
            r = await ann_on_b.post("/api/contacts/let-in", json={"entry_id": eve_id})
            assert r.status_code == 403 and r.json()["error"]["code"] == "contact_not_matched"
            found = await find(ann, ["eve@example.org"])  # on node a
            assert [w["id"] for w in found.waitlisted] == [eve_id]
            r = await ann_on_b.post("/api/contacts/let-in", json={"entry_id": eve_id})
            assert r.status_code == 200, r.text
            assert r.json()["entry"]["status"] == "admitted"


async def test_one_node_holds_a_lease_until_it_lapses_then_another_takes_it(redis: RedisServer) -> None:
    a, b = RedisCluster(redis.url, "a"), RedisCluster(redis.url, "b")
    try:
        assert await a.acquire("scheduler", 0.4)
        assert not await b.acquire("scheduler", 0.4)  # held by a: b does not run it
        await b.release("scheduler")  # not b's to let go
        assert await a.holders(["scheduler"]) == ["a"]
        assert await b.renew(["scheduler"], 5.0) == ["scheduler"]  # b holds nothing
        await asyncio.sleep(0.5)  # a died: its lease lapses ...
        assert await b.acquire("scheduler", 0.4)  # ... and b takes the work over
        assert not await a.acquire("scheduler", 0.4)
    finally:
        await a.close()
        await b.close()


# -- two nodes on one PostgreSQL and one Redis --------------------------------------------------


@pytest.fixture
async def shared(tmp_path: Path, redis: RedisServer) -> AsyncIterator[dict[str, str]]:
    async with fresh_postgres() as url:
        yield {"database_url": url, "redis_url": redis.url}


async def test_nodes_see_each_other_and_a_starting_node_leaves_live_rooms_alone(
    tmp_path: Path, shared: dict[str, str], redis: RedisServer
) -> None:
    async with running_instance(tmp_path / "a", public_url="http://a.example", **shared) as a:
        ann = await a.member("ann")
        room = (await ann.post("/api/rooms", json={"title": "Still here"})).json()
        async with running_instance(tmp_path / "b", public_url="http://b.example", **shared) as b:
            nodes = await b.services.cluster.nodes()
            assert sorted(n.public_url for n in nodes) == ["http://a.example", "http://b.example"]
            assert {n.version for n in nodes} == {__version__} and {n.schema for n in nodes} == {schema_head()}
            # b's start did not end a's room: a holds its lease
            r = await ann.http.get(f"/api/rooms/{room['id']}")
            assert r.status_code == 200 and r.json()["ended"] is False, r.text
            async with b.services.db.engine.connect() as conn:
                assert room["id"] in await room_store.open_room_ids(conn)
            a_cluster = a.services.cluster
            assert await a_cluster.holders([f"room:{room['id']}"]) == [a_cluster.node_id]
            # A room left open by a node that died (nobody holds its lease): the next node
            # to start ends it, as its live state died with its node; a's room lives on.
            async with b.services.db.engine.begin() as conn:
                await room_store.insert_room(conn, "r_crashedroom0000", "Gone", ann.id, 1.0)
            async with running_instance(tmp_path / "c", **shared) as c:
                async with c.services.db.engine.connect() as conn:
                    still_open = await room_store.open_room_ids(conn)
            assert room["id"] in still_open and "r_crashedroom0000" not in still_open


async def test_each_reminder_goes_out_once_across_two_nodes(tmp_path: Path, shared: dict[str, str]) -> None:
    from parlor.actions.events import run_due_reminders

    async with running_instance(tmp_path / "a", **shared) as a:
        drive(a)
        _, (bob, cat), event_id = await setup_event(a)  # made on a, before b starts
        async with running_instance(tmp_path / "b", **shared) as b:
            drive(b)
            heard_on_b = listen(b, bob)  # bob's socket is on node b
            await b.services.bus.ready()
            # both nodes' schedulers come round at once, three times each
            sent = await asyncio.gather(
                *(run_due_reminders(s, START - LEAD + 1) for s in (a.services, b.services) for _ in range(3))
            )
            assert sum(sent) == 2  # bob and cat, once each
            assert await kinds(bob) == await kinds(cat) == [("event_reminder", None)]
            await until(lambda: len(notes(heard_on_b)) >= 1)
            await asyncio.sleep(0.2)
            assert notes(heard_on_b) == [("event_reminder", event_id)]  # once, made on either node


# -- a Redis outage, as a socket sees it ----------------------------------------------------------


async def test_after_a_redis_outage_a_socket_is_told_to_fetch_its_state_again(
    tmp_path: Path, redis: RedisServer
) -> None:
    settings = make_settings(tmp_path / "data", redis_url=redis.url)
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        room = (await http.post("/api/rooms", json={"title": "Outage"})).json()
        sock, welcome = await connect(server, token)
        await sock.send({"type": "subscribe", "room_id": room["id"]})
        await sock.recv_until(lambda m: m.get("name") == "room.you")
        bus = server.app.state.services.bus

        redis.kill()
        await until(lambda: not bus.connected)
        redis.start()
        # Events of the outage may be lost: the socket is closed, and its queue cannot be
        # resumed, so the client starts afresh and fetches the state again.
        with pytest.raises(websockets.ConnectionClosed):
            await sock.recv_until(lambda _m: False, timeout=15)
        again, welcome_again = await connect(
            server, token, {"type": "hello", "queue_id": welcome["queue_id"], "last_event_id": 3}
        )
        assert welcome_again["resumed"] is False
        # ... and the room is still there for it, with its person in it
        await again.send({"type": "subscribe", "room_id": room["id"]})
        you = await again.recv_until(lambda m: m.get("name") == "room.you")
        assert you["data"]["participant"] is not None
        await again.ws.close()
        assert isinstance(again, Sock)


# -- refused at start, nothing changed ------------------------------------------------------------


def _db_files(data: Path) -> list[str]:
    return sorted(p.name for p in data.glob("*.db*")) if data.exists() else []


def test_serve_with_redis_down_says_so_without_the_password(tmp_path: Path) -> None:
    nowhere = RedisServer(tmp_path / "redis")  # a free port, never started
    url = nowhere.url.replace("redis://", "redis://:s3cret-pw@")
    data = tmp_path / "data"
    result = run_parlor("serve", "--data-dir", str(data), "--redis-url", url)
    one_line_error(result, "cannot reach Redis", f"127.0.0.1:{nowhere.port}", "--redis-url")
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert _db_files(data) == []  # refused before the database was made


def test_serve_with_a_wrong_redis_url_says_so(tmp_path: Path) -> None:
    result = run_parlor("serve", "--data-dir", str(tmp_path / "data"), "--redis-url", "http://127.0.0.1:1/")
    assert result.returncode == 2 and "redis" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr


def test_serve_beside_a_node_of_another_version_is_refused(tmp_path: Path, redis: RedisServer) -> None:
    other = {"node_id": "old1", "version": "0.0.1", "schema": "0003", "public_url": "http://old.example"}
    import redis as sync_redis

    client = sync_redis.Redis.from_url(redis.url)
    client.set(NODE + "old1", json.dumps(other), px=60_000)
    client.close()
    data = tmp_path / "data"
    result = run_parlor("serve", "--data-dir", str(data), "--redis-url", redis.url)
    one_line_error(result, "node old1", "http://old.example", "Parlor 0.0.1", "same version")
    assert _db_files(data) == []


def test_serve_on_a_database_of_a_newer_schema_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_parlor("migrate", "--data-dir", str(data)).returncode == 0
    db_file = next(p for p in data.glob("*.db"))
    with sqlite3.connect(db_file) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    db.close()
    result = run_parlor("serve", "--data-dir", str(data))
    one_line_error(result, "schema revision 0099", "newer", "Nothing was changed")
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall() == tables
    db.close()
