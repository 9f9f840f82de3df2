"""A person removed with a block from a room, or blocked by a moderator, does not see
that moderator's rooms at all: not in the hallway, not in search, and by id they are
404 `room_not_found`, as if they did not exist. Others see them as before."""

from __future__ import annotations

from typing import Any

from tests.conftest import Instance, Person, error_code


async def hallway_ids(who: Person) -> list[str]:
    return [room["id"] for room in (await who.http.get("/api/rooms")).json()["rooms"]]


async def search_ids(who: Person, q: str) -> list[str]:
    return [room["id"] for room in (await who.http.get("/api/search", params={"q": q})).json()["rooms"]]


async def assert_gone_for(who: Person, room: dict[str, Any]) -> None:
    assert room["id"] not in await hallway_ids(who)
    assert room["id"] not in await search_ids(who, room["title"].split()[0])
    for r in (await who.http.get(f"/api/rooms/{room['id']}"), await who.post(f"/api/rooms/{room['id']}/join")):
        assert r.status_code == 404 and error_code(r) == "room_not_found", r.text
        assert room["title"] not in r.text


async def assert_seen_by(who: Person, room: dict[str, Any]) -> None:
    assert room["id"] in await hallway_ids(who)
    assert room["id"] in await search_ids(who, room["title"].split()[0])
    assert (await who.http.get(f"/api/rooms/{room['id']}")).status_code == 200


async def test_removed_with_a_block_the_moderators_rooms_are_not_there(instance: Instance) -> None:
    host, ann, bob = await instance.member("host"), await instance.member("ann"), await instance.member("bob")
    first = (await host.post("/api/rooms", json={"title": "Gardening hour"})).json()
    assert (await ann.post(f"/api/rooms/{first['id']}/join")).status_code == 200
    r = await host.post(f"/api/rooms/{first['id']}/remove", json={"user_id": ann.id, "block": True})
    assert r.status_code == 200
    await assert_gone_for(ann, first)
    await assert_seen_by(bob, first)
    # The host's next room, and a room of someone else the host moderates, are gone for her too.
    await host.post(f"/api/rooms/{first['id']}/end")
    second = (await host.post("/api/rooms", json={"title": "Compost talk"})).json()
    await assert_gone_for(ann, second)
    await assert_seen_by(bob, second)
    third = (await bob.post("/api/rooms", json={"title": "Seedlings swap"})).json()
    await assert_seen_by(ann, third)
    assert (await host.post(f"/api/rooms/{third['id']}/join")).status_code == 200
    await bob.post(f"/api/rooms/{third['id']}/speak-invites", json={"user_id": host.id})
    assert (await host.post(f"/api/rooms/{third['id']}/speak-invite/accept")).status_code == 200
    assert (await bob.post(f"/api/rooms/{third['id']}/moderators", json={"user_id": host.id})).status_code == 200
    await assert_gone_for(ann, third)


async def test_blocked_by_the_moderator_the_room_is_not_there(instance: Instance) -> None:
    host, ann, bob = await instance.member("host"), await instance.member("ann"), await instance.member("bob")
    assert (await host.http.post("/api/users/ann/block")).status_code == 200
    room = (await host.post("/api/rooms", json={"title": "Quiet reading"})).json()
    await assert_gone_for(ann, room)
    await assert_seen_by(bob, room)
    # Unblocked, it is there again.
    assert (await host.http.delete("/api/users/ann/block")).status_code == 200
    await assert_seen_by(ann, room)
