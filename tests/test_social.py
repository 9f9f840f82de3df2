"""People over HTTP: profiles, follows, blocks, follow lists, search.

Runs on SQLite, and on PostgreSQL with PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import Instance, Person, error_code
from tests.test_profiles import image_bytes

# every per-person endpoint: (method, path after /api/users/{who})
PERSON_ENDPOINTS = [
    ("GET", ""),
    ("POST", "/follow"),
    ("DELETE", "/follow"),
    ("POST", "/block"),
    ("DELETE", "/block"),
    ("GET", "/followers"),
    ("GET", "/following"),
]


async def profile(viewer: Person, username: str) -> dict[str, Any]:
    r = await viewer.http.get(f"/api/users/{username}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def follow(who: Person, username: str) -> int:
    return (await who.http.post(f"/api/users/{username}/follow")).status_code


async def search(who: Person, q: str, **params: Any) -> dict[str, Any]:
    r = await who.http.get("/api/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_follow_and_unfollow_by_username_and_by_id(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    before = await profile(ann, "bob")
    assert before == {
        "id": bob.id,
        "username": "bob",
        "display_name": "Bob",
        "joined_at": before["joined_at"],
        "follower_count": 0,
        "following_count": 0,
        "is_you": False,
        "followed_by_you": False,
        "follows_you": False,
        "blocked_by_you": False,
        "blocks_you": False,
        "bio": "",
        "avatar_url": None,
        "nominated_by": {"id": before["nominated_by"]["id"], "username": "root", "display_name": "Root"},
        "clubs": [],
    }
    assert isinstance(before["joined_at"], float)

    r = await ann.http.post("/api/users/BOB/follow")  # usernames are case-insensitive
    assert r.status_code == 200 and r.json()["followed_by_you"] is True and r.json()["follower_count"] == 1
    again = await ann.http.post(f"/api/users/id/{bob.id}/follow")  # idempotent, and by id
    assert again.status_code == 200 and again.json()["follower_count"] == 1

    mine = await profile(bob, "bob")
    assert (mine["is_you"], mine["follower_count"], mine["following_count"]) == (True, 1, 0)
    assert (await profile(bob, "ann"))["follows_you"] is True
    assert (await profile(ann, "ann"))["following_count"] == 1

    r = await ann.http.delete(f"/api/users/id/{bob.id}/follow")
    assert r.status_code == 200 and r.json()["followed_by_you"] is False and r.json()["follower_count"] == 0
    assert (await ann.http.delete("/api/users/bob/follow")).status_code == 200  # idempotent


async def test_follow_lists_page_newest_first(instance: Instance) -> None:
    star = await instance.member("star")
    fans = [await instance.member(f"fan{i}") for i in range(7)]
    for fan in fans:
        assert await follow(fan, "star") == 200
    assert await follow(star, "fan3") == 200
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = await fans[0].http.get("/api/users/star/followers", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [u["username"] for u in body["users"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"fan{i}" for i in reversed(range(7))]
    # the flag is the viewer's: fan0 follows star, not the fans
    first = (await star.http.get("/api/users/star/followers", params={"limit": 50})).json()["users"]
    assert [(u["username"], u["followed_by_you"]) for u in first][3:5] == [("fan3", True), ("fan2", False)]
    assert set(first[0]) == {"id", "username", "display_name", "avatar_url", "followed_by_you", "since"}
    following = (await fans[1].http.get("/api/users/star/following")).json()
    assert [u["username"] for u in following["users"]] == ["fan3"] and following["next_cursor"] is None
    assert (await fans[1].http.get(f"/api/users/id/{fans[1].id}/following")).json()["users"][0]["username"] == "star"


async def test_you_cannot_follow_or_block_yourself(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await ann.http.post("/api/users/ann/follow")
    assert r.status_code == 400 and error_code(r) == "cannot_follow_self"
    r = await ann.http.post(f"/api/users/id/{ann.id}/block")
    assert r.status_code == 400 and error_code(r) == "cannot_block_self"
    assert (await profile(ann, "ann"))["following_count"] == 0


# -- blocks, table-driven ------------------------------------------------------------------
# "blocker" blocks "blocked"; then `actor` tries something towards `other`.


async def _follow_refused(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    r = await p[actor].http.post(f"/api/users/{other}/follow")
    assert r.status_code == 403, r.text
    assert error_code(r) == ("blocked_by_user" if actor == "blocked" else "user_blocked")
    assert (await profile(p[other], other))["follower_count"] == 0


async def _join_refused(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    room = (await p[other].post("/api/rooms", json={"title": "Mine"})).json()
    r = await p[actor].post(f"/api/rooms/{room['id']}/join")
    assert r.status_code == 404 and error_code(r) == "room_not_found", r.text
    # a bystander still gets in
    assert (await p["bystander"].post(f"/api/rooms/{room['id']}/join")).status_code == 200


async def _join_refused_as_moderator_later(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    """`other` made moderator of a third person's room: `actor` can no longer join it."""
    room = (await p["bystander"].post("/api/rooms", json={"title": "Theirs"})).json()
    rid = room["id"]
    assert (await p[other].post(f"/api/rooms/{rid}/join")).status_code == 200
    await p["bystander"].post(f"/api/rooms/{rid}/speak-invites", json={"user_id": p[other].id})
    assert (await p[other].post(f"/api/rooms/{rid}/speak-invite/accept")).status_code == 200
    assert (await p["bystander"].post(f"/api/rooms/{rid}/moderators", json={"user_id": p[other].id})).status_code == 200
    r = await p[actor].post(f"/api/rooms/{rid}/join")
    assert r.status_code == 404 and error_code(r) == "room_not_found", r.text


