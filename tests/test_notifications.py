"""Notifications and pings: each kind produced, listed in the inbox and delivered live;
read/unread; per-kind mutes; ping rules; authorization and bad input.

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

from parlor.actions import notifications
from parlor.actions.notifications import KINDS, PING_INTERVAL_S


async def inbox(who: Person, **params: Any) -> dict[str, Any]:
    r = await who.http.get("/api/notifications", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def summary(body: dict[str, Any]) -> list[tuple[str, str | None, str | None, bool]]:
    """(kind, actor username, room title, read) per notification, newest first."""
    return [
        (n["kind"], n["actor"] and n["actor"]["username"], n["room"] and n["room"]["title"], n["read"])
        for n in body["notifications"]
    ]


async def start(host: Person, title: str) -> str:
    r = await host.post("/api/rooms", json={"title": title})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def follow(who: Person, username: str) -> None:
    assert (await who.http.post(f"/api/users/{username}/follow")).status_code == 200


async def ping(who: Person, room_id: str, target: Person) -> httpx.Response:
    return await who.post("/api/pings", json={"room_id": room_id, "user_id": target.id})


async def set_muted(who: Person, **muted: bool) -> dict[str, Any]:
    r = await who.http.put("/api/notifications/settings", json={"muted": muted})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def produce_every_kind(inst: Instance, ann: Person, bob: Person) -> str:
    """Bob gives ann one notification of each kind, oldest first: new_follower,
    room_started, ping, waitlist_joined, room_invite. Returns bob's (open) room."""
    await follow(ann, "bob")
    await follow(bob, "ann")
    room_id = await start(bob, "Bob's room")
    r = await ping(bob, room_id, ann)
    assert r.status_code == 204, r.text
    await notifications.notify(inst.services, ann.id, "waitlist_joined", actor_id=bob.id)
    # A closed room tells nobody it started; an invitation into it is news.
    r = await bob.post("/api/rooms", json={"title": "Bob's club", "kind": "closed"})
    assert r.status_code == 201, r.text
    r = await bob.post(f"/api/rooms/{r.json()['id']}/invites", json={"username": "ann"})
    assert r.status_code == 200, r.text
    return room_id


# -- each kind, in the inbox ----------------------------------------------------------------------


