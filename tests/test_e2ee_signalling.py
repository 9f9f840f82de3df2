"""End-to-end encrypted rooms, the server's side (docs/E2EE.md §5, §7): the room's flag
everywhere a room is shown, public keys in the people list, wrapped room keys relayed to
their one recipient (on any node), stable refusals that change nothing, and a chat that
takes only encrypted lines. On SQLite and on PostgreSQL, against a real server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from tests.conftest import fresh_postgres, make_settings
from tests.live import LiveServer, live_server, make_member
from tests.redis_server import RedisServer, redis_process
from tests.test_presence_scale import Client, connect

from parlor import protocol as p
from parlor.client import ParlorClient
from parlor.domain import room_mirror
from parlor.domain import rooms as rooms_domain
from parlor.domain.chat import ENCRYPTED_MESSAGE_MAX, MESSAGE_MAX
from parlor.storage import accounts, tables
from parlor.storage.db import Database, _alembic_config


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key(n: int) -> str:
    """A well-formed (not necessarily on-curve: the server does not look) P-256 point."""
    return b64(b"\x04" + bytes([n]) * 64)


WRAPPED = b64(bytes(range(44)))  # nonce 12 || AES-128-GCM(16-byte key) 32: 59 characters


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(tmp_path / "data", database_url=database_url, guest_rooms=True)
    async with live_server(settings) as s:
        yield s


async def member(server: LiveServer, name: str) -> tuple[httpx.AsyncClient, str, str]:
    http = httpx.AsyncClient(base_url=server.url, timeout=30.0)
    user_id, token = await make_member(server, http, name)
    return http, user_id, token


async def subscribed(server: LiveServer, token: str, room_id: str) -> Client:
    ws = await connect(server, token)
    await ws.send({"type": "subscribe", "room_id": room_id})
    await ws.wait(lambda m: m.get("name") == "room.you")
    return ws


def states(client: Client, since: int = 0) -> list[dict[str, Any]]:
    return [m["data"] for m in client.events("room.state", since)]


def person(state: dict[str, Any], user_id: str) -> dict[str, Any]:
    return next(x for x in state["participants"] if x["user_id"] == user_id)


async def error_after(client: Client, since: int, message: dict[str, Any]) -> dict[str, Any]:
    """Send `message`; the error it is answered with."""
    await client.send(message)
    await client.wait(lambda m: m.get("type") == "error", since)
    return next(m for _, m in client.got[since:] if m.get("type") == "error")


def live_room(server: LiveServer, room_id: str) -> rooms_domain.Room:
    room = server.app.state.services.live.get(room_id)
    assert room is not None
    return room


async def test_an_encrypted_room_says_so_everywhere(server: LiveServer) -> None:
    ann, _, _ = await member(server, "ann")
    bob, _, bob_token = await member(server, "bob")
    try:
        made = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()
        plain = (await ann.post("/api/rooms", json={"title": "Loud"})).json()
        assert (made["encrypted"], plain["encrypted"]) == (True, False)
        assert (await bob.get(f"/api/rooms/{made['id']}")).json()["encrypted"] is True
        cards = {c["id"]: c for c in (await bob.get("/api/rooms")).json()["rooms"]}
        assert (cards[made["id"]]["encrypted"], cards[plain["id"]]["encrypted"]) == (True, False)
        assert (await bob.post(f"/api/rooms/{made['id']}/join")).json()["encrypted"] is True
        ws = await subscribed(server, bob_token, made["id"])
        try:
            assert states(ws)[-1]["encrypted"] is True
            # Nobody has published yet: everyone's key is null.
            assert {(x["public_key"], x["keyed_since"]) for x in states(ws)[-1]["participants"]} == {(None, None)}
        finally:
            await ws.close()
        # Stored, and carried by the cluster's copy of the room.
        async with server.app.state.services.db.engine.connect() as conn:
            rows = dict((await conn.execute(sa.select(tables.rooms.c.id, tables.rooms.c.encrypted))).all())
        assert (rows[made["id"]], rows[plain["id"]]) == (True, False)
        room = live_room(server, made["id"])
        assert room_mirror.from_json(room_mirror.to_json(room)) == room
    finally:
        await ann.aclose()
        await bob.aclose()


async def test_a_guest_room_is_encrypted_if_its_opener_says_so(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as gus, httpx.AsyncClient(base_url=server.url) as gil:
        r = await gus.post("/api/guest-rooms/hush/enter", json={"display_name": "Gus", "encrypted": True})
        assert r.status_code == 200, r.text
        assert r.json()["room"]["encrypted"] is True
        assert (await gus.get("/api/guest-rooms/hush")).json()["encrypted"] is True
        # The room is encrypted for its whole life: a later arrival does not change it.
        r = await gil.post("/api/guest-rooms/hush/enter", json={"display_name": "Gil", "encrypted": False})
        assert r.json()["room"]["encrypted"] is True
        r = await gil.post("/api/guest-rooms/plain/enter", json={"display_name": "Gil"})
        assert r.json()["room"]["encrypted"] is False


async def test_published_keys_show_in_the_people_list_until_the_person_leaves(server: LiveServer) -> None:
    ann, ann_id, ann_token = await member(server, "ann")
    bob, bob_id, bob_token = await member(server, "bob")
    room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
    await bob.post(f"/api/rooms/{room_id}/join")
    ann_ws, bob_ws = await subscribed(server, ann_token, room_id), await subscribed(server, bob_token, room_id)
    try:
        since = len(ann_ws.got)
        await bob_ws.send({"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(1)})
        await ann_ws.wait(lambda m: m.get("name") == "room.state" and person(m["data"], bob_id)["public_key"], since)
        bob_seen = person(states(ann_ws, since)[-1], bob_id)
        assert bob_seen["public_key"] == public_key(1)
        keyed_since = bob_seen["keyed_since"]
        assert isinstance(keyed_since, float) and person(states(ann_ws, since)[-1], ann_id)["public_key"] is None
        await bob_ws.wait(lambda m: m.get("name") == "room.you" and m["data"]["participant"]["public_key"])
        # The same key again changes nothing (keyed_since stays); a new one is a new time.
        version = live_room(server, room_id).version
        await bob_ws.send({"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(1)})
        await bob_ws.send({"type": "ping"})
        await bob_ws.wait(lambda m: m.get("type") == "pong")
        assert live_room(server, room_id).version == version
        assert (await ann.get(f"/api/rooms/{room_id}")).json()["participants"][1]["keyed_since"] == keyed_since
        await bob_ws.send({"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(2)})
        await ann_ws.wait(
            lambda m: m.get("name") == "room.state" and person(m["data"], bob_id)["public_key"] == public_key(2)
        )
        assert person(states(ann_ws)[-1], bob_id)["keyed_since"] >= keyed_since
        # A reconnect keeps the key; leaving drops it, and a comer back starts unkeyed.
        await bob_ws.close()
        bob_ws = await subscribed(server, bob_token, room_id)
        assert person(states(bob_ws)[-1], bob_id)["public_key"] == public_key(2)
        assert (await bob.post(f"/api/rooms/{room_id}/leave")).status_code == 200
        await bob.post(f"/api/rooms/{room_id}/join")
        assert person((await bob.get(f"/api/rooms/{room_id}")).json(), bob_id)["public_key"] is None
        assert live_room(server, room_id).participants[bob_id].keyed_since is None
    finally:
        await ann_ws.close()
        await bob_ws.close()
        await ann.aclose()
        await bob.aclose()


BAD_KEYS = [
    public_key(1) + "A" * 14,  # 101 characters
    public_key(1)[:-1] + "+",  # not base64url
    public_key(1) + "=",  # padded
    b64(b"\x04" + b"\x01" * 63),  # 64 bytes
    b64(b"\x04" + b"\x01" * 65),  # 66 bytes
    b64(b"\x02" + b"\x01" * 64),  # not uncompressed
    "",
]


async def test_bad_input_is_refused_with_stable_codes_and_changes_nothing(server: LiveServer) -> None:
    ann, _, ann_token = await member(server, "ann")
    bob, bob_id, bob_token = await member(server, "bob")
    room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
    plain_id = (await ann.post("/api/rooms", json={"title": "Loud"})).json()["id"]
    await bob.post(f"/api/rooms/{room_id}/join")
    await bob.post(f"/api/rooms/{plain_id}/join")
    ann_ws, bob_ws = await subscribed(server, ann_token, room_id), await subscribed(server, bob_token, room_id)
    try:
        version = live_room(server, room_id).version
        for bad in BAD_KEYS:
            error = await error_after(
                ann_ws, len(ann_ws.got), {"type": "e2ee.publish", "room_id": room_id, "public_key": bad}
            )
            assert (error["code"], error["ref"]) == ("bad_key", "e2ee.publish"), bad
        key = {"type": "e2ee.key", "room_id": room_id, "to": bob_id, "epoch": 1, "wrapped": WRAPPED}
        for bad_fields in (
            {"wrapped": "A" * 101},
            {"wrapped": "a+b/"},
            {"wrapped": WRAPPED + "="},
            {"wrapped": ""},
            {"epoch": 0},
            {"epoch": -1},
            {"epoch": 2**31},
        ):
            error = await error_after(ann_ws, len(ann_ws.got), {**key, **bad_fields})
            assert (error["code"], error["ref"]) == ("bad_key", "e2ee.key"), bad_fields
        # The wrong JSON type is a malformed message, as anywhere on the socket.
        error = await error_after(ann_ws, len(ann_ws.got), {**key, "epoch": "1"})
        assert error["code"] == "bad_message"
        # Not encrypted, not in the room (either side), no such room.
        error = await error_after(ann_ws, len(ann_ws.got), {**key, "room_id": plain_id})
        assert (error["code"], error["ref"]) == ("not_encrypted", "e2ee.key")
        publish_plain = {"type": "e2ee.publish", "room_id": plain_id, "public_key": public_key(1)}
        assert (await error_after(ann_ws, len(ann_ws.got), publish_plain))["code"] == "not_encrypted"
        error = await error_after(ann_ws, len(ann_ws.got), {**key, "to": "u_nobody00000000"})
        assert (error["code"], error["ref"]) == ("not_in_room", "e2ee.key")
        cat, _, cat_token = await member(server, "cat")
        cat_ws = await connect(server, cat_token)
        try:
            publish = {"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(3)}
            assert (await error_after(cat_ws, 0, publish))["code"] == "not_in_room"
            error = await error_after(cat_ws, len(cat_ws.got), key)
            assert (error["code"], error["ref"]) == ("not_in_room", "e2ee.key")
        finally:
            await cat_ws.close()
            await cat.aclose()
        # Nothing changed, and bob got no key.
        assert live_room(server, room_id).version == version
        assert all(x.public_key is None for x in live_room(server, room_id).participants.values())
        assert not [m for _, m in bob_ws.got if m.get("type") == "e2ee.key"]
    finally:
        await ann_ws.close()
        await bob_ws.close()
        await ann.aclose()
        await bob.aclose()


async def test_a_wrapped_key_reaches_only_its_recipient(server: LiveServer) -> None:
    ann, ann_id, ann_token = await member(server, "ann")
    bob, bob_id, bob_token = await member(server, "bob")
    cat, cat_id, cat_token = await member(server, "cat")
    room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
    for http in (bob, cat):
        await http.post(f"/api/rooms/{room_id}/join")
    sockets = [await subscribed(server, t, room_id) for t in (ann_token, bob_token, cat_token, bob_token)]
    ann_ws, bob_ws, cat_ws, bob_tab = sockets
    try:
        await ann_ws.send({"type": "e2ee.key", "room_id": room_id, "to": bob_id, "epoch": 7, "wrapped": WRAPPED})
        wanted = {"type": "e2ee.key", "room_id": room_id, "from": ann_id, "epoch": 7, "wrapped": WRAPPED}
        for ws in (bob_ws, bob_tab):  # every socket of bob's
            await ws.wait(lambda m: m.get("type") == "e2ee.key")
            assert [m for _, m in ws.got if m.get("type") == "e2ee.key"] == [wanted]
            assert p.parse_server(json.dumps(wanted)) == p.E2eeKey(room_id, ann_id, 7, WRAPPED)
        # cat's socket and ann's own get nothing (a ping's answer comes after anything sent before).
        for ws in (cat_ws, ann_ws):
            since = len(ws.got)
            await ws.send({"type": "ping"})
            await ws.wait(lambda m: m.get("type") == "pong", since)
            assert not [m for _, m in ws.got if m.get("type") in ("e2ee.key", "error")]
        # Once cat has left, a key for cat is refused.
        await cat.post(f"/api/rooms/{room_id}/leave")
        error = await error_after(
            ann_ws,
            len(ann_ws.got),
            {"type": "e2ee.key", "room_id": room_id, "to": cat_id, "epoch": 8, "wrapped": WRAPPED},
        )
        assert (error["code"], error["ref"]) == ("not_in_room", "e2ee.key")
    finally:
        for ws in sockets:
            await ws.close()
        for http in (ann, bob, cat):
            await http.aclose()


async def test_chat_in_an_encrypted_room_takes_only_encrypted_lines(server: LiveServer) -> None:
    ann, _, _ = await member(server, "ann")
    bob, _, bob_token = await member(server, "bob")
    room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
    plain_id = (await ann.post("/api/rooms", json={"title": "Loud"})).json()["id"]
    await bob.post(f"/api/rooms/{room_id}/join")
    bob_ws = await subscribed(server, bob_token, room_id)
    try:
        for text in ("hello", "e2ee:1:1:", "e2ee:2:1:abc", "e2ee:1:12345678901:abc", "e2ee:1:1:ab+c", " e2ee:1:1:abc"):
            r = await ann.post(f"/api/rooms/{room_id}/chat", json={"text": text})
            assert (r.status_code, r.json()["error"]["code"]) == (400, "encrypted_chat_only"), text
        # The longest line a MESSAGE_MAX-character message makes goes through, one more does not.
        longest = "e2ee:1:4294967295:" + "A" * (ENCRYPTED_MESSAGE_MAX - 18)
        assert ENCRYPTED_MESSAGE_MAX - 18 >= (12 + 4 * MESSAGE_MAX + 16) * 4 / 3
        r = await ann.post(f"/api/rooms/{room_id}/chat", json={"text": longest + "A"})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "chat_too_long")
        assert (await ann.post(f"/api/rooms/{room_id}/chat", json={"text": longest})).status_code == 201
        line = "e2ee:1:3:" + b64(bytes(range(40)))
        sent = (await ann.post(f"/api/rooms/{room_id}/chat", json={"text": line})).json()
        assert sent["text"] == line
        await bob_ws.wait(lambda m: m.get("name") == "chat.message" and m["data"]["text"] == line)
        # Reported, the line is kept as it came: its ciphertext.
        report = {"target": {"kind": "message", "id": sent["id"]}, "reason": "spam", "room_id": room_id}
        assert (await bob.post("/api/reports", json=report)).status_code == 201
        report = {"target": {"kind": "message", "id": (await _last_line(bob, room_id, longest))}, "reason": "spam"}
        assert (await bob.post("/api/reports", json={**report, "room_id": room_id})).status_code == 201
        async with server.app.state.services.db.engine.connect() as conn:
            kept = set((await conn.execute(sa.select(tables.reports.c.message_text))).scalars())
        assert kept == {line, longest}
        # A plain room is as before: plain text, an e2ee-looking line is just text.
        assert (await ann.post(f"/api/rooms/{plain_id}/chat", json={"text": "hello"})).status_code == 201
        r = await ann.post(f"/api/rooms/{plain_id}/chat", json={"text": longest})
        assert r.json()["error"]["code"] == "chat_too_long"
    finally:
        await bob_ws.close()
        await ann.aclose()
        await bob.aclose()


async def _last_line(http: httpx.AsyncClient, room_id: str, text: str) -> str:
    lines = (await http.get(f"/api/rooms/{room_id}/chat")).json()["messages"]
    return str(next(m["id"] for m in lines if m["text"] == text))


async def test_migration_0015_goes_down_and_up(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.engine.begin() as conn:
            await accounts.insert_user(
                conn,
                user_id="u_ann",
                username="ann",
                display_name="Ann",
                password_hash="x",
                is_admin=False,
                invited_by=None,
                now=1.0,
            )
            await conn.execute(
                tables.rooms.insert().values(
                    id="r_1", title="Quiet", created_by="u_ann", created_at=1.0, encrypted=True
                )
            )
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), "0014"))
        async with db.engine.connect() as conn:
            columns = await conn.run_sync(lambda c: {x["name"] for x in sa.inspect(c).get_columns("rooms")})
            assert "encrypted" not in columns
            assert (await conn.execute(sa.text("select title from rooms"))).scalar_one() == "Quiet"
        await db.migrate()
        async with db.engine.connect() as conn:
            row = (await conn.execute(sa.select(tables.rooms.c.id, tables.rooms.c.encrypted))).one()
            assert tuple(row) == ("r_1", False)  # as every room before 0015: not encrypted
            version = (await conn.execute(sa.text("select version_num from alembic_version"))).scalar_one()
            assert version == "0016"  # the head
    finally:
        await db.close()


@pytest.fixture
def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    with redis_process(tmp_path / "redis") as server:
        yield server


async def test_a_wrapped_key_reaches_the_recipients_socket_on_another_node(tmp_path: Path, redis: RedisServer) -> None:
    async with fresh_postgres() as url:
        shared = {"database_url": url, "redis_url": redis.url}
        async with live_server(make_settings(tmp_path / "a", **shared)) as a:
            ann, ann_id, ann_token = await member(a, "ann")
            bob, bob_id, bob_token = await member(a, "bob")
            cat, _, cat_token = await member(a, "cat")
            room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
            for http in (bob, cat):
                await http.post(f"/api/rooms/{room_id}/join")
            ann_ws = await subscribed(a, ann_token, room_id)
            try:
                async with live_server(make_settings(tmp_path / "b", **shared)) as b:
                    # bob's and cat's sockets on node b (their user channels; the room lives on a)
                    bob_ws, cat_ws = await connect(b, bob_token), await connect(b, cat_token)
                    await b.app.state.services.bus.ready()  # b hears their channels from a
                    try:
                        key = {"type": "e2ee.key", "room_id": room_id, "to": bob_id, "epoch": 2, "wrapped": WRAPPED}
                        await ann_ws.send(key)
                        await bob_ws.wait(lambda m: m.get("type") == "e2ee.key")
                        got = [m for _, m in bob_ws.got if m.get("type") == "e2ee.key"]
                        wanted = {
                            "type": "e2ee.key",
                            "room_id": room_id,
                            "from": ann_id,
                            "epoch": 2,
                            "wrapped": WRAPPED,
                        }
                        assert got == [wanted]
                        await asyncio.sleep(0.3)
                        assert not [m for _, m in cat_ws.got if m.get("type") == "e2ee.key"]
                    finally:
                        await bob_ws.close()
                        await cat_ws.close()
            finally:
                await ann_ws.close()
                for http in (ann, bob, cat):
                    await http.aclose()


async def test_rate_limits(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", limits=("e2ee_publish=2/600", "e2ee_key=3/600"))
    async with live_server(settings) as server:
        ann, _, ann_token = await member(server, "ann")
        bob, bob_id, _ = await member(server, "bob")
        room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
        other_id = (await ann.post("/api/rooms", json={"title": "Hush", "encrypted": True})).json()["id"]
        await bob.post(f"/api/rooms/{room_id}/join")
        ann_ws = await subscribed(server, ann_token, room_id)
        try:
            codes = []
            for n in range(3):
                message = {"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(n)}
                since = len(ann_ws.got)
                await ann_ws.send(message)
                await ann_ws.send({"type": "ping"})
                await ann_ws.wait(lambda m: m.get("type") == "pong", since)
                codes.append([m["code"] for _, m in ann_ws.got[since:] if m.get("type") == "error"])
            assert codes == [[], [], ["rate_limited"]]
            # Counted per room: another room is a fresh count.
            since = len(ann_ws.got)
            await ann_ws.send({"type": "e2ee.publish", "room_id": other_id, "public_key": public_key(9)})
            await ann_ws.send({"type": "ping"})
            await ann_ws.wait(lambda m: m.get("type") == "pong", since)
            assert not [m for _, m in ann_ws.got[since:] if m.get("type") == "error"]
            other = live_room(server, other_id)
            assert other.participants[other.created_by].public_key == public_key(9)
            key = {"type": "e2ee.key", "room_id": room_id, "to": bob_id, "epoch": 1, "wrapped": WRAPPED}
            codes = []
            for _ in range(4):
                since = len(ann_ws.got)
                await ann_ws.send(key)
                await ann_ws.send({"type": "ping"})
                await ann_ws.wait(lambda m: m.get("type") == "pong", since)
                codes.append([m["code"] for _, m in ann_ws.got[since:] if m.get("type") == "error"])
            assert codes == [[], [], [], ["rate_limited"]]
        finally:
            await ann_ws.close()
            await ann.aclose()
            await bob.aclose()


def test_the_server_to_client_key_message_says_from_on_the_wire() -> None:
    message = p.E2eeKey(room_id="r_1", from_="u_ann", epoch=3, wrapped=WRAPPED)
    assert json.loads(message.to_json()) == {
        "type": "e2ee.key",
        "room_id": "r_1",
        "from": "u_ann",
        "epoch": 3,
        "wrapped": WRAPPED,
    }
    assert p.parse_server(message.to_json()) == message
    with pytest.raises(p.ProtocolError):
        p.parse_server(json.dumps({"type": "e2ee.key", "room_id": "r", "from_": "u", "epoch": 1, "wrapped": "x"}))
    # The client's e2ee.key names the recipient, and is no server message.
    sent = p.parse_client(json.dumps({"type": "e2ee.key", "room_id": "r", "to": "u", "epoch": 1, "wrapped": "x"}))
    assert sent == p.E2eeKeySend("r", "u", 1, "x")


async def test_the_python_client_publishes_sends_and_receives_keys(server: LiveServer) -> None:
    ann, ann_id, ann_token = await member(server, "ann")
    bob, bob_id, bob_token = await member(server, "bob")
    try:
        async with ParlorClient(server.url, ann_token) as ann_client, ParlorClient(server.url, bob_token) as bob_client:
            room = await ann_client.create_room("Quiet", encrypted=True)
            assert room["encrypted"] is True
            ann_room = await ann_client.join_room(room["id"], media=False)
            bob_room = await bob_client.join_room(room["id"], media=False)
            await bob_client.publish_public_key(room["id"], public_key(5))

            def bob_keyed() -> bool:
                return any(x["user_id"] == bob_id and x["public_key"] == public_key(5) for x in ann_room.people)

            await ann_client.wait_for(bob_keyed)
            assert next(x for x in ann_room.people if x["user_id"] == bob_id)["keyed_since"] > 0
            await ann_client.send_room_key(room["id"], bob_id, 1, WRAPPED)
            async with asyncio.timeout(5):
                got = await bob_client.room_keys.get()
            assert got == {"room_id": room["id"], "from": ann_id, "epoch": 1, "wrapped": WRAPPED}
            assert ann_client.room_keys.empty()
            # A refusal comes back as an error naming the message.
            await bob_client.publish_public_key(room["id"], "nope")
            await bob_client.wait_for(lambda: any(e.ref == "e2ee.publish" for e in bob_client.errors))
            assert [e.code for e in bob_client.errors if e.ref == "e2ee.publish"] == ["bad_key"]
            assert bob_room.people == bob_client.rooms[room["id"]]["participants"]
    finally:
        await ann.aclose()
        await bob.aclose()


def test_the_forms_the_server_checks() -> None:
    from parlor.domain import e2ee
    from parlor.errors import ParlorError

    assert e2ee.check_public_key(public_key(1)) == public_key(1) and len(public_key(1)) == 87
    for bad in BAD_KEYS:
        with pytest.raises(ParlorError) as refused:
            e2ee.check_public_key(bad)
        assert refused.value.code.value == "bad_key"
    e2ee.check_wrapped(WRAPPED, 1)
    e2ee.check_wrapped("A" * 100, e2ee.EPOCH_MAX)
    for wrapped, epoch in (("A" * 101, 1), ("A", 1), ("AB=", 1), ("AB", 0), ("AB", 2**31)):
        with pytest.raises(ParlorError):
            e2ee.check_wrapped(wrapped, epoch)
    assert e2ee.is_chat_line("e2ee:1:1:AB") and e2ee.is_chat_line("e2ee:1:4294967295:_-")
    for text in ("e2ee:1:1:", "e2ee:1:x:AB", "e2ee:1:1:AB\n", "E2EE:1:1:AB", "e2ee:1:1:A B"):
        assert not e2ee.is_chat_line(text), text


def test_publishing_a_key_is_a_room_transition() -> None:
    from parlor.errors import ParlorError

    room = rooms_domain.join(rooms_domain.create("r_1", "Quiet", "u_ann", 1.0, encrypted=True), "u_bob", 2.0)
    keyed = rooms_domain.publish_key(room, "u_bob", public_key(1), 3.0)
    bob = keyed.participants["u_bob"]
    assert (bob.public_key, bob.keyed_since, keyed.version) == (public_key(1), 3.0, room.version + 1)
    assert rooms_domain.publish_key(keyed, "u_bob", public_key(1), 4.0) is keyed  # the same key: no change
    again = rooms_domain.publish_key(keyed, "u_bob", public_key(2), 5.0)
    assert again.participants["u_bob"].keyed_since == 5.0
    assert "u_bob" not in rooms_domain.leave(again, "u_bob").participants
    plain = rooms_domain.join(rooms_domain.create("r_2", "Loud", "u_ann", 1.0), "u_bob", 2.0)
    for r, who, code in ((plain, "u_bob", "not_encrypted"), (room, "u_cat", "not_in_room")):
        with pytest.raises(ParlorError) as refused:
            rooms_domain.publish_key(r, who, public_key(1), 3.0)
        assert refused.value.code.value == code


async def test_a_guest_in_a_members_room_publishes_and_gets_keys_too(server: LiveServer) -> None:
    import websockets

    ann, ann_id, ann_token = await member(server, "ann")
    gus = httpx.AsyncClient(base_url=server.url)
    room_id = (await ann.post("/api/rooms", json={"title": "Quiet", "encrypted": True})).json()["id"]
    assert (await ann.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})).status_code == 200
    entered = (await gus.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"})).json()
    gus_id = entered["guest"]["id"]
    assert entered["room"]["encrypted"] is True
    ann_ws = await subscribed(server, ann_token, room_id)
    cookie = {"Cookie": f"parlor_guest={gus.cookies['parlor_guest']}"}
    try:
        async with websockets.connect(server.ws_url + "/guest", additional_headers=cookie) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"type": "subscribe", "room_id": room_id}))
            await ws.send(json.dumps({"type": "e2ee.publish", "room_id": room_id, "public_key": public_key(4)}))
            await ann_ws.wait(
                lambda m: m.get("name") == "room.state" and person(m["data"], gus_id)["public_key"] == public_key(4)
            )
            key = {"type": "e2ee.key", "room_id": room_id, "to": gus_id, "epoch": 1, "wrapped": WRAPPED}
            await ann_ws.send(key)
            async with asyncio.timeout(5):
                while (got := json.loads(await ws.recv()))["type"] != "e2ee.key":
                    pass
            assert got == {"type": "e2ee.key", "room_id": room_id, "from": ann_id, "epoch": 1, "wrapped": WRAPPED}
    finally:
        await ann_ws.close()
        await ann.aclose()
        await gus.aclose()
