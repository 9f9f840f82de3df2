"""Rooms over HTTP: the life of a room, the hallway, and bad input."""

from __future__ import annotations

import pytest
from tests.conftest import Instance, error_code


async def test_room_life_cycle_over_http(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    room = (await ann.post("/api/rooms", json={"title": "  Coffee   talk "})).json()
    assert room["title"] == "Coffee talk"
    # On stage and muted: nobody is live by surprise.
    assert [(p["username"], p["role"], p["self_muted"], p["avatar_url"]) for p in room["participants"]] == [
        ("ann", "moderator", True, None)
    ]
    rid = room["id"]
    for who in (bob, cat):
        assert (await who.post(f"/api/rooms/{rid}/join")).status_code == 200
    again = await bob.post(f"/api/rooms/{rid}/join")
    assert again.status_code == 409 and error_code(again) == "already_in_room"

    hallway = (await cat.http.get("/api/rooms")).json()["rooms"]
    assert [(c["title"], [s["username"] for s in c["speakers"]], c["listener_count"]) for c in hallway] == [
        ("Coffee talk", ["ann"], 2)
    ]

    await bob.post(f"/api/rooms/{rid}/hand", json={"raised": True})
    await ann.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": bob.id})
    state = (await bob.post(f"/api/rooms/{rid}/speak-invite/accept")).json()
    bob_p = next(p for p in state["participants"] if p["user_id"] == bob.id)
    assert bob_p["role"] == "speaker" and bob_p["self_muted"] and not bob_p["hand_raised"]

    # the last moderator leaves: bob, the longest-standing speaker, takes over
    state = (await ann.post(f"/api/rooms/{rid}/leave")).json()
    assert {p["username"]: p["role"] for p in state["participants"]} == {"bob": "moderator", "cat": "listener"}

    ended = await bob.post(f"/api/rooms/{rid}/end")
    assert ended.status_code == 200 and ended.json()["ended"] is True
    gone = await cat.http.get(f"/api/rooms/{rid}")
    assert gone.status_code == 410 and error_code(gone) == "room_ended"
    assert (await cat.http.get("/api/rooms")).json()["rooms"] == []


async def test_unknown_room(instance: Instance) -> None:
    ann = await instance.member("ann")
    for method, path in (("GET", ""), ("POST", "/join"), ("POST", "/end"), ("POST", "/leave")):
        r = await ann.http.request(method, f"/api/rooms/r_doesnotexist{path}")
        assert r.status_code == 404 and error_code(r) == "room_not_found"


@pytest.mark.parametrize("body", [{"title": ""}, {"title": "   "}, {"title": "x" * 121}, {}, {"title": 5}])
async def test_bad_titles_change_nothing(instance: Instance, body: dict[str, object]) -> None:
    ann = await instance.member("ann")
    r = await ann.post("/api/rooms", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert (await ann.http.get("/api/rooms")).json()["rooms"] == []
    room = (await ann.post("/api/rooms", json={"title": "Fine"})).json()
    bad = await ann.http.patch(f"/api/rooms/{room['id']}", json=body or {"title": ""})
    if body:
        assert bad.status_code == 400 and error_code(bad) == "invalid_input"
    assert (await ann.http.get(f"/api/rooms/{room['id']}")).json()["title"] == "Fine"


async def test_malformed_json_body(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await ann.http.post("/api/rooms", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "invalid_input"


async def test_blocked_user_cannot_join_the_moderators_later_rooms(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    first = (await ann.post("/api/rooms", json={"title": "One"})).json()
    await bob.post(f"/api/rooms/{first['id']}/join")
    await ann.post(f"/api/rooms/{first['id']}/remove", json={"user_id": bob.id, "block": True})
    back = await bob.post(f"/api/rooms/{first['id']}/join")
    assert back.status_code == 404 and error_code(back) == "room_not_found"
    second = (await ann.post("/api/rooms", json={"title": "Two"})).json()
    later = await bob.post(f"/api/rooms/{second['id']}/join")
    assert later.status_code == 404 and error_code(later) == "room_not_found"


async def test_room_actions_are_audited(instance: Instance) -> None:
    import sqlite3

    ann, bob = await instance.member("ann"), await instance.member("bob")
    room = (await ann.post("/api/rooms", json={"title": "Audit"})).json()
    await bob.post(f"/api/rooms/{room['id']}/join")
    await ann.post(f"/api/rooms/{room['id']}/remove", json={"user_id": bob.id})
    db = sqlite3.connect(instance.settings.sqlite_path)
    try:
        rows = db.execute(
            "select actor_id, action, target_id from audit_log where room_id = ? order by id", (room["id"],)
        ).fetchall()
    finally:
        db.close()
    assert rows == [(ann.id, "room.create", None), (bob.id, "room.join", None), (ann.id, "remove", bob.id)]
