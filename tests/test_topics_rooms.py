"""Topics on rooms and people's interests: rooms carry up to three topics (set when they
start, changed by moderators), the hallway and search filter by topic, and rooms on
topics you like rank after rooms with people you follow, before the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Instance, Person, error_code, running_instance

from parlor.domain.topics import DEFAULT_TOPICS


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json()


async def titles(person: Person, **params: Any) -> list[str]:
    return [c["title"] for c in (await ok(await person.http.get("/api/rooms", params=params)))["rooms"]]


async def test_the_instance_lists_its_topics(instance: Instance) -> None:
    ann = await instance.member("ann")
    got = await ok(await ann.http.get("/api/topics"))
    assert got == {"topics": list(DEFAULT_TOPICS), "max_per_thing": 3, "max_interests": 20}
    assert (await instance.client().get("/api/topics")).status_code == 401


async def test_a_room_with_topics_shows_in_the_hallway_filtered_by_topic(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    music = await ok(await ann.post("/api/rooms", json={"title": "Jazz night", "topics": ["Music", "art"]}), 201)
    assert music["topics"] == ["music", "art"]
    await ok(await bob.post("/api/rooms", json={"title": "Chatter"}), 201)
    assert sorted(await titles(bob)) == ["Chatter", "Jazz night"]
    assert await titles(bob, topic="music") == ["Jazz night"]
    assert await titles(bob, topic="ART") == ["Jazz night"]
    assert await titles(bob, topic="tech") == []
    r = await bob.http.get("/api/rooms", params={"topic": "knitting"})
    assert r.status_code == 400 and error_code(r) == "unknown_topic"
    card = (await ok(await bob.http.get("/api/rooms", params={"topic": "music"})))["rooms"][0]
    assert (card["topics"], card["liked_topics"], card["club"]) == (["music", "art"], [], None)
    # search: by title, and by topic
    found = await ok(await bob.http.get("/api/search", params={"q": "jazz", "topic": "music"}))
    assert [r["title"] for r in found["rooms"]] == ["Jazz night"] and found["rooms"][0]["topics"] == ["music", "art"]
    found = await ok(await bob.http.get("/api/search", params={"q": "jazz", "topic": "tech"}))
    assert found["rooms"] == []


async def test_moderators_change_a_rooms_topics_others_cannot(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    room = await ok(await ann.post("/api/rooms", json={"title": "Talk", "topics": ["news"]}), 201)
    await ok(await bob.post(f"/api/rooms/{room['id']}/join"))
    r = await bob.http.patch(f"/api/rooms/{room['id']}", json={"topics": ["tech"]})
    assert r.status_code == 403 and error_code(r) == "not_moderator"
    for body, code in [
        ({"topics": ["art", "books", "film", "food"]}, "too_many_topics"),
        ({"topics": ["knitting"]}, "unknown_topic"),
        ({"topics": "tech"}, "invalid_input"),
    ]:
        r = await ann.http.patch(f"/api/rooms/{room['id']}", json=body)
        assert r.status_code == 400 and error_code(r) == code, r.text
    assert instance.services.live.rooms[room["id"]].topics == ("news",)
    changed = await ok(await ann.http.patch(f"/api/rooms/{room['id']}", json={"topics": ["tech", "science"]}))
    assert changed["topics"] == ["tech", "science"] and changed["version"] > room["version"]
    assert await titles(bob, topic="tech") == ["Talk"] and await titles(bob, topic="news") == []
    trail = (await ok(await ann.http.get(f"/api/rooms/{room['id']}/audit")))["entries"]
    assert "room.topics" in [e["action"] for e in trail]
    # bad topics when starting: refused, no room
    for body, code in [
        ({"title": "X", "topics": ["art", "books", "film", "food"]}, "too_many_topics"),
        ({"title": "X", "topics": ["knitting"]}, "unknown_topic"),
    ]:
        r = await ann.post("/api/rooms", json=body)
        assert r.status_code == 400 and error_code(r) == code
    assert len(instance.services.live.rooms) == 1


async def test_interests_are_picked_from_the_list(instance: Instance) -> None:
    ann = await instance.member("ann")
    assert await ok(await ann.http.get("/api/me/interests")) == {"interests": []}
    got = await ok(await ann.http.put("/api/me/interests", json={"topics": ["Music", "tech", "music"]}))
    assert got == {"interests": ["music", "tech"]}
    for topics, code in [([*DEFAULT_TOPICS, "music"], None), (["knitting"], "unknown_topic")]:
        r = await ann.http.put("/api/me/interests", json={"topics": topics})
        if code is None:  # 20 distinct topics: the most one may like
            assert r.status_code == 200 and len(r.json()["interests"]) == 20
        else:
            assert r.status_code == 400 and error_code(r) == code
    assert await ok(await ann.http.get("/api/me/interests")) != {"interests": []}


async def test_too_many_interests_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", topics=",".join(f"t{i}" for i in range(25))) as inst:
        ann = await inst.member("ann")
        await ok(await ann.http.put("/api/me/interests", json={"topics": ["t1"]}))
        r = await ann.http.put("/api/me/interests", json={"topics": [f"t{i}" for i in range(21)]})
        assert r.status_code == 400 and error_code(r) == "too_many_topics"
        assert await ok(await ann.http.get("/api/me/interests")) == {"interests": ["t1"]}


async def test_rooms_on_topics_you_like_rank_after_rooms_with_people_you_follow(instance: Instance) -> None:
    amy, ben, cal, dot, eve, fay, me = [
        await instance.member(n) for n in ("amy", "ben", "cal", "dot", "eve", "fay", "viewer")
    ]
    await ok(await me.post("/api/users/amy/follow"))
    await ok(await me.http.put("/api/me/interests", json={"topics": ["music", "books"]}))
    big = await ok(await ben.post("/api/rooms", json={"title": "Big, no topic"}), 201)
    for listener in (eve, fay):
        await ok(await listener.post(f"/api/rooms/{big['id']}/join"))
    await ok(await cal.post("/api/rooms", json={"title": "One liked topic", "topics": ["music", "tech"]}), 201)
    await ok(await dot.post("/api/rooms", json={"title": "Two liked topics", "topics": ["books", "music"]}), 201)
    await ok(await amy.post("/api/rooms", json={"title": "Followed, other topic", "topics": ["sports"]}), 201)
    cards = (await ok(await me.http.get("/api/rooms")))["rooms"]
    assert [(c["title"], c["liked_topics"]) for c in cards] == [
        ("Followed, other topic", []),
        ("Two liked topics", ["books", "music"]),
        ("One liked topic", ["music"]),
        ("Big, no topic", []),
    ]
    # without interests: size decides after the followed room
    await ok(await me.http.put("/api/me/interests", json={"topics": []}))
    assert (await titles(me))[:2] == ["Followed, other topic", "Big, no topic"]