async def test_every_kind_lands_in_the_inbox_newest_first(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    room_id = await produce_every_kind(instance, ann, bob)
    body = await inbox(ann)
    assert summary(body) == [
        ("room_invite", "bob", "Bob's club", False),
        ("waitlist_joined", "bob", None, False),
        ("ping", "bob", "Bob's room", False),
        ("room_started", "bob", "Bob's room", False),
        ("new_follower", "bob", None, False),
    ]
    assert body["unread_count"] == 5 and body["next_before"] is None
    first = body["notifications"][2]
    assert set(first) == {"id", "kind", "actor", "room", "created_at", "read", "text"}
    assert first["text"] is None  # only admins' warnings carry a text
    assert first["actor"] == {"id": bob.id, "username": "bob", "display_name": "Bob"}
    assert first["room"] == {"id": room_id, "title": "Bob's room", "live": True}
    ids = [n["id"] for n in body["notifications"]]
    assert ids == sorted(ids, reverse=True)
    # bob got only ann's follow
    assert summary(await inbox(bob)) == [("new_follower", "ann", None, False)]
    # once the room ends, its notifications say so
    assert (await bob.post(f"/api/rooms/{room_id}/end")).status_code == 200
    assert [n["room"]["live"] for n in (await inbox(ann))["notifications"] if n["room"]] == [True, False, False]


async def test_room_started_reaches_every_follower_who_has_not_muted_it(instance: Instance) -> None:
    host = await instance.member("host")
    fans = [await instance.member(f"fan{i}") for i in range(3)]
    quiet, stranger = await instance.member("quiet"), await instance.member("stranger")
    for who in [*fans, quiet]:
        await follow(who, "host")
    await set_muted(quiet, room_started=True)
    await start(host, "Morning show")
    for fan in fans:
        assert [k for k, *_ in summary(await inbox(fan))] == ["room_started"]
    assert (await inbox(quiet))["notifications"] == []
    assert (await inbox(stranger))["notifications"] == []
    assert [k for k, *_ in summary(await inbox(host))] == ["new_follower"] * 4


async def test_following_again_while_unread_makes_one_new_follower(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    for _ in range(3):
        await follow(bob, "ann")
        assert (await bob.http.delete("/api/users/ann/follow")).status_code == 200
    await follow(bob, "ann")
    await follow(bob, "ann")  # already following: nothing new
    body = await inbox(ann)
    assert summary(body) == [("new_follower", "bob", None, False)] and body["unread_count"] == 1


async def test_notify_checks_its_kind(instance: Instance) -> None:
    ann = await instance.member("ann")
    with pytest.raises(ValueError, match="unknown notification kind"):
        await notifications.notify(instance.services, ann.id, "gossip")
    assert (await inbox(ann))["notifications"] == []


# -- paging, read and unread --------------------------------------------------------------------


async def test_inbox_pages_newest_first(instance: Instance) -> None:
    ann = await instance.member("ann")
    fans = [await instance.member(f"fan{i}") for i in range(5)]
    for fan in fans:
        await follow(fan, "ann")
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        body = await inbox(ann, limit=2, **({"before": before} if before else {}))
        assert body["unread_count"] == 5
        seen += [n["actor"]["username"] for n in body["notifications"]]
        pages += 1
        before = body["next_before"]
        if before is None:
            break
    assert pages == 3 and seen == [f"fan{i}" for i in reversed(range(5))]


async def test_mark_one_read_then_all(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    await produce_every_kind(instance, ann, bob)
    items = (await inbox(ann))["notifications"]
    r = await ann.post(f"/api/notifications/{items[1]['id']}/read")
    assert r.status_code == 200, r.text
    assert r.json()["notification"]["read"] is True and r.json()["unread_count"] == 4
    again = await ann.post(f"/api/notifications/{items[1]['id']}/read")  # idempotent
    assert again.status_code == 200 and again.json()["unread_count"] == 4
    assert [n["read"] for n in (await inbox(ann))["notifications"]] == [False, True, False, False, False]

    # "all up to what I saw": the newest stays unread
    r = await ann.post("/api/notifications/read-all", json={"up_to": items[1]["id"]})
    assert r.status_code == 200 and r.json() == {"unread_count": 1}
    assert [n["read"] for n in (await inbox(ann))["notifications"]] == [False, True, True, True, True]
    r = await ann.post("/api/notifications/read-all")
    assert r.status_code == 200 and r.json() == {"unread_count": 0}
    assert (await inbox(ann))["unread_count"] == 0


# -- mutes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("muted", KINDS)
async def test_a_muted_kind_is_not_stored(instance: Instance, muted: str) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    settings = await set_muted(ann, **{muted: True})
    assert settings == {"muted": {kind: kind == muted for kind in KINDS}}
    assert (await ann.http.get("/api/notifications/settings")).json() == settings
    await produce_every_kind(instance, ann, bob)
    # (a real club invitation: tests/test_clubs.py)
    await notifications.notify(instance.services, ann.id, "club_invite", actor_id=bob.id)
    body = await inbox(ann)
    assert [n["kind"] for n in body["notifications"]] == [
        k
        for k in ("club_invite", "room_invite", "waitlist_joined", "ping", "room_started", "new_follower")
        if k != muted
    ]
    assert body["unread_count"] == 5
    # unmuted: stored again
    assert (await set_muted(ann, **{muted: False}))["muted"][muted] is False
    await notifications.notify(instance.services, ann.id, muted, actor_id=bob.id)
    assert (await inbox(ann))["notifications"][0]["kind"] == muted


# -- blocks --------------------------------------------------------------------------------------------


async def test_nothing_about_someone_blocked_either_way(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    await follow(bob, "ann")
    await follow(cat, "ann")
    assert (await inbox(ann))["unread_count"] == 2
    # ann blocks bob: what is stored about him leaves her inbox and its count
    assert (await ann.http.post("/api/users/bob/block")).status_code == 200
    body = await inbox(ann)
    assert summary(body) == [("new_follower", "cat", None, False)] and body["unread_count"] == 1
    hidden = await ann.post("/api/notifications/read-all")
    assert hidden.json() == {"unread_count": 0}
    # nothing new is stored either way
    await notifications.notify(instance.services, ann.id, "waitlist_joined", actor_id=bob.id)
    await notifications.notify(instance.services, bob.id, "waitlist_joined", actor_id=ann.id)
    assert summary(await inbox(ann)) == [("new_follower", "cat", None, True)]
    assert (await inbox(bob))["notifications"] == []
    # cat blocks ann: ann's item about cat goes too
    assert (await cat.http.post("/api/users/ann/block")).status_code == 200
    assert (await inbox(ann))["notifications"] == []


# -- pings ------------------------------------------------------------------------------------------


async def _not_a_follower(p: dict[str, Person], room_id: str) -> httpx.Response:
    assert (await p["target"].http.delete("/api/users/pinger/follow")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _follows_the_other_way_only(p: dict[str, Person], room_id: str) -> httpx.Response:
    """The pinger follows the target, but the target doesn't follow back."""
    assert (await p["target"].http.delete("/api/users/pinger/follow")).status_code == 200
    await follow(p["pinger"], "target")
    return await ping(p["pinger"], room_id, p["target"])


async def _pinger_not_in_the_room(p: dict[str, Person], room_id: str) -> httpx.Response:
    other = await start(p["bystander"], "Not mine")
    return await ping(p["pinger"], other, p["target"])


async def _pinger_left(p: dict[str, Person], room_id: str) -> httpx.Response:
    # someone stays on stage, so the room lives on without the pinger
    assert (await p["bystander"].post(f"/api/rooms/{room_id}/join")).status_code == 200
    await p["pinger"].post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": p["bystander"].id})
    assert (await p["bystander"].post(f"/api/rooms/{room_id}/speak-invite/accept")).status_code == 200
    assert (await p["pinger"].post(f"/api/rooms/{room_id}/leave")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _room_ended(p: dict[str, Person], room_id: str) -> httpx.Response:
    assert (await p["pinger"].post(f"/api/rooms/{room_id}/end")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _unknown_room(p: dict[str, Person], room_id: str) -> httpx.Response:
    return await ping(p["pinger"], "r_nope", p["target"])


async def _unknown_user(p: dict[str, Person], room_id: str) -> httpx.Response:
    return await p["pinger"].post("/api/pings", json={"room_id": room_id, "user_id": "u_nobody"})


async def _target_blocked_pinger(p: dict[str, Person], room_id: str) -> httpx.Response:
    assert (await p["target"].http.post("/api/users/pinger/block")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _pinger_blocked_target(p: dict[str, Person], room_id: str) -> httpx.Response:
    assert (await p["pinger"].http.post("/api/users/target/block")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _target_already_there(p: dict[str, Person], room_id: str) -> httpx.Response:
    assert (await p["target"].post(f"/api/rooms/{room_id}/join")).status_code == 200
    return await ping(p["pinger"], room_id, p["target"])


async def _pinging_yourself(p: dict[str, Person], room_id: str) -> httpx.Response:
    return await ping(p["pinger"], room_id, p["pinger"])


PING_REFUSALS = {
    "the target does not follow you": (_not_a_follower, 403, "not_a_follower"),
    "you follow them, they don't follow you": (_follows_the_other_way_only, 403, "not_a_follower"),
    "you are not in that room": (_pinger_not_in_the_room, 403, "not_in_room"),
    "you left the room": (_pinger_left, 403, "not_in_room"),
    "the room ended": (_room_ended, 410, "room_ended"),
    "no such room": (_unknown_room, 404, "room_not_found"),
    "no such user": (_unknown_user, 404, "user_not_found"),
    "the target blocked you": (_target_blocked_pinger, 403, "blocked_by_user"),
    "you blocked the target": (_pinger_blocked_target, 403, "user_blocked"),
    "the target is in the room already": (_target_already_there, 409, "already_in_that_room"),
    "yourself": (_pinging_yourself, 403, "not_a_follower"),
}


@pytest.mark.parametrize("case", list(PING_REFUSALS))
async def test_ping_refusals_change_nothing(instance: Instance, case: str) -> None:
    attempt, status, code = PING_REFUSALS[case]
    p = {n: await instance.member(n) for n in ("pinger", "target", "bystander")}
    await follow(p["target"], "pinger")
    room_id = await start(p["pinger"], "Come over")
    before = await inbox(p["target"])
    r = await attempt(p, room_id)
    assert r.status_code == status and error_code(r) == code, r.text
    assert [n for n in (await inbox(p["target"]))["notifications"] if n["kind"] == "ping"] == []
    assert [n["kind"] for n in before["notifications"]] == ["room_started"]


async def test_pings_are_rate_limited_per_pinger_and_target(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    await follow(bob, "ann")
    await follow(cat, "ann")
    room_id = await start(ann, "Join me")
    assert (await ping(ann, room_id, bob)).status_code == 204
    again = await ping(ann, room_id, bob)
    assert again.status_code == 429 and error_code(again) == "rate_limited"
    assert (await ping(ann, room_id, cat)).status_code == 204  # another target is fine
    pings = [n for n in (await inbox(bob))["notifications"] if n["kind"] == "ping"]
    assert len(pings) == 1

    now = instance.services.clock()
    monkeypatch.setattr(instance.services, "clock", lambda: now + PING_INTERVAL_S + 1)
    assert (await ping(ann, room_id, bob)).status_code == 204
    assert len([n for n in (await inbox(bob))["notifications"] if n["kind"] == "ping"]) == 2


async def test_a_ping_to_someone_who_muted_pings_looks_sent_but_is_not_stored(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    await follow(bob, "ann")
    await set_muted(bob, ping=True)
    room_id = await start(ann, "Join me")
    assert (await ping(ann, room_id, bob)).status_code == 204  # mutes are private
    assert [n["kind"] for n in (await inbox(bob))["notifications"]] == ["room_started"]


# -- authorization and bad input ------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/notifications", None),
    ("POST", "/api/notifications/1/read", None),
    ("POST", "/api/notifications/read-all", None),
    ("GET", "/api/notifications/settings", None),
    ("PUT", "/api/notifications/settings", {"muted": {"ping": True}}),
    ("POST", "/api/pings", {"room_id": "r_x", "user_id": "u_x"}),
]


async def test_anonymous_gets_401_everywhere(instance: Instance) -> None:
    await instance.member("ann")
    anon = instance.client()
    for method, path, body in ENDPOINTS:
        r = await anon.request(method, path, json=body)
        assert r.status_code == 401 and error_code(r) == "not_authenticated", (method, path)
        r = await anon.request(method, path, json=body, headers={"authorization": "Bearer pt_nope"})
        assert r.status_code == 401, (method, path)


async def test_nobody_reads_or_marks_another_persons_notifications(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    await follow(bob, "ann")
    mine = (await inbox(ann))["notifications"][0]
    # cat's inbox is cat's own; ann's item is "not found" to anyone else
    assert (await inbox(cat))["notifications"] == []
    for other in (bob, cat):
        r = await other.post(f"/api/notifications/{mine['id']}/read")
        assert r.status_code == 404 and error_code(r) == "notification_not_found"
        assert (await other.post("/api/notifications/read-all")).status_code == 200
        assert (await set_muted(other, new_follower=True))["muted"]["new_follower"] is True
    body = await inbox(ann)
    assert body["unread_count"] == 1 and body["notifications"][0]["read"] is False
    assert (await ann.http.get("/api/notifications/settings")).json()["muted"]["new_follower"] is False


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"before": 0}, {"before": "x"}, {"before": 2**40}],
)
async def test_bad_inbox_params_are_400(instance: Instance, params: dict[str, Any]) -> None:
    ann = await instance.member("ann")
    r = await ann.http.get("/api/notifications", params=params)
    assert r.status_code == 400 and error_code(r) == "invalid_input", (params, r.text)


@pytest.mark.parametrize("path_id", ["abc", "0", "-1", str(2**40), "1.5"])
async def test_bad_notification_ids_are_400(instance: Instance, path_id: str) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    await follow(bob, "ann")
    r = await ann.post(f"/api/notifications/{path_id}/read")
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    assert (await inbox(ann))["unread_count"] == 1


async def test_unknown_notification_is_404(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await ann.post("/api/notifications/999999/read")
    assert r.status_code == 404 and error_code(r) == "notification_not_found"


@pytest.mark.parametrize("body", [{"up_to": 0}, {"up_to": "x"}, {"up_to": 2**40}, [1], {"up_to": True}])
async def test_bad_read_all_bodies_are_400_and_mark_nothing(instance: Instance, body: Any) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    await follow(bob, "ann")
    r = await ann.post("/api/notifications/read-all", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    assert (await inbox(ann))["unread_count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"muted": {}},
        {"muted": []},
        {"muted": {"gossip": True}},
        {"muted": {"ping": True, "gossip": True}},
        {"muted": {"ping": "yes"}},
        {"muted": {"ping": 1}},
        {"muted": {f"k{i}": True for i in range(21)}},
    ],
)
async def test_bad_mute_settings_are_400_and_change_nothing(instance: Instance, body: Any) -> None:
    ann = await instance.member("ann")
    r = await ann.http.put("/api/notifications/settings", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    assert (await ann.http.get("/api/notifications/settings")).json() == {"muted": dict.fromkeys(KINDS, False)}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"room_id": "r_x"},
        {"user_id": "u_x"},
        {"room_id": "", "user_id": "u_x"},
        {"room_id": "r_x", "user_id": "x" * 65},
        {"room_id": 5, "user_id": "u_x"},
        [],
    ],
)
async def test_bad_ping_bodies_are_400_and_send_nothing(instance: Instance, body: Any) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    await follow(bob, "ann")
    await start(ann, "Join me")
    r = await ann.post("/api/pings", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    assert [n["kind"] for n in (await inbox(bob))["notifications"]] == ["room_started"]


# -- live delivery over a real socket --------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


async def notifications_within(ws: Any, seconds: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if msg.get("type") == "event" and msg.get("name") == "notification":
            got.append(msg["data"])
    return got


async def test_every_kind_is_delivered_live_and_muted_kinds_are_not(server: LiveServer) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url) as ann_http,
        httpx.AsyncClient(base_url=server.url) as bob_http,
        httpx.AsyncClient(base_url=server.url) as cat_http,
    ):
        ann_id, ann = await make_member(server, ann_http, "ann")
        bob_id, _ = await make_member(server, bob_http, "bob")
        s = server.app.state.services
        ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {ann}"})
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "welcome"

        assert (await ann_http.post("/api/users/bob/follow")).status_code == 200
        assert (await bob_http.post("/api/users/ann/follow")).status_code == 200
        room_id = (await bob_http.post("/api/rooms", json={"title": "Live"})).json()["id"]
        assert (await bob_http.post("/api/pings", json={"room_id": room_id, "user_id": ann_id})).status_code == 204
        await notifications.notify(s, ann_id, "waitlist_joined", actor_id=bob_id)
        got = await notifications_within(ws, 1.5)
        assert [n["kind"] for n in got] == ["new_follower", "room_started", "ping", "waitlist_joined"]
        assert all(n["actor"]["id"] == bob_id and n["read"] is False for n in got)
        assert [n["room"] and n["room"]["id"] for n in got] == [None, room_id, room_id, None]
        # what arrived live is exactly what the inbox lists
        listed = (await ann_http.get("/api/notifications")).json()["notifications"]
        assert list(reversed(listed)) == got

        # everything muted: cat does it all again, and nothing reaches ann
        r = await ann_http.put("/api/notifications/settings", json={"muted": dict.fromkeys(KINDS, True)})
        assert r.status_code == 200
        cat_id, _ = await make_member(server, cat_http, "cat")
        assert (await ann_http.post("/api/users/cat/follow")).status_code == 200
        assert (await cat_http.post("/api/users/ann/follow")).status_code == 200
        second = (await cat_http.post("/api/rooms", json={"title": "Again"})).json()["id"]
        assert (await cat_http.post("/api/pings", json={"room_id": second, "user_id": ann_id})).status_code == 204
        await notifications.notify(s, ann_id, "waitlist_joined", actor_id=cat_id)
        assert await notifications_within(ws, 1.0) == []
        assert len((await ann_http.get("/api/notifications")).json()["notifications"]) == 4
        await ws.close()
