"""The hallway (GET /api/rooms): ranking by follows, block rules, live updates; and the
`followed_by_speakers` hand-raise setting, which uses the same follows.

Runs on SQLite, and on PostgreSQL with PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import Instance, Person, error_code, make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.actions import hallway
from parlor.domain import rooms as domain
from parlor.domain.rooms import RoomKind
from parlor.domain.users import User
from parlor.transport.ws import endpoint


async def hallway_of(who: Person) -> list[dict[str, Any]]:
    r = await who.http.get("/api/rooms")
    assert r.status_code == 200, r.text
    return list(r.json()["rooms"])


async def start(host: Person, title: str) -> str:
    r = await host.post("/api/rooms", json={"title": title})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def join(who: Person, room_id: str) -> None:
    r = await who.post(f"/api/rooms/{room_id}/join")
    assert r.status_code == 200, r.text


async def bring_on_stage(moderator: Person, who: Person, room_id: str) -> None:
    await join(who, room_id)
    r = await moderator.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": who.id})
    assert r.status_code == 200, r.text
    r = await who.post(f"/api/rooms/{room_id}/speak-invite/accept")
    assert r.status_code == 200, r.text


async def follow(who: Person, username: str) -> None:
    assert (await who.http.post(f"/api/users/{username}/follow")).status_code == 200


# -- ranking, table-driven ---------------------------------------------------------------------
# rooms: (title, moderator, others on stage, listeners), started in this order;
# follows: whom the viewer follows; expected: (title, followed_on_stage, followed_in_room) in order.

RANKING: dict[str, tuple[list[tuple[str, str, list[str], list[str]]], list[str], list[tuple[str, int, int]]]] = {
    "following nobody: bigger rooms first, then newer": (
        [("Old small", "amy", [], []), ("Big", "ben", [], ["cal", "dot"]), ("New small", "eve", [], [])],
        [],
        [("Big", 0, 0), ("New small", 0, 0), ("Old small", 0, 0)],
    ),
    "someone you follow on stage beats a bigger room": (
        [("Big", "amy", [], ["ben", "cal"]), ("Followed", "dot", [], [])],
        ["dot"],
        [("Followed", 1, 1), ("Big", 0, 0)],
    ),
    "on stage beats in the audience": (
        [("Listening", "amy", [], ["ben", "eve"]), ("Speaking", "cal", [], [])],
        ["ben", "cal"],
        [("Speaking", 1, 1), ("Listening", 0, 1)],
    ),
    "more people you follow on stage first": (
        [("One", "amy", [], ["eve", "fay"]), ("Two", "ben", ["cal"], [])],
        ["amy", "ben", "cal"],
        [("Two", 2, 2), ("One", 1, 1)],
    ),
    "more people you follow in the room first, then the rest": (
        [
            ("Big", "amy", [], ["ben", "cal"]),
            ("One friend", "dot", [], ["eve"]),
            ("Two friends", "fay", [], ["gus", "hal"]),
        ],
        ["eve", "gus", "hal"],
        [("Two friends", 0, 2), ("One friend", 0, 1), ("Big", 0, 0)],
    ),
    "equal follows: bigger, then newer": (
        [("First", "amy", [], []), ("Second", "ben", [], []), ("Bigger", "cal", [], ["dot"])],
        ["amy", "ben", "cal"],
        [("Bigger", 1, 1), ("Second", 1, 1), ("First", 1, 1)],
    ),
}


@pytest.mark.parametrize("case", list(RANKING))
async def test_hallway_ranking(instance: Instance, case: str) -> None:
    rooms, follows, expected = RANKING[case]
    names = sorted({n for _, mod, stage, audience in rooms for n in [mod, *stage, *audience]})
    people = {name: await instance.member(name) for name in names}
    me = await instance.member("viewer")
    for name in follows:
        await follow(me, name)
    for title, mod, stage, audience in rooms:
        rid = await start(people[mod], title)
        for name in stage:
            await bring_on_stage(people[mod], people[name], rid)
        for name in audience:
            await join(people[name], rid)

    cards = await hallway_of(me)
    assert [(c["title"], c["followed_on_stage"], c["followed_in_room"]) for c in cards] == expected
    spec = {title: (mod, stage, audience) for title, mod, stage, audience in rooms}
    for card in cards:
        mod, stage, audience = spec[card["title"]]
        assert set(card) == {
            "id", "title", "kind", "speakers", "speaker_count", "listener_count", "followed_on_stage",
            "followed_in_room", "topics", "club", "encrypted", "your_club", "liked_topics",
        }
        assert card["kind"] == "open"
        assert (card["speaker_count"], card["listener_count"]) == (1 + len(stage), len(audience))
        # people you follow are named first
        named = [s["username"] for s in card["speakers"]]
        assert sorted(named) == sorted([mod, *stage])
        assert named == sorted(named, key=lambda n: n not in follows)
        assert set(card["speakers"][0]) == {"id", "username", "display_name", "avatar_url"}
        assert card["speakers"][0]["avatar_url"] is None  # nobody here has one


# -- block rules, table-driven -------------------------------------------------------------------
# In a room "host" started, where "comod" was made moderator, "speaker" is on stage and
# "listener" listens: `blocker` blocks `blocked`; what does "viewer" see?

BLOCKS = {
    "you blocked the creator": ("viewer", "host", "hidden"),
    "the creator blocked you": ("host", "viewer", "hidden"),
    "you blocked a moderator": ("viewer", "comod", "hidden"),
    "a moderator blocked you": ("comod", "viewer", "hidden"),
    "you blocked a speaker": ("viewer", "speaker", "shown without them"),
    "a speaker blocked you": ("speaker", "viewer", "shown without them"),
    "you blocked a listener": ("viewer", "listener", "shown"),
    "a listener blocked you": ("listener", "viewer", "shown"),
}


@pytest.mark.parametrize("case", list(BLOCKS))
async def test_hallway_block_rules(instance: Instance, case: str) -> None:
    blocker, blocked, outcome = BLOCKS[case]
    p = {n: await instance.member(n) for n in ("host", "comod", "speaker", "listener", "viewer", "bystander")}
    rid = await start(p["host"], "Garden talk")
    await bring_on_stage(p["host"], p["comod"], rid)
    assert (await p["host"].post(f"/api/rooms/{rid}/moderators", json={"user_id": p["comod"].id})).status_code == 200
    await bring_on_stage(p["host"], p["speaker"], rid)
    await join(p["listener"], rid)
    everyone_on_stage = ["host", "comod", "speaker"]
    before = await hallway_of(p["viewer"])
    assert [[s["username"] for s in c["speakers"]] for c in before] == [everyone_on_stage]

    other = blocked if blocker == "viewer" else blocker
    assert (await p[blocker].http.post(f"/api/users/{blocked}/block")).status_code == 200
    cards = await hallway_of(p["viewer"])
    if outcome == "hidden":
        assert cards == []
    elif outcome == "shown without them":
        assert [[s["username"] for s in c["speakers"]] for c in cards] == [[n for n in everyone_on_stage if n != other]]
        assert cards[0]["speaker_count"] == 3
    else:
        assert [[s["username"] for s in c["speakers"]] for c in cards] == [everyone_on_stage]
    # a bystander sees the room whole whatever the others did
    assert [[s["username"] for s in c["speakers"]] for c in await hallway_of(p["bystander"])] == [everyone_on_stage]

    assert (await p[blocker].http.delete(f"/api/users/{blocked}/block")).status_code == 200
    assert [[s["username"] for s in c["speakers"]] for c in await hallway_of(p["viewer"])] == [everyone_on_stage]


async def test_a_room_you_were_removed_from_with_a_block_is_not_in_your_hallway(instance: Instance) -> None:
    host, me, other = await instance.member("host"), await instance.member("viewer"), await instance.member("other")
    rid = await start(host, "Strict room")
    await join(me, rid)
    r = await host.post(f"/api/rooms/{rid}/remove", json={"user_id": me.id, "block": True})
    assert r.status_code == 200, r.text
    assert await hallway_of(me) == []
    assert [c["id"] for c in await hallway_of(other)] == [rid]


async def test_the_hallway_needs_a_member(instance: Instance) -> None:
    host = await instance.member("host")
    await start(host, "Private-ish")
    r = await instance.client().get("/api/rooms")
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    r = await instance.client().get("/api/rooms", headers={"authorization": "Bearer pt_nope"})
    assert r.status_code == 401 and error_code(r) == "not_authenticated"


# -- room kinds: the pure rule (over HTTP: tests/test_room_kinds.py) ------------------------------


def _user(uid: str) -> User:
    return User(uid, uid, uid.title(), False, 0.0)


@pytest.mark.parametrize(
    ("kind", "host_follows_viewer", "viewer_follows_host", "viewer_in_room", "shown"),
    [
        (RoomKind.OPEN, False, False, False, True),
        (RoomKind.SOCIAL, False, False, False, False),
        (RoomKind.SOCIAL, False, True, False, False),  # following a moderator is not being followed
        (RoomKind.SOCIAL, True, False, False, True),
        (RoomKind.SOCIAL, False, False, True, True),
        (RoomKind.CLOSED, True, True, False, False),
        (RoomKind.CLOSED, False, False, True, True),
    ],
)
def test_social_rooms_show_to_people_a_moderator_follows_and_closed_rooms_to_the_invited(
    kind: RoomKind, host_follows_viewer: bool, viewer_follows_host: bool, viewer_in_room: bool, shown: bool
) -> None:
    room = domain.create("r1", "Kinds", "host", 1.0, kind=kind)
    if viewer_in_room:
        room = domain.join(room, "viewer", 2.0, followed_by_moderator=True) if kind is not RoomKind.CLOSED else (
            domain.join(domain.invite_member(room, "host", "viewer"), "viewer", 2.0)
        )
    followed = {"host"} if viewer_follows_host else set()
    followers = {"host"} if host_follows_viewer else set()
    profiles = {u: _user(u) for u in ("host", "viewer")}
    cards = hallway.cards([room], "viewer", followed, set(), profiles, followers=followers)
    assert [c["id"] for c in cards] == (["r1"] if shown else [])


# -- hand raising for people followed by a speaker -------------------------------------------------


async def test_followed_by_speakers_lets_only_listeners_a_speaker_follows_raise_a_hand(instance: Instance) -> None:
    host, guest = await instance.member("host"), await instance.member("guest")
    friend, fan = await instance.member("friend"), await instance.member("fan")
    stranger = await instance.member("stranger")
    rid = await start(host, "Hands by follows")
    await bring_on_stage(host, guest, rid)
    r = await host.http.patch(f"/api/rooms/{rid}", json={"hand_raise": "followed_by_speakers"})
    assert r.status_code == 200 and r.json()["hand_raise"] == "followed_by_speakers"
    for who in (friend, fan, stranger):
        await join(who, rid)
    await follow(host, "friend")  # the moderator follows friend
    await follow(guest, "fan")  # a (non-moderator) speaker follows fan
    await follow(stranger, "host")  # following a speaker is not being followed by one

    for who in (friend, fan):
        r = await who.post(f"/api/rooms/{rid}/hand", json={"raised": True})
        assert r.status_code == 200, r.text
    r = await stranger.post(f"/api/rooms/{rid}/hand", json={"raised": True})
    assert r.status_code == 403 and error_code(r) == "hands_disabled"
    state = (await host.http.get(f"/api/rooms/{rid}")).json()
    assert {p["username"] for p in state["participants"] if p["hand_raised"]} == {"friend", "fan"}

    # the speaker who follows fan leaves the stage: fan's next raise is refused
    assert (await fan.post(f"/api/rooms/{rid}/hand", json={"raised": False})).status_code == 200
    assert (await guest.post(f"/api/rooms/{rid}/audience", json={"user_id": guest.id})).status_code == 200
    r = await fan.post(f"/api/rooms/{rid}/hand", json={"raised": True})
    assert r.status_code == 403 and error_code(r) == "hands_disabled"


# -- live updates over a real socket ----------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


class Sock:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def recv(self, timeout: float) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))

    async def events(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives in the next `seconds`."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                got.append(await self.recv(left))
            except TimeoutError:
                break
        return got


async def connect(server: LiveServer, token: str) -> Sock:
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    sock = Sock(ws)
    await ws.send(json.dumps({"type": "hello"}))
    assert (await sock.recv(5))["type"] == "welcome"
    return sock


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == "event" and e.get("name") == name]


async def test_a_room_started_by_someone_you_follow_reaches_you_at_once_and_blocked_rooms_never(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long coalescing window: only the "someone you follow started a room" path can be prompt.
    monkeypatch.setattr(endpoint, "HALLWAY_COALESCE_S", 30.0)
    async with (
        httpx.AsyncClient(base_url=server.url) as ann_http,
        httpx.AsyncClient(base_url=server.url) as bob_http,
        httpx.AsyncClient(base_url=server.url) as cat_http,
        httpx.AsyncClient(base_url=server.url) as dan_http,
    ):
        _, ann = await make_member(server, ann_http, "ann")
        bob_id, _ = await make_member(server, bob_http, "bob")
        await make_member(server, cat_http, "cat")
        await make_member(server, dan_http, "dan")
        assert (await ann_http.post("/api/users/bob/follow")).status_code == 200
        assert (await cat_http.post("/api/users/ann/follow")).status_code == 200
        assert (await ann_http.post("/api/users/cat/block")).status_code == 200
        sock = await connect(server, ann)

        # A stranger's room: the first hallway.changed goes out at once, and arms the window.
        dan_room = (await dan_http.post("/api/rooms", json={"title": "Dan's"})).json()["id"]
        assert len(named(await sock.events(0.5), "hallway.changed")) == 1
        # Someone ann blocked starts a room: nothing about it reaches ann.
        await cat_http.post("/api/rooms", json={"title": "Cat's"})
        quiet = await sock.events(0.5)
        assert named(quiet, "notification") == [] and named(quiet, "hallway.changed") == []

        # Bob, whom ann follows, starts one: a notification, then hallway.changed right away.
        bob_room = (await bob_http.post("/api/rooms", json={"title": "Bob's"})).json()["id"]
        got = await sock.events(1.0)
        kinds = [e["name"] for e in got if e.get("type") == "event"]
        assert kinds == ["notification", "hallway.changed"], got
        note = got[0]["data"]
        assert (note["kind"], note["actor"]["id"], note["room"]) == (
            "room_started",
            bob_id,
            {"id": bob_room, "title": "Bob's", "live": True},
        )
        cards = (await ann_http.get("/api/rooms")).json()["rooms"]
        assert [c["id"] for c in cards] == [bob_room, dan_room]
        assert [s["username"] for s in cards[0]["speakers"]] == ["bob"]
        await sock.ws.close()