async def _hidden_in_search(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    people = (await search(p[actor], other[:4]))["people"]
    assert other not in [u["username"] for u in people]
    # the bystander sees both
    assert {"blocker", "blocked"} <= {u["username"] for u in (await search(p["bystander"], "blo"))["people"]}


async def _hidden_rooms_in_search(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    await p[other].post("/api/rooms", json={"title": "Secret garden"})
    assert (await search(p[actor], "secret"))["rooms"] == []
    assert [r["title"] for r in (await search(p["bystander"], "garden"))["rooms"]] == ["Secret garden"]


async def _lists_refused_to_the_blocked(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    for which in ("followers", "following"):
        r = await p[actor].http.get(f"/api/users/{other}/{which}")
        if actor == "blocked":
            assert r.status_code == 403 and error_code(r) == "blocked_by_user", r.text
        else:
            assert r.status_code == 200


async def _hidden_in_others_lists(inst: Instance, p: dict[str, Person], actor: str, other: str) -> None:
    """`other` follows the bystander: `actor` doesn't see them among the bystander's followers."""
    assert await follow(p[other], "bystander") == 200
    users = (await p[actor].http.get("/api/users/bystander/followers")).json()["users"]
    assert other not in [u["username"] for u in users]
    assert other in [
        u["username"] for u in (await p["bystander"].http.get("/api/users/bystander/followers")).json()["users"]
    ]


BLOCK_CASES = {
    "blocked cannot follow the blocker": (_follow_refused, "blocked", "blocker"),
    "blocker cannot follow the blocked": (_follow_refused, "blocker", "blocked"),
    "blocked cannot join the blocker's room": (_join_refused, "blocked", "blocker"),
    "blocker cannot join the blocked's room": (_join_refused, "blocker", "blocked"),
    "blocked cannot join a room the blocker moderates": (_join_refused_as_moderator_later, "blocked", "blocker"),
    "blocker cannot join a room the blocked moderates": (_join_refused_as_moderator_later, "blocker", "blocked"),
    "search hides the blocker from the blocked": (_hidden_in_search, "blocked", "blocker"),
    "search hides the blocked from the blocker": (_hidden_in_search, "blocker", "blocked"),
    "search hides the blocker's rooms": (_hidden_rooms_in_search, "blocked", "blocker"),
    "search hides the blocked's rooms": (_hidden_rooms_in_search, "blocker", "blocked"),
    "the blocked cannot list the blocker's follows": (_lists_refused_to_the_blocked, "blocked", "blocker"),
    "the blocker can list the blocked's follows": (_lists_refused_to_the_blocked, "blocker", "blocked"),
    "lists hide the blocker from the blocked": (_hidden_in_others_lists, "blocked", "blocker"),
    "lists hide the blocked from the blocker": (_hidden_in_others_lists, "blocker", "blocked"),
}


@pytest.mark.parametrize("case", list(BLOCK_CASES))
async def test_block_rules(instance: Instance, case: str) -> None:
    check, actor, other = BLOCK_CASES[case]
    p = {name: await instance.member(name) for name in ("blocker", "blocked", "bystander")}
    assert await follow(p["blocker"], "blocked") == 200
    assert await follow(p["blocked"], "blocker") == 200
    r = await p["blocker"].http.post("/api/users/blocked/block")
    assert r.status_code == 200 and r.json()["blocked_by_you"] is True
    # blocking removed the follows both ways
    assert r.json()["followed_by_you"] is False and r.json()["follows_you"] is False
    assert (r.json()["follower_count"], r.json()["following_count"]) == (0, 0)
    assert (await profile(p["blocked"], "blocker"))["blocks_you"] is True
    await check(instance, p, actor, other)


async def test_unblock_allows_following_again_but_restores_nothing(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    assert await follow(bob, "ann") == 200
    assert (await ann.http.post("/api/users/bob/block")).status_code == 200
    assert (await ann.http.post("/api/users/bob/block")).status_code == 200  # idempotent
    r = await ann.http.delete("/api/users/bob/block")
    assert r.status_code == 200 and r.json()["blocked_by_you"] is False and r.json()["follows_you"] is False
    assert await follow(bob, "ann") == 200
    room = (await ann.post("/api/rooms", json={"title": "Open again"})).json()
    assert (await bob.post(f"/api/rooms/{room['id']}/join")).status_code == 200


async def test_your_actions_never_touch_other_peoples_follows_or_blocks(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    assert await follow(bob, "cat") == 200
    assert (await bob.http.post("/api/users/ann/block")).status_code == 200
    # ann "unfollows" cat and "unblocks" herself-from-bob: only her own relations are addressed
    assert (await ann.http.delete("/api/users/cat/follow")).status_code == 200
    assert (await ann.http.delete("/api/users/bob/block")).status_code == 200
    assert (await profile(cat, "cat"))["follower_count"] == 1
    assert (await profile(ann, "bob"))["blocks_you"] is True


# -- search ------------------------------------------------------------------------------------


async def test_search_ranks_people_you_follow_first(instance: Instance) -> None:
    me = await instance.member("me_viewer")
    names = ["annabel", "anne", "anton", "zed"]
    people = {name: await instance.member(name) for name in names}
    # display names are Title-cased by the fixture: "Zed"; give one a matching display name
    assert await follow(me, "anton") == 200
    found = (await search(me, "An"))["people"]
    assert [(u["username"], u["followed_by_you"]) for u in found] == [
        ("anton", True),
        ("annabel", False),
        ("anne", False),
    ]
    assert [u["username"] for u in (await search(me, "ANN"))["people"]] == ["annabel", "anne"]
    assert [u["username"] for u in (await search(me, "@ze"))["people"]] == ["zed"]
    assert [u["username"] for u in (await search(me, "an", limit=1))["people"]] == ["anton"]
    assert (await search(me, "nne"))["people"] == []  # a prefix, not a substring
    assert set(found[0]) == {"id", "username", "display_name", "avatar_url", "followed_by_you"}
    assert people["anton"].id == found[0]["id"]


async def test_people_in_lists_and_search_carry_their_avatar(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    r = await bob.http.put("/api/me/avatar", content=image_bytes("PNG"), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    assert url
    for fan in (bob, cat):
        assert await follow(fan, "ann") == 200
    assert await follow(ann, "bob") == 200

    def pictures(people: list[dict[str, Any]]) -> dict[str, str | None]:
        return {u["username"]: u["avatar_url"] for u in people}

    followers = (await ann.http.get("/api/users/ann/followers")).json()["users"]
    assert pictures(followers) == {"bob": url, "cat": None}
    following = (await cat.http.get("/api/users/ann/following")).json()["users"]
    assert pictures(following) == {"bob": url}
    assert pictures((await search(cat, "b"))["people"]) == {"bob": url}
    assert pictures((await search(bob, "c"))["people"]) == {"cat": None}
    # the URL serves the picture to whoever sees the list
    picture = await cat.http.get(url)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/webp"
    # removed: lists say so at once
    assert (await bob.http.delete("/api/me/avatar")).status_code == 200
    followers = (await ann.http.get("/api/users/ann/followers")).json()["users"]
    assert pictures(followers) == {"bob": None, "cat": None}


async def test_search_live_rooms_by_title_followed_first(instance: Instance) -> None:
    me, ann, bob = await instance.member("viewer"), await instance.member("ann"), await instance.member("bob")
    crowd = [await instance.member(f"crowd{i}") for i in range(2)]
    busy = (await bob.post("/api/rooms", json={"title": "Morning coffee"})).json()
    for c in crowd:
        await c.post(f"/api/rooms/{busy['id']}/join")
    quiet = (await ann.post("/api/rooms", json={"title": "Coffee with Ann"})).json()
    ended = (await ann.post("/api/rooms", json={"title": "Coffee ended"})).json()
    await ann.post(f"/api/rooms/{ended['id']}/end")
    await bob.post("/api/rooms", json={"title": "Tea"})

    rooms = (await search(me, "COF"))["rooms"]
    assert [r["id"] for r in rooms] == [busy["id"], quiet["id"]]  # more people first
    assert await follow(me, "ann") == 200
    rooms = (await search(me, "coffee"))["rooms"]
    assert [r["id"] for r in rooms] == [quiet["id"], busy["id"]]  # then rooms with people you follow
    assert rooms[0]["followed_count"] == 1 and [s["username"] for s in rooms[0]["speakers"]] == ["ann"]
    assert (await search(me, "offee"))["rooms"] == []


# -- authorization and bad input ------------------------------------------------------------


async def test_anonymous_gets_401_everywhere(instance: Instance) -> None:
    ann = await instance.member("ann")
    anon = instance.client()
    for method, tail in PERSON_ENDPOINTS:
        for base in ("/api/users/ann", f"/api/users/id/{ann.id}"):
            r = await anon.request(method, base + tail)
            assert r.status_code == 401 and error_code(r) == "not_authenticated", (method, base + tail)
    r = await anon.get("/api/search", params={"q": "an"})
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    bad_token = await anon.get("/api/users/ann", headers={"authorization": "Bearer pt_nope"})
    assert bad_token.status_code == 401


@pytest.mark.parametrize(
    "base",
    [
        "/api/users/nobody",
        "/api/users/id/u_nobody",
        "/api/users/NOT!VALID",
        "/api/users/id/" + "x" * 40,
        "/api/users/id/u_%00nul",  # PostgreSQL refuses a NUL in a parameter: never sent
        "/api/users/%00",
    ],
)
async def test_unknown_users_are_404_user_not_found(instance: Instance, base: str) -> None:
    ann = await instance.member("ann")
    for method, tail in PERSON_ENDPOINTS:
        r = await ann.http.request(method, base + tail)
        assert r.status_code == 404 and error_code(r) == "user_not_found", (method, base + tail, r.text)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_input"),
        ({"limit": 101}, "invalid_input"),
        ({"limit": "ten"}, "invalid_input"),
        ({"cursor": "!!!"}, "invalid_cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "invalid_cursor"),  # "not a cursor"
        ({"cursor": "aW5mfHVfeA"}, "invalid_cursor"),  # "inf|u_x"
        ({"cursor": "x" * 201}, "invalid_input"),
    ],
)
async def test_bad_paging_params_are_400(instance: Instance, params: dict[str, Any], code: str) -> None:
    ann = await instance.member("ann")
    for which in ("followers", "following"):
        r = await ann.http.get(f"/api/users/ann/{which}", params=params)
        assert r.status_code == 400 and error_code(r) == code, (which, params, r.text)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 51},
        {"q": "an", "limit": 0},
        {"q": "an", "limit": 51},
        {"q": "an", "limit": "x"},
    ],
)
async def test_bad_search_params_are_400(instance: Instance, params: dict[str, Any]) -> None:
    ann = await instance.member("ann")
    r = await ann.http.get("/api/search", params=params)
    assert r.status_code == 400 and error_code(r) == "invalid_input", (params, r.text)


def test_the_social_bench_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from parlor.bench import social as bench

    argv = ["--users", "300", "--follows", "2000", "--queries", "30", "--rooms", "5"]
    argv += ["--clubs", "30", "--events", "200", "--hallways", "30", "--json"]
    assert bench.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["backend"], result["users"], result["follows"], result["queries"]) == ("sqlite", 300, 2000, 30)
    assert 0 < result["search_ms_p50"] <= result["search_ms_p99"] and result["results_mean"] > 0
    assert (result["clubs"], result["events"], result["hallways"]) == (30, 200, 30)
    assert 0 < result["hallway_ms_p50"] <= result["hallway_ms_p99"]
    # every page lists the live rooms a viewer may see and a full row of upcoming events
    assert result["hallway_rooms_mean"] > 0 and result["hallway_events_mean"] > 0
