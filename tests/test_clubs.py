"""Clubs over HTTP, on SQLite and PostgreSQL: founding, membership modes, roles,
invitations and nominations, club rooms (members-only ones refuse non-members), the
admin console's removal, account deletion's hand-over, bad input and rate limits.

Every refusal is checked to change nothing: the club tables are read before and after.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from PIL import Image
from tests.conftest import Instance, Person, error_code, running_instance
from tests.people import MEMBER_PASSWORD

from parlor.storage import accounts, tables
from parlor.storage.db import Database, _alembic_config


@pytest.fixture
async def inst(tmp_path: Path, database_url: str) -> AsyncIterator[Instance]:
    async with running_instance(tmp_path / "data", database_url=database_url) as i:
        yield i


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


async def refused(response: Any, status: int, code: str) -> str:
    assert (response.status_code, error_code(response)) == (status, code), response.text
    return str(response.json()["error"]["message"])


CLUB_TABLES = ("clubs", "club_members", "club_requests", "club_avatars", "interests")


async def club_rows(inst: Instance) -> dict[str, list[dict[str, Any]]]:
    out = {}
    async with inst.services.db.engine.connect() as conn:
        for name in CLUB_TABLES:
            table = tables.metadata.tables[name]
            rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            out[name] = [dict(r) for r in rows.mappings()]
    return out


async def let_members_found(inst: Instance) -> None:
    admin = await inst.admin()
    await ok(await admin.http.patch("/api/admin/settings", json={"clubs_rule": "members"}))


async def found(person: Person, name: str, mode: str = "open", **extra: Any) -> str:
    club = await ok(await person.post("/api/clubs", json={"name": name, "mode": mode, **extra}), 201)
    return str(club["id"])


async def page(person: Person, club_id: str) -> dict[str, Any]:
    return dict(await ok(await person.http.get(f"/api/clubs/{club_id}")))


def names(club: dict[str, Any], role: str) -> list[str]:
    return [p["username"] for p in club["people"][role]]


async def host_rooms(person: Person, n: int) -> None:
    for i in range(n):
        room = await ok(await person.post("/api/rooms", json={"title": f"Room {i}"}), 201)
        await ok(await person.post(f"/api/rooms/{room['id']}/end"))


# -- founding -------------------------------------------------------------------------------


async def test_founding_needs_rooms_hosted_and_admins_always_may(inst: Instance) -> None:
    admin = await inst.admin()
    ann = await inst.member("ann")
    await ok(await admin.http.patch("/api/admin/settings", json={"club_min_rooms_hosted": 2}))
    mine = await ok(await ann.http.get("/api/me/clubs"))
    assert mine["can_found"] is False and "Host 2 more rooms" in mine["cannot_found_because"]
    before = await club_rows(inst)
    message = await refused(await ann.post("/api/clubs", json={"name": "Chess"}), 403, "cannot_found_club")
    assert "Host 2 more rooms" in message
    await host_rooms(ann, 1)
    await refused(await ann.post("/api/clubs", json={"name": "Chess"}), 403, "cannot_found_club")
    assert await club_rows(inst) == before
    await host_rooms(ann, 1)
    assert (await ok(await ann.http.get("/api/me/clubs")))["can_found"] is True
    club = await ok(
        await ann.post("/api/clubs", json={"name": "Chess", "topics": ["Books"], "rules": "No gloating"}), 201
    )
    assert (club["name"], club["topics"], club["rules"], club["mode"]) == ("Chess", ["books"], "No gloating", "open")
    assert club["you"] == {"role": "admin", "pending": None} and names(club, "admin") == ["ann"]
    assert club["upcoming_events"] == []

    # founding off: members are refused, the instance's admins still found
    await ok(await admin.http.patch("/api/admin/settings", json={"clubs_rule": "off"}))
    await refused(await ann.post("/api/clubs", json={"name": "Go"}), 403, "cannot_found_club")
    await ok(await admin.post("/api/clubs", json={"name": "Operators"}), 201)


# -- membership modes, invitations, nominations -------------------------------------------------


async def test_membership_modes(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob, cat, dan = [await inst.member(n) for n in ("ann", "bob", "cat", "dan")]
    open_club = await found(ann, "Open Door")
    approval = await found(ann, "Knock First", "approval")
    invite_only = await found(ann, "Back Room", "invite")

    # open: joined at once
    club = await ok(await bob.post(f"/api/clubs/{open_club}/join"))
    assert club["you"]["role"] == "member" and names(club, "member") == ["bob"]

    # by approval: a request, approved by a leader
    club = await ok(await bob.post(f"/api/clubs/{approval}/join"))
    assert club["you"] == {"role": None, "pending": "request"}
    await refused(await bob.post(f"/api/clubs/{approval}/join"), 409, "club_request_pending")
    await ok(await ann.http.put(f"/api/clubs/{approval}/members/{ann.id}", json={"role": "admin"}))
    await ok(await cat.post(f"/api/clubs/{approval}/join"))
    await ok(await ann.post(f"/api/clubs/{approval}/invites", json={"username": "dan"}))
    await ok(await dan.post(f"/api/clubs/{approval}/invitation/accept"))
    await ok(await ann.http.put(f"/api/clubs/{approval}/members/{dan.id}", json={"role": "leader"}))
    waiting = (await page(dan, approval))["waiting"]
    assert [(w["kind"], w["person"]["username"]) for w in waiting] == [("request", "bob"), ("request", "cat")]
    await ok(await dan.post(f"/api/clubs/{approval}/requests/{waiting[0]['id']}/approve"))
    await ok(await dan.post(f"/api/clubs/{approval}/requests/{waiting[1]['id']}/decline"))
    club = await page(ann, approval)
    assert names(club, "member") == ["bob"] and names(club, "leader") == ["dan"] and club["waiting"] == []
    assert (await page(cat, approval))["you"] == {"role": None, "pending": None}

    # invite-only: refused without an invitation; an invitation is accepted or declined
    message = await refused(await cat.post(f"/api/clubs/{invite_only}/join"), 403, "club_invite_only")
    assert "invite-only" in message
    await refused(await cat.post(f"/api/clubs/{invite_only}/invitation/accept"), 404, "no_club_invite")
    await ok(await ann.post(f"/api/clubs/{invite_only}/invites", json={"username": "@Cat"}))
    invitations = (await ok(await cat.http.get("/api/me/clubs")))["invitations"]
    assert [i["name"] for i in invitations] == ["Back Room"]
    club = await ok(await cat.post(f"/api/clubs/{invite_only}/invitation/decline"))
    assert club["you"] == {"role": None, "pending": None}
    await ok(await ann.post(f"/api/clubs/{invite_only}/invites", json={"username": "cat"}))
    club = await ok(await cat.post(f"/api/clubs/{invite_only}/invitation/accept"))
    assert club["you"]["role"] == "member"

    # a member nominates; a leader may not approve it, an admin does; then they accept
    await ok(await cat.post(f"/api/clubs/{invite_only}/nominations", json={"username": "bob"}))
    await ok(await ann.post(f"/api/clubs/{invite_only}/invites", json={"username": "dan"}))
    await ok(await dan.post(f"/api/clubs/{invite_only}/invitation/accept"))
    await ok(await ann.http.put(f"/api/clubs/{invite_only}/members/{dan.id}", json={"role": "leader"}))
    [nomination] = (await page(ann, invite_only))["waiting"]
    assert (nomination["kind"], nomination["person"]["username"], nomination["by"]["username"]) == (
        "nomination",
        "bob",
        "cat",
    )
    assert (await page(dan, invite_only))["waiting"] == []  # leaders see join requests, not nominations
    before = await club_rows(inst)
    await refused(
        await dan.post(f"/api/clubs/{invite_only}/requests/{nomination['id']}/approve"), 403, "not_club_admin"
    )
    assert await club_rows(inst) == before
    await ok(await ann.post(f"/api/clubs/{invite_only}/requests/{nomination['id']}/approve"))
    assert (await page(bob, invite_only))["you"] == {"role": None, "pending": "invite"}
    await ok(await bob.post(f"/api/clubs/{invite_only}/invitation/accept"))
    assert names(await page(ann, invite_only), "member") == ["cat", "bob"]

    # anyone follows; a follower who joins an open club becomes a member
    club = await ok(await dan.post(f"/api/clubs/{open_club}/follow"))
    assert club["you"]["role"] == "follower" and club["counts"]["follower"] == 1
    club = await ok(await dan.post(f"/api/clubs/{open_club}/join"))
    assert club["you"]["role"] == "member" and club["counts"]["follower"] == 0
    club = await ok(await dan.post(f"/api/clubs/{open_club}/leave"))
    assert club["you"]["role"] is None


async def test_a_club_invitation_reaches_the_inbox_and_goes_with_the_club(inst: Instance) -> None:
    await let_members_found(inst)
    admin = await inst.admin()
    ann, bob, cat, dan = [await inst.member(n) for n in ("ann", "bob", "cat", "dan")]
    club = await found(ann, "Back Room", "invite")

    async def invitations(person: Person) -> list[dict[str, Any]]:
        inbox = await ok(await person.http.get("/api/notifications"))
        return [n for n in inbox["notifications"] if n["kind"] == "club_invite"]

    await ok(await ann.post(f"/api/clubs/{club}/invites", json={"username": "bob"}))
    [note] = await invitations(bob)
    assert note["club"] == {"id": club, "name": "Back Room"}
    assert note["actor"]["username"] == "ann" and note["read"] is False
    assert (await ok(await bob.http.get("/api/notifications")))["unread_count"] == 1

    # muted: neither stored nor delivered
    settings = await ok(await cat.http.put("/api/notifications/settings", json={"muted": {"club_invite": True}}))
    assert settings["muted"]["club_invite"] is True
    await ok(await ann.post(f"/api/clubs/{club}/invites", json={"username": "cat"}))
    assert await invitations(cat) == []

    # a nomination is not an invitation yet; once an admin approves it, it is (from them)
    await ok(await bob.post(f"/api/clubs/{club}/invitation/accept"))
    await ok(await bob.post(f"/api/clubs/{club}/nominations", json={"username": "dan"}))
    assert await invitations(dan) == []
    [nomination] = (await page(ann, club))["waiting"]
    await ok(await ann.post(f"/api/clubs/{club}/requests/{nomination['id']}/approve"))
    [note] = await invitations(dan)
    assert note["actor"]["username"] == "ann" and note["club"]["name"] == "Back Room"

    # the club removed: its invitations leave the inbox with it
    await ok(await admin.post(f"/api/admin/clubs/{club}/remove", json={"reason": "Gone"}))
    assert await invitations(bob) == [] and await invitations(dan) == []


async def test_roles_and_the_last_admin(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob, cat = [await inst.member(n) for n in ("ann", "bob", "cat")]
    club = await found(ann, "Chess")
    for who in (bob, cat):
        await ok(await who.post(f"/api/clubs/{club}/join"))
    before = await club_rows(inst)
    await refused(await ann.post(f"/api/clubs/{club}/leave"), 409, "last_club_admin")
    await refused(
        await ann.http.put(f"/api/clubs/{club}/members/{ann.id}", json={"role": "member"}), 409, "last_club_admin"
    )
    assert await club_rows(inst) == before
    await ok(await ann.http.put(f"/api/clubs/{club}/members/{bob.id}", json={"role": "leader"}))
    await refused(
        await bob.http.put(f"/api/clubs/{club}/members/{cat.id}", json={"role": "leader"}), 403, "not_club_admin"
    )
    await ok(await ann.http.put(f"/api/clubs/{club}/members/{bob.id}", json={"role": "admin"}))
    # now there are two: ann may step down, and leave
    club_page = await ok(await ann.http.put(f"/api/clubs/{club}/members/{ann.id}", json={"role": "member"}))
    assert names(club_page, "admin") == ["bob"] and names(club_page, "member") == ["ann", "cat"]
    await ok(await ann.post(f"/api/clubs/{club}/leave"))
    # an admin removes a member
    club_page = await ok(await bob.http.delete(f"/api/clubs/{club}/members/{cat.id}"))
    assert club_page["counts"] == {"admin": 1, "leader": 0, "member": 0, "follower": 0}


REFUSALS: list[tuple[str, str, str, Any, int, str]] = [
    # who, method, path ({club}: the approval club, {secret}: the invite-only one), body → status, code
    ("out", "POST", "/api/clubs/{secret}/join", None, 403, "club_invite_only"),
    ("mem", "POST", "/api/clubs/{club}/join", None, 409, "already_in_club"),
    ("req", "POST", "/api/clubs/{club}/join", None, 409, "club_request_pending"),
    ("fol", "POST", "/api/clubs/{club}/follow", None, 409, "already_in_club"),
    ("mem", "POST", "/api/clubs/{club}/follow", None, 409, "already_in_club"),
    ("out", "POST", "/api/clubs/{club}/leave", None, 409, "not_club_member"),
    ("adm", "POST", "/api/clubs/{club}/leave", None, 409, "last_club_admin"),
    ("mem", "POST", "/api/clubs/{club}/invites", {"username": "out"}, 403, "not_club_leader"),
    ("fol", "POST", "/api/clubs/{club}/invites", {"username": "out"}, 403, "not_club_leader"),
    ("lea", "POST", "/api/clubs/{club}/invites", {"username": "mem"}, 409, "already_in_club"),
    ("lea", "POST", "/api/clubs/{club}/invites", {"username": "nobody"}, 404, "user_not_found"),
    ("fol", "POST", "/api/clubs/{club}/nominations", {"username": "out"}, 403, "not_club_member"),
    ("mem", "POST", "/api/clubs/{club}/nominations", {"username": "req"}, 409, "club_request_pending"),
    ("mem", "POST", "/api/clubs/{club}/requests/{request}/approve", None, 403, "not_club_leader"),
    ("lea", "POST", "/api/clubs/{club}/requests/cq_nope/approve", None, 404, "club_request_not_found"),
    ("lea", "PUT", "/api/clubs/{club}/members/{mem}", {"role": "leader"}, 403, "not_club_admin"),
    ("adm", "PUT", "/api/clubs/{club}/members/{fol}", {"role": "leader"}, 404, "target_not_in_club"),
    ("adm", "PUT", "/api/clubs/{club}/members/{mem}", {"role": "owner"}, 400, "invalid_club_role"),
    ("adm", "PUT", "/api/clubs/{club}/members/{mem}", {"role": "follower"}, 400, "invalid_club_role"),
    ("adm", "PUT", "/api/clubs/{club}/members/{adm}", {"role": "member"}, 409, "last_club_admin"),
    ("lea", "DELETE", "/api/clubs/{club}/members/{mem}", None, 403, "not_club_admin"),
    ("adm", "DELETE", "/api/clubs/{club}/members/{out}", None, 404, "target_not_in_club"),
    ("lea", "PATCH", "/api/clubs/{club}", {"description": "Mine now"}, 403, "not_club_admin"),
    ("adm", "PATCH", "/api/clubs/{club}", {"mode": "closed"}, 400, "invalid_club_mode"),
    ("adm", "PATCH", "/api/clubs/{club}", {"topics": ["art", "books", "film", "food"]}, 400, "too_many_topics"),
    ("adm", "PATCH", "/api/clubs/{club}", {"topics": ["knitting"]}, 400, "unknown_topic"),
    ("adm", "PATCH", "/api/clubs/{club}", {"rules": "r" * 1001}, 400, "invalid_input"),
    ("adm", "PATCH", "/api/clubs/{club}", {}, 400, "invalid_input"),
    ("mem", "PUT", "/api/clubs/{club}/avatar", "png", 403, "not_club_admin"),
    ("adm", "PUT", "/api/clubs/{club}/avatar", b"not an image", 400, "not_an_image"),
    ("out", "GET", "/api/clubs/c_nope", None, 404, "club_not_found"),
    ("out", "POST", "/api/clubs/c_nope/join", None, 404, "club_not_found"),
    ("mem", "POST", "/api/rooms", {"title": "Mine", "club_id": "{club}"}, 403, "not_club_leader"),
    ("fol", "POST", "/api/rooms", {"title": "Mine", "club_id": "{club}"}, 403, "not_club_leader"),
    ("adm", "POST", "/api/rooms", {"title": "Mine", "club_id": "c_nope"}, 404, "club_not_found"),
    ("adm", "POST", "/api/rooms", {"title": "Mine", "members_only": True}, 400, "invalid_input"),
    # bad input when founding
    ("out", "POST", "/api/clubs", {"name": "approval club"}, 409, "club_name_taken"),
    ("out", "POST", "/api/clubs", {"name": "n" * 51}, 400, "invalid_input"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "description": "d" * 501}, 400, "invalid_input"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "rules": "r" * 1001}, 400, "invalid_input"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "topics": ["art", "books", "film", "food"]}, 400, "too_many_topics"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "topics": ["knitting"]}, 400, "unknown_topic"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "mode": "secret"}, 400, "invalid_club_mode"),
    ("out", "POST", "/api/clubs", {"name": "Fine\u202e"}, 400, "invalid_input"),
    ("out", "POST", "/api/clubs", {"name": "Fine", "owner": "out"}, 400, "invalid_input"),
]


def png(color: tuple[int, int, int] = (0, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


async def test_every_refusal_has_a_code_and_changes_nothing(inst: Instance) -> None:
    await let_members_found(inst)
    people = {n: await inst.member(n) for n in ("adm", "lea", "mem", "fol", "req", "out")}
    club = await found(people["adm"], "Approval Club", "approval")
    secret = await found(people["adm"], "Secret", "invite")
    for who, role in (("lea", "leader"), ("mem", "member")):
        await ok(await people["adm"].post(f"/api/clubs/{club}/invites", json={"username": who}))
        await ok(await people[who].post(f"/api/clubs/{club}/invitation/accept"))
        if role == "leader":
            await ok(await people["adm"].http.put(f"/api/clubs/{club}/members/{people[who].id}", json={"role": role}))
    await ok(await people["fol"].post(f"/api/clubs/{club}/follow"))
    await ok(await people["req"].post(f"/api/clubs/{club}/join"))
    [request] = (await page(people["adm"], club))["waiting"]
    values = {"club": club, "secret": secret, "request": request["id"], **{n: p.id for n, p in people.items()}}

    before = await club_rows(inst)
    for who, method, path, body, status, code in REFUSALS:
        url = path.format(**values)
        if isinstance(body, dict):
            body = {k: v.format(**values) if isinstance(v, str) and "{" in v else v for k, v in body.items()}
        if body == "png":
            r = await people[who].http.request(method, url, content=png())
        elif isinstance(body, bytes):
            r = await people[who].http.request(method, url, content=body)
        else:
            r = await people[who].http.request(method, url, json=body)
        assert (r.status_code, error_code(r)) == (status, code), (who, method, url, body, r.text)
        assert await club_rows(inst) == before, (who, method, url)
    assert not inst.services.live.rooms


# -- club rooms ---------------------------------------------------------------------------------


async def test_members_only_club_rooms_refuse_non_members(inst: Instance) -> None:
    await let_members_found(inst)
    ann, lee, moe, fay, out = [await inst.member(n) for n in ("ann", "lee", "moe", "fay", "out")]
    club = await found(ann, "Chess Club")
    for who in (lee, moe):
        await ok(await who.post(f"/api/clubs/{club}/join"))
    await ok(await ann.http.put(f"/api/clubs/{club}/members/{lee.id}", json={"role": "leader"}))
    await ok(await fay.post(f"/api/clubs/{club}/follow"))

    body = {"title": "Members' blitz", "club_id": club, "members_only": True, "topics": ["sports"]}
    room = await ok(await lee.post("/api/rooms", json=body), 201)
    assert room["club"] == {"id": club, "name": "Chess Club", "members_only": True}
    assert room["topics"] == ["sports"]
    open_room = await ok(await lee.post("/api/rooms", json={"title": "Open blitz", "club_id": club}), 201)
    assert open_room["club"]["members_only"] is False

    for who in (fay, out):
        message = await refused(await who.post(f"/api/rooms/{room['id']}/join"), 403, "club_members_only")
        assert message == "This room is for members of the club “Chess Club” only: join the club to come in."
        await refused(await who.http.get(f"/api/rooms/{room['id']}"), 403, "club_members_only")
    assert [p["username"] for p in room["participants"]] == ["lee"]
    joined = await ok(await moe.post(f"/api/rooms/{room['id']}/join"))
    assert [p["username"] for p in joined["participants"]] == ["lee", "moe"]
    # guests are never let into a members-only room
    await ok(await (await inst.admin()).http.patch("/api/admin/settings", json={"guest_rooms": True}))
    await refused(await lee.post(f"/api/rooms/{room['id']}/guests", json={"allowed": True}), 403, "club_members_only")

    async def hallway(person: Person) -> list[tuple[str, bool]]:
        cards = (await ok(await person.http.get("/api/rooms")))["rooms"]
        return [(c["title"], c["your_club"]) for c in cards]

    # members see both (their club's), followers the open one (their club's), others the open one
    assert sorted(await hallway(ann)) == [("Members' blitz", True), ("Open blitz", True)]
    assert await hallway(fay) == [("Open blitz", True)]
    assert await hallway(out) == [("Open blitz", False)]
    # the club page lists its live rooms as the viewer may see them
    assert [c["title"] for c in (await page(fay, club))["live_rooms"]] == ["Open blitz"]
    assert sorted(c["title"] for c in (await page(moe, club))["live_rooms"]) == ["Members' blitz", "Open blitz"]
    # once fay joins the club, she may come in
    await ok(await fay.post(f"/api/clubs/{club}/join"))
    await ok(await fay.post(f"/api/rooms/{room['id']}/join"))


async def test_club_rooms_rank_after_followed_people_before_other_rooms(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob, cat, viewer = [await inst.member(n) for n in ("ann", "bob", "cat", "viewer")]
    extra = [await inst.member(f"extra{i}") for i in range(3)]
    club = await found(ann, "Chess")
    await ok(await viewer.post(f"/api/clubs/{club}/follow"))
    await ok(await viewer.post("/api/users/bob/follow"))
    big = await ok(await cat.post("/api/rooms", json={"title": "Big room"}), 201)
    for x in extra:
        await ok(await x.post(f"/api/rooms/{big['id']}/join"))
    await ok(await ann.post("/api/rooms", json={"title": "Club room", "club_id": club}), 201)
    await ok(await bob.post("/api/rooms", json={"title": "Bob's room"}), 201)
    cards = (await ok(await viewer.http.get("/api/rooms")))["rooms"]
    assert [c["title"] for c in cards] == ["Bob's room", "Club room", "Big room"]


async def test_events_of_your_clubs_and_followed_hosts_come_before_sooner_ones(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob, cat, viewer = [await inst.member(n) for n in ("ann", "bob", "cat", "viewer")]
    club = await found(ann, "Chess")
    await ok(await viewer.post(f"/api/clubs/{club}/join"))
    await ok(await viewer.post("/api/users/bob/follow"))
    now = time.time()

    async def schedule(who: Person, title: str, hours: float, **extra: Any) -> None:
        starts = datetime.fromtimestamp(now + hours * 3600, UTC).isoformat()
        await ok(await who.post("/api/events", json={"title": title, "starts_at": starts, **extra}), 201)

    await schedule(cat, "A stranger's, soonest", 1)
    await schedule(ann, "The club's", 3, club_id=club)
    await schedule(bob, "Bob's", 2)
    await schedule(ann, "Ann's own, not the club's", 1.5)
    shown = (await ok(await viewer.http.get("/api/rooms")))["events"]
    assert [e["title"] for e in shown] == ["Bob's", "The club's", "A stranger's, soonest", "Ann's own, not the club's"]
    assert [e["club"] for e in shown] == [None, {"id": club, "name": "Chess"}, None, None]
    # someone outside the club and following nobody: soonest first
    titles = [e["title"] for e in (await ok(await cat.http.get("/api/rooms")))["events"]]
    assert titles == ["A stranger's, soonest", "Ann's own, not the club's", "Bob's", "The club's"]


async def test_a_profile_lists_the_clubs_its_person_is_a_member_of(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob, cat = [await inst.member(n) for n in ("ann", "bob", "cat")]
    chess = await found(ann, "Chess")
    go = await found(bob, "Go")
    await ok(await ann.post(f"/api/clubs/{go}/follow"))  # only follows: not listed
    await ok(await bob.post(f"/api/clubs/{chess}/join"))

    def listed(profile: dict[str, Any]) -> list[tuple[str, str]]:
        return [(c["name"], c["role"]) for c in profile["clubs"]]

    assert listed(await ok(await cat.http.get("/api/users/ann"))) == [("Chess", "admin")]
    assert listed(await ok(await cat.http.get("/api/users/bob"))) == [("Chess", "member"), ("Go", "admin")]
    assert (await ok(await ann.http.get("/api/users/cat")))["clubs"] == []
    await ok(await bob.post(f"/api/clubs/{chess}/leave"))
    assert listed(await ok(await cat.http.get("/api/users/bob"))) == [("Go", "admin")]


# -- the club's page, search, avatar ----------------------------------------------------------------


async def test_clubs_are_found_by_name_and_topic(inst: Instance) -> None:
    await let_members_found(inst)
    ann, bob = await inst.member("ann"), await inst.member("bob")
    chess = await found(ann, "Chess Club", topics=["sports", "books"], description="Weekly blitz")
    await found(ann, "Book Circle", topics=["books"])
    await found(ann, "Night Owls")
    await ok(await bob.post(f"/api/clubs/{chess}/join"))

    async def find(**params: Any) -> list[str]:
        return [c["name"] for c in (await ok(await bob.http.get("/api/clubs", params=params)))["clubs"]]

    assert await find() == ["Chess Club", "Book Circle", "Night Owls"]  # most members first
    assert await find(q="club") == ["Chess Club"]  # a word's prefix
    assert await find(q="BO") == ["Book Circle"]
    assert await find(topic="books") == ["Chess Club", "Book Circle"]
    assert await find(q="night", topic="books") == []
    assert await find(q="100%") == []
    await refused(await bob.http.get("/api/clubs", params={"topic": "knitting"}), 400, "unknown_topic")
    await refused(await bob.http.get("/api/clubs", params={"q": "a\x00b"}), 400, "invalid_input")
    found_one = (await ok(await bob.http.get("/api/clubs", params={"q": "chess"})))["clubs"][0]
    assert (found_one["member_count"], found_one["description"]) == (2, "Weekly blitz")


async def test_club_avatar_is_reencoded_and_served(inst: Instance) -> None:
    await let_members_found(inst)
    ann = await inst.member("ann")
    club = await found(ann, "Chess")
    data = await ok(await ann.http.put(f"/api/clubs/{club}/avatar", content=png()))
    served = await ann.http.get(data["avatar_url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(served.content)).size == (256, 256)
    assert "immutable" in served.headers["cache-control"]
    assert (await ok(await ann.http.delete(f"/api/clubs/{club}/avatar")))["avatar_url"] is None
    await refused(await ann.http.get(f"/api/clubs/{club}/avatar"), 404, "no_avatar")


# -- admins of the instance, account deletion, limits ----------------------------------------------


async def test_an_admin_removes_a_club_and_it_is_audited(inst: Instance) -> None:
    await let_members_found(inst)
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    club = await found(ann, "Spam Palace")
    await ok(await bob.post(f"/api/clubs/{club}/join"))
    room = await ok(await ann.post("/api/rooms", json={"title": "Spam hour", "club_id": club}), 201)
    await refused(await ann.post(f"/api/admin/clubs/{club}/remove", json={"reason": "x"}), 403, "not_admin")
    listed = await ok(await admin.http.get("/api/admin/clubs", params={"q": "spam"}))
    assert [c["name"] for c in listed["clubs"]] == ["Spam Palace"]
    await ok(await admin.post(f"/api/admin/clubs/{club}/remove", json={"reason": "Selling watches"}))
    await refused(await bob.http.get(f"/api/clubs/{club}"), 404, "club_not_found")
    assert await club_rows(inst) == {n: [] for n in CLUB_TABLES}
    assert room["id"] not in inst.services.live.rooms  # its live rooms ended
    entry = (await ok(await admin.http.get("/api/admin/audit")))["entries"][0]
    assert (entry["action"], entry["by"]["username"]) == ("club.remove", "root")
    assert entry["detail"] == f"Spam Palace ({club}): Selling watches"


async def test_a_club_nobody_can_take_over_is_archived(inst: Instance) -> None:
    await let_members_found(inst)
    ann, fay, lee, old = [await inst.member(n) for n in ("ann", "fay", "lee", "old")]
    lonely = await found(ann, "Lonely")
    await ok(await fay.post(f"/api/clubs/{lonely}/follow"))
    busy = await found(ann, "Busy")
    await ok(await old.post(f"/api/clubs/{busy}/join"))
    await ok(await lee.post(f"/api/clubs/{busy}/join"))
    await ok(await ann.http.put(f"/api/clubs/{busy}/members/{lee.id}", json={"role": "leader"}))
    r = await ann.http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert r.status_code == 204, r.text
    # a leader takes over before an older member
    club = await page(lee, busy)
    assert (names(club, "admin"), names(club, "leader"), names(club, "member")) == (["lee"], [], ["old"])
    # only a follower left: archived; it takes nobody new, and is no longer listed
    club = await page(fay, lonely)
    assert (club["archived"], club["counts"]["admin"], club["you"]["role"]) == (True, 0, "follower")
    await refused(await old.post(f"/api/clubs/{lonely}/join"), 409, "club_archived")
    assert [c["name"] for c in (await ok(await old.http.get("/api/clubs")))["clubs"]] == ["Busy"]
    rows = await club_rows(inst)
    assert all(ann.id not in repr(r) for table in rows.values() for r in table)


async def test_founding_and_invitations_are_rate_limited(tmp_path: Path, database_url: str) -> None:
    limits = ("club_found=1/86400", "club_invite=2/3600")
    async with running_instance(tmp_path / "data", database_url=database_url, limits=limits) as inst:
        await let_members_found(inst)
        ann = await inst.member("ann")
        others = [await inst.member(n) for n in ("bob", "cat", "dan")]
        club = await found(ann, "Chess", "invite")
        r = await ann.post("/api/clubs", json={"name": "Go"})
        assert r.status_code == 429 and error_code(r) == "rate_limited" and "founded many clubs" in r.text
        assert int(r.headers["retry-after"]) > 0
        for person in others[:2]:
            await ok(await ann.post(f"/api/clubs/{club}/invites", json={"username": person.user["username"]}))
        before = await club_rows(inst)
        r = await ann.post(f"/api/clubs/{club}/invites", json={"username": "dan"})
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        assert await club_rows(inst) == before


async def test_club_events_are_scheduled_by_its_leaders_and_shown_on_its_page(inst: Instance) -> None:
    await let_members_found(inst)
    ann, lee, moe, out = [await inst.member(n) for n in ("ann", "lee", "moe", "out")]
    club = await found(ann, "Book Club")
    other = await found(out, "Other Club")
    for who in (lee, moe):
        await ok(await who.post(f"/api/clubs/{club}/join"))
    await ok(await ann.http.put(f"/api/clubs/{club}/members/{lee.id}", json={"role": "leader"}))
    soon = datetime.fromtimestamp(time.time() + 1800, UTC).isoformat()
    body = {"title": "Chapter one", "starts_at": soon, "club_id": club}

    async def event_rows() -> int:
        async with inst.services.db.engine.connect() as conn:
            return len((await conn.execute(sa.select(tables.events))).all())

    # a plain member, someone else's club, no such club: refused, nothing written
    await refused(await moe.post("/api/events", json=body), 403, "not_club_leader")
    await refused(await lee.post("/api/events", json={**body, "club_id": other}), 403, "not_club_leader")
    await refused(await lee.post("/api/events", json={**body, "club_id": "c_nosuchclub"}), 404, "club_not_found")
    assert await event_rows() == 0

    e = await ok(await lee.post("/api/events", json=body), 201)
    assert e["club_id"] == club
    assert [x["id"] for x in (await page(moe, club))["upcoming_events"]] == [e["id"]]
    assert (await page(moe, other))["upcoming_events"] == []
    # started, it is one of the club's rooms
    started = await ok(await lee.post(f"/api/events/{e['id']}/start"))
    room = await ok(await moe.http.get(f"/api/rooms/{started['room_id']}"))
    assert room["club"] == {"id": club, "name": "Book Club", "members_only": False}
    # a removed club leaves its events to their hosts
    e2 = await ok(await ann.post("/api/events", json={**body, "title": "Chapter two"}), 201)
    admin = await inst.admin()
    await ok(await admin.post(f"/api/admin/clubs/{club}/remove", json={"reason": "test"}))
    assert (await ok(await ann.http.get(f"/api/events/{e2['id']}")))["club_id"] is None


async def test_migration_0016_goes_down_and_up(database_url: str) -> None:
    """Down, a club invitation's notification goes (nothing older can show it); the others
    stay. Up again, the column is back, empty."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.engine.begin() as conn:
            await accounts.insert_user(
                conn, user_id="u_ann", username="ann", display_name="Ann", password_hash="x",
                is_admin=False, invited_by=None, now=1.0,
            )
            await conn.execute(
                tables.clubs.insert().values(
                    id="c_1", name="Owls", name_key="owls", description="", rules="", mode="open", topics="",
                    created_by="u_ann", created_at=1.0,
                )
            )
            for kind, club_id in (("club_invite", "c_1"), ("new_follower", None)):
                await conn.execute(
                    tables.notifications.insert().values(user_id="u_ann", kind=kind, created_at=1.0, club_id=club_id)
                )
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), "0015"))
        async with db.engine.connect() as conn:
            columns = await conn.run_sync(lambda c: {x["name"] for x in sa.inspect(c).get_columns("notifications")})
            assert "club_id" not in columns
            kinds = (await conn.execute(sa.text("select kind from notifications"))).scalars().all()
            assert kinds == ["new_follower"]
        await db.migrate()
        async with db.engine.connect() as conn:
            rows = (await conn.execute(sa.select(tables.notifications.c.kind, tables.notifications.c.club_id))).all()
            assert [tuple(r) for r in rows] == [("new_follower", None)]
    finally:
        await db.close()
