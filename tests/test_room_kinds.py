"""Room kinds over HTTP: creating open, social and closed rooms, who may see and join
each (GET, join, the hallway, search), invitations by username, changing the kind;
and avatars in snapshots and hallway cards.

Every refusal answers a stable code and changes nothing. Runs on SQLite, and on
PostgreSQL with PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from tests.conftest import Instance, Person, error_code

from parlor.storage.tables import audit_log


async def create(host: Person, title: str, **extra: Any) -> dict[str, Any]:
    r = await host.post("/api/rooms", json={"title": title, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def snapshot(who: Person, room_id: str) -> dict[str, Any]:
    r = await who.http.get(f"/api/rooms/{room_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def follow(who: Person, username: str) -> None:
    assert (await who.http.post(f"/api/users/{username}/follow")).status_code == 200


async def hallway_ids(who: Person) -> list[str]:
    return [c["id"] for c in (await who.http.get("/api/rooms")).json()["rooms"]]


async def search_ids(who: Person, q: str) -> list[str]:
    r = await who.http.get("/api/search", params={"q": q})
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["rooms"]]


async def audit(inst: Instance, room_id: str) -> list[tuple[str | None, str, str | None]]:
    async with inst.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor_id, audit_log.c.action, audit_log.c.target_id)
            .where(audit_log.c.room_id == room_id)
            .order_by(audit_log.c.id)
        )
        return [(r.actor_id, r.action, r.target_id) for r in rows]


async def inbox_kinds(who: Person) -> list[tuple[str, str | None]]:
    body = (await who.http.get("/api/notifications")).json()
    return [(n["kind"], n["room"] and n["room"]["id"]) for n in body["notifications"]]


# -- creating ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["open", "social", "closed"])
async def test_each_kind_can_be_created_with_its_hand_setting(instance: Instance, kind: str) -> None:
    ann = await instance.member("ann")
    room = await create(ann, "Kinds", kind=kind, hand_raise="off")
    assert (room["kind"], room["hand_raise"]) == (kind, "off")
    assert (await snapshot(ann, room["id"]))["kind"] == kind
    assert await hallway_ids(ann) == [room["id"]]  # you see your own room whatever its kind


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Secret", "kind": "secret"},
        {"title": "Secret", "kind": None},
        {"title": "Secret", "kind": 3},
        {"title": "Secret", "hand_raise": "sometimes"},
        {"title": "", "kind": "closed"},
    ],
)
async def test_bad_kinds_create_nothing(instance: Instance, body: dict[str, Any]) -> None:
    ann = await instance.member("ann")
    r = await ann.post("/api/rooms", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert await hallway_ids(ann) == []


# -- who may come in -----------------------------------------------------------------------------
# In a room "host" started, a viewer who is: a stranger, followed by the host, following the
# host, or invited by the host. For each kind: None (may see and join) or the refusal code.

RELATIONS = ("stranger", "followed by the host", "follows the host", "invited")
ADMISSION: dict[str, dict[str, str | None]] = {
    "open": dict.fromkeys(RELATIONS, None),
    "social": {
        "stranger": "not_followed_by_moderator",
        "followed by the host": None,
        "follows the host": "not_followed_by_moderator",
        "invited": None,
    },
    "closed": {
        "stranger": "room_closed",
        "followed by the host": "room_closed",
        "follows the host": "room_closed",
        "invited": None,
    },
}


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("kind", list(ADMISSION))
async def test_who_may_see_and_join_each_kind(instance: Instance, kind: str, relation: str) -> None:
    host, viewer = await instance.member("host"), await instance.member("viewer")
    room = await create(host, "Garden party", kind=kind)
    rid = room["id"]
    if relation == "followed by the host":
        await follow(host, "viewer")
    elif relation == "follows the host":
        await follow(viewer, "host")
    elif relation == "invited" and kind != "open":
        r = await host.post(f"/api/rooms/{rid}/invites", json={"username": "viewer"})
        assert r.status_code == 200, r.text
    code = ADMISSION[kind][relation]
    before = await snapshot(host, rid)

    seen = await viewer.http.get(f"/api/rooms/{rid}")
    joined = await viewer.post(f"/api/rooms/{rid}/join")
    if code is None:
        assert seen.status_code == 200 and seen.json()["title"] == "Garden party"
        assert await hallway_ids(viewer) == [rid]
        assert await search_ids(viewer, "garden") == [rid]
        assert joined.status_code == 200, joined.text
        assert viewer.id in {p["user_id"] for p in joined.json()["participants"]}
        return
    # Refused alike by GET, join, the hallway and search; nothing of the room shows.
    for r in (seen, joined):
        assert r.status_code == 403 and error_code(r) == code, r.text
        assert "Garden" not in r.text
    assert await hallway_ids(viewer) == []
    assert await search_ids(viewer, "garden") == []
    assert await snapshot(host, rid) == before


async def test_a_removed_and_blocked_member_no_longer_sees_the_room_a_plain_removal_does(instance: Instance) -> None:
    host, ann, bob = await instance.member("host"), await instance.member("ann"), await instance.member("bob")
    rid = (await create(host, "Open"))["id"]
    for who in (ann, bob):
        assert (await who.post(f"/api/rooms/{rid}/join")).status_code == 200
    assert (await host.post(f"/api/rooms/{rid}/remove", json={"user_id": ann.id, "block": True})).status_code == 200
    assert (await host.post(f"/api/rooms/{rid}/remove", json={"user_id": bob.id})).status_code == 200
    for r in (await ann.http.get(f"/api/rooms/{rid}"), await ann.post(f"/api/rooms/{rid}/join")):
        assert r.status_code == 404 and error_code(r) == "room_not_found"
    assert (await bob.http.get(f"/api/rooms/{rid}")).status_code == 200
    assert (await bob.post(f"/api/rooms/{rid}/join")).status_code == 200


# -- invitations -----------------------------------------------------------------------------------


async def test_an_invitation_tells_the_invited_once_and_is_audited(instance: Instance) -> None:
    host, ann = await instance.member("host"), await instance.member("ann")
    rid = (await create(host, "Book club", kind="closed"))["id"]
    for username in ("ann", " @Ann "):  # usernames are case-insensitive; "@" and spaces are ignored
        r = await host.post(f"/api/rooms/{rid}/invites", json={"username": username})
        assert r.status_code == 200, r.text
    assert await inbox_kinds(ann) == [("room_invite", rid)]
    note = (await ann.http.get("/api/notifications")).json()["notifications"][0]
    assert note["actor"]["username"] == "host" and note["room"] == {"id": rid, "title": "Book club", "live": True}
    assert (await ann.post(f"/api/rooms/{rid}/join")).status_code == 200
    assert await audit(instance, rid) == [
        (host.id, "room.create", None),
        (host.id, "room.invite", ann.id),
        (ann.id, "room.join", None),
    ]


# who invites whom into which room -> (status, code)
INVITE_REFUSALS: dict[str, tuple[str, str, str, int, str]] = {
    "an open room": ("open", "host", "zed", 409, "room_is_open"),
    "by a listener": ("closed", "lis", "zed", 403, "not_moderator"),
    "by an outsider": ("closed", "zed", "yan", 403, "not_in_room"),
    "an unknown username": ("closed", "host", "nobody_here", 404, "user_not_found"),
    "someone already in": ("closed", "host", "lis", 409, "already_in_that_room"),
    "someone who blocked you": ("closed", "host", "blocker", 403, "blocked_by_user"),
    "someone you blocked": ("closed", "host", "blocked", 403, "user_blocked"),
}


@pytest.mark.parametrize("case", list(INVITE_REFUSALS))
async def test_invitation_refusals_change_nothing(instance: Instance, case: str) -> None:
    kind, actor, target, status, code = INVITE_REFUSALS[case]
    p = {n: await instance.member(n) for n in ("host", "lis", "zed", "yan", "blocker", "blocked")}
    assert (await p["blocker"].http.post("/api/users/host/block")).status_code == 200
    assert (await p["host"].http.post("/api/users/blocked/block")).status_code == 200
    rid = (await create(p["host"], "Refusals", kind=kind))["id"]
    if kind != "open":
        assert (await p["host"].post(f"/api/rooms/{rid}/invites", json={"username": "lis"})).status_code == 200
    assert (await p["lis"].post(f"/api/rooms/{rid}/join")).status_code == 200
    before = await snapshot(p["host"], rid)
    inboxes = {n: await inbox_kinds(who) for n, who in p.items()}
    r = await p[actor].post(f"/api/rooms/{rid}/invites", json={"username": target})
    assert r.status_code == status and error_code(r) == code, r.text
    assert await snapshot(p["host"], rid) == before
    assert {n: await inbox_kinds(who) for n, who in p.items()} == inboxes
    if target in ("zed", "yan"):
        joined = await p[target].post(f"/api/rooms/{rid}/join")
        assert joined.status_code == (200 if kind == "open" else 403)


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": "x" * 41}, {"username": 7}])
async def test_bad_invitation_bodies(instance: Instance, body: dict[str, Any]) -> None:
    host = await instance.member("host")
    rid = (await create(host, "Closed", kind="closed"))["id"]
    r = await host.post(f"/api/rooms/{rid}/invites", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input"


# -- changing the kind ---------------------------------------------------------------------------


async def test_a_moderator_opens_a_closed_room_and_closes_it_again(instance: Instance) -> None:
    host, ann, bob, cat = [await instance.member(n) for n in ("host", "ann", "bob", "cat")]
    rid = (await create(host, "Changing", kind="closed"))["id"]
    assert (await ann.post(f"/api/rooms/{rid}/join")).status_code == 403
    # only a moderator changes it; a bad kind is refused; neither changes anything
    before = await snapshot(host, rid)
    assert (await ann.http.patch(f"/api/rooms/{rid}", json={"kind": "open"})).status_code == 403
    bad = await host.http.patch(f"/api/rooms/{rid}", json={"kind": "public"})
    assert bad.status_code == 400 and error_code(bad) == "invalid_input"
    assert await snapshot(host, rid) == before

    r = await host.http.patch(f"/api/rooms/{rid}", json={"kind": "open"})
    assert r.status_code == 200 and r.json()["kind"] == "open"
    assert await hallway_ids(ann) == [rid]
    assert (await ann.post(f"/api/rooms/{rid}/join")).status_code == 200
    # closed again: ann (in the room) may come back after leaving; bob may not come in
    r = await host.http.patch(f"/api/rooms/{rid}", json={"kind": "closed"})
    assert r.status_code == 200 and r.json()["kind"] == "closed"
    assert (await ann.post(f"/api/rooms/{rid}/leave")).status_code == 200
    assert (await ann.post(f"/api/rooms/{rid}/join")).status_code == 200
    r = await bob.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and error_code(r) == "room_closed"
    # social: people the moderator follows
    assert (await host.http.patch(f"/api/rooms/{rid}", json={"kind": "social"})).status_code == 200
    await follow(host, "cat")
    assert (await cat.post(f"/api/rooms/{rid}/join")).status_code == 200
    r = await bob.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and error_code(r) == "not_followed_by_moderator"
    changes = [row for row in await audit(instance, rid) if row[1].startswith("room.kind.")]
    # each change audited, saying what it was; the refusals not
    assert changes == [(host.id, f"room.kind.{kind}", None) for kind in ("open", "closed", "social")]


async def test_room_started_reaches_only_those_who_may_join(instance: Instance) -> None:
    host, mutual, fan = await instance.member("host"), await instance.member("mutual"), await instance.member("fan")
    for who in (mutual, fan):
        await follow(who, "host")
    await follow(host, "mutual")
    social = (await create(host, "Social", kind="social"))["id"]
    closed = (await create(host, "Closed", kind="closed"))["id"]
    opened = (await create(host, "Open"))["id"]
    def started(kinds: list[tuple[str, str | None]]) -> list[str | None]:
        return [rid for kind, rid in kinds if kind == "room_started"]

    assert started(await inbox_kinds(mutual)) == [opened, social]
    assert started(await inbox_kinds(fan)) == [opened]
    assert closed not in {rid for _, rid in await inbox_kinds(mutual)}


# -- avatars in rooms and the hallway ------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def test_avatars_show_in_snapshots_and_hallway_cards_and_follow_changes(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    up = await ann.http.put("/api/me/avatar", content=png(), headers={"content-type": "image/png"})
    assert up.status_code == 200, up.text
    url = up.json()["avatar_url"]
    rid = (await create(ann, "Faces"))["id"]
    joined = (await bob.post(f"/api/rooms/{rid}/join")).json()
    assert {p["username"]: p["avatar_url"] for p in joined["participants"]} == {"ann": url, "bob": None}
    card = (await bob.http.get("/api/rooms")).json()["rooms"][0]
    assert [(s["username"], s["avatar_url"]) for s in card["speakers"]] == [("ann", url)]
    assert (await bob.http.get(url)).status_code == 200

    # a new picture while in the room: the next snapshot has it; removed: initials again
    other = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(other, "PNG")
    new_url = (await ann.http.put("/api/me/avatar", content=other.getvalue())).json()["avatar_url"]
    assert new_url != url
    mine = {p["username"]: p["avatar_url"] for p in (await snapshot(bob, rid))["participants"]}
    assert mine["ann"] == new_url
    assert (await ann.http.delete("/api/me/avatar")).status_code == 200
    assert {p["username"]: p["avatar_url"] for p in (await snapshot(bob, rid))["participants"]}["ann"] is None
