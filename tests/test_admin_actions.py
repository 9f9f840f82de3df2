"""Admin actions (docs/API.md, Admin): every action × every kind of caller, on SQLite and
PostgreSQL; sanctions in time (suspensions end, lifts); the operator's CLI.

Refusals are checked against a snapshot of every table and of the live rooms: a refused
request changes nothing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from tests.conftest import Instance, Person, error_code, fresh_postgres, running_instance
from tests.people import MEMBER_PASSWORD, signup_body

from parlor.cli import main
from parlor.storage import tables
from parlor.transport.http.openapi import api_routes

SRC = Path(__file__).resolve().parents[1] / "src"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
async def inst(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Instance]:
    async with contextlib.AsyncExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgresql":
            overrides["database_url"] = await stack.enter_async_context(fresh_postgres())
        yield await stack.enter_async_context(running_instance(tmp_path / "data", **overrides))


async def login(inst: Instance, username: str, password: str = MEMBER_PASSWORD) -> httpx.Response:
    return await inst.client().post("/api/login", json={"username": username, "password": password})


async def snapshot(inst: Instance) -> dict[str, Any]:
    """Every row of every table, and the live rooms. Of `sessions`, only which exist and
    whose: when a session was last used is not what an admin action may change."""
    s = inst.services
    rows: dict[str, Any] = {}
    async with s.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            columns = [table.c.secret_hash, table.c.user_id] if table is tables.sessions else list(table.columns)
            found = await conn.execute(sa.select(*columns))
            rows[table.name] = sorted(repr(tuple(r)) for r in found)
    live = {
        room.id: (room.version, room.ended, sorted((p.user_id, p.role.value) for p in room.participants.values()))
        for room in s.live.rooms.values()
    }
    return {"tables": rows, "live": live, "peers": s.media.peer_count()}


@dataclass
class World:
    admin: Person
    member: Person
    target: Person
    suspended: Person
    banned: Person
    anonymous: httpx.AsyncClient
    room_id: str
    entry_id: str
    club_id: str
    report_id: str
    invitee_id: str

    def caller(self, who: str) -> httpx.AsyncClient:
        return self.anonymous if who == "anonymous" else getattr(self, who).http


async def world(inst: Instance) -> World:
    admin = await inst.admin()
    member = await inst.member("mem")
    target = await inst.member("tgt")
    r = await target.http.put("/api/me/avatar", content=png(), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    room = (await member.post("/api/rooms", json={"title": "Members' room"})).json()
    assert (await target.post(f"/api/rooms/{room['id']}/join")).status_code == 200
    suspended = await inst.member("sus")
    banned = await inst.member("ban")
    r = await admin.post(f"/api/admin/users/{suspended.id}/suspend", json={"days": 7, "reason": "spam"})
    assert r.status_code == 201, r.text
    r = await admin.post(f"/api/admin/users/{banned.id}/ban", json={"reason": "abuse"})
    assert r.status_code == 201, r.text
    # tgt invited someone (the person view lists whom)
    code = (await target.post("/api/invites")).json()["code"]
    r = await inst.client().post("/api/signup", json=signup_body(code, "inv"))
    assert r.status_code == 201, r.text
    invitee = r.json()["id"]
    club = await admin.post("/api/clubs", json={"name": "Owls", "topics": ["music"]})
    assert club.status_code == 201, club.text
    made = await member.post("/api/reports", json={"target": {"kind": "person", "id": target.id}, "reason": "spam"})
    assert made.status_code == 201, made.text
    anonymous = inst.client()
    r = await anonymous.post("/api/waitlist", json={"username": "wai", "display_name": "Wai"})
    assert r.status_code == 201, r.text
    return World(
        admin, member, target, suspended, banned, anonymous, room["id"], r.json()["entry"]["id"],
        club.json()["id"], made.json()["id"], invitee,
    )  # fmt: skip


@dataclass(frozen=True)
class Action:
    name: str
    method: str
    path: Callable[[World], str]
    body: dict[str, Any] | Callable[[World], dict[str, Any]] | None
    ok: int


ACTIONS = [
    Action("warn", "POST", lambda w: f"/api/admin/users/{w.target.id}/warn", {"message": "Be kind."}, 201),
    Action("suspend", "POST", lambda w: f"/api/admin/users/{w.target.id}/suspend", {"days": 3, "reason": "x"}, 201),
    Action("lift", "POST", lambda w: f"/api/admin/users/{w.target.id}/lift", {"reason": "appeal"}, 201),
    Action("ban", "POST", lambda w: f"/api/admin/users/{w.target.id}/ban", {"reason": "abuse"}, 201),
    Action("end room", "POST", lambda w: f"/api/admin/rooms/{w.room_id}/end", {"reason": "off the rails"}, 200),
    Action("remove picture", "POST", lambda w: f"/api/admin/users/{w.target.id}/avatar/remove", {"reason": "x"}, 200),
    Action("settings write", "PATCH", lambda w: "/api/admin/settings", {"invites_per_member": 2}, 200),
    Action("settings read", "GET", lambda w: "/api/admin/settings", None, 200),
    Action("audit read", "GET", lambda w: "/api/admin/audit", None, 200),
    Action("people search", "GET", lambda w: "/api/admin/users?q=tg", None, 200),
    Action("person view", "GET", lambda w: f"/api/admin/users/{w.target.id}", None, 200),
    Action("sign-up mode", "PUT", lambda w: "/api/admin/signup-mode", {"mode": "open"}, 200),
    Action("waitlist read", "GET", lambda w: "/api/admin/waitlist", None, 200),
    Action("let in", "POST", lambda w: "/api/waitlist/admit", lambda w: {"entry_id": w.entry_id}, 200),
    Action("embed sites", "PUT", lambda w: "/api/admin/embed-origins", {"origins": ["https://blog.example.org"]}, 200),
    Action("waitlist delete", "DELETE", lambda w: f"/api/admin/waitlist/{w.entry_id}", None, 204),
    Action("clubs read", "GET", lambda w: "/api/admin/clubs", None, 200),
    Action("remove club", "POST", lambda w: f"/api/admin/clubs/{w.club_id}/remove", {"reason": "hate"}, 200),
    Action("report queue", "GET", lambda w: "/api/admin/reports", None, 200),
    Action("report view", "GET", lambda w: f"/api/admin/reports/{w.report_id}", None, 200),
    Action("reports against", "GET", lambda w: f"/api/admin/users/{w.target.id}/reports", None, 200),
    Action("resolve report", "POST", lambda w: f"/api/admin/reports/{w.report_id}/resolve", {"outcome": "actioned"},
           200),
]  # fmt: skip

REFUSED = {
    "member": (403, "not_admin"),
    "suspended": (401, "not_authenticated"),
    "banned": (401, "not_authenticated"),
    "anonymous": (401, "not_authenticated"),
}


def actions_of(inst: Instance) -> list[Action]:
    # (api_routes: routers may be nested; inst.app.routes alone missed this route and skipped its row)
    paths = {(m, route.path) for route in api_routes(inst.app.routes) for m in route.methods or ()}
    assert ("DELETE", "/api/admin/waitlist/{entry_id}") in paths  # the row below is not skipped
    return ACTIONS


async def call(http: httpx.AsyncClient, action: Action, w: World) -> httpx.Response:
    body = action.body(w) if callable(action.body) else action.body
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    return await http.request(action.method, action.path(w), **kwargs)


async def test_every_admin_action_refuses_everyone_but_admins_and_changes_nothing(inst: Instance) -> None:
    w = await world(inst)
    actions = actions_of(inst)
    before = await snapshot(inst)
    for action in actions:
        for who, (status, code) in REFUSED.items():
            r = await call(w.caller(who), action, w)
            assert (r.status_code, error_code(r)) == (status, code), (action.name, who, r.text)
            assert await snapshot(inst) == before, (action.name, who)

    # The same requests from the admin succeed, each with its effect.
    for action in actions:
        r = await call(w.admin.http, action, w)
        assert r.status_code == action.ok or (action.ok == 0 and r.is_success), (action.name, r.text)
        await check_effect(inst, w, action.name, r.json() if r.content else None)

    audit = (await w.admin.http.get("/api/admin/audit?limit=200")).json()["entries"]
    done = {e["action"] for e in audit}
    assert {
        "user.warn",
        "user.suspend",
        "user.lift",
        "user.ban",
        "room.end",
        "user.avatar_remove",
        "settings.change",
        "signup_mode.set",
        "waitlist.admit",
        "waitlist.delete",
        "embed_origins.set",
        "club.remove",
        "report.actioned",
    } <= done
    assert all(e["by"]["username"] == "root" and not e["by_operator"] for e in audit)
    assert audit == sorted(audit, key=lambda e: -e["id"])  # newest first


async def check_effect(inst: Instance, w: World, name: str, body: Any) -> None:
    admin, target = w.admin.http, w.target
    if name == "warn":
        inbox = (await target.http.get("/api/notifications")).json()["notifications"]
        assert [(n["kind"], n["text"], n["actor"]) for n in inbox if n["kind"] == "warned"] == [
            ("warned", "Be kind.", None)
        ]
    elif name == "suspend":
        assert body["standing"]["state"] == "suspended"
        r = await login(inst, "tgt")
        assert (r.status_code, error_code(r)) == (403, "suspended") and r.json()["error"]["until"] > 0
        assert (await target.http.get("/api/me")).status_code == 401  # their session ended
        room = inst.services.live.rooms[w.room_id]
        assert target.id not in room.participants  # out of the live room at once
        # Suspending the banned again is refused; so is sanctioning oneself or an admin.
        r = await admin.post(f"/api/admin/users/{w.banned.id}/suspend", json={"days": 1, "reason": "x"})
        assert (r.status_code, error_code(r)) == (409, "already_banned")
    elif name == "lift":
        assert body["standing"]["state"] == "ok"
        r = await login(inst, "tgt")
        assert r.status_code == 200
        target.http.cookies = r.cookies
    elif name == "ban":
        assert body["standing"] == {"state": "banned", "until": None, "since": body["sanction"]["created_at"]}
        r = await login(inst, "tgt")
        assert (r.status_code, error_code(r)) == (403, "banned")
    elif name == "end room":
        assert body["ended"] is True and w.room_id not in inst.services.live.rooms
        r = await w.member.http.get(f"/api/rooms/{w.room_id}")
        assert (r.status_code, error_code(r)) == (410, "room_ended")
    elif name == "remove picture":
        r = await admin.get(f"/api/users/id/{target.id}/avatar")
        assert (r.status_code, error_code(r)) == (404, "no_avatar")
    elif name == "settings write":
        assert body["invites_per_member"] == 2
        assert (await w.member.http.get("/api/invites")).json()["quota"] == 2
    elif name == "person view":
        assert body["user"]["username"] == "tgt" and body["user"]["avatar_url"] is None
        assert body["standing"]["state"] == "banned"
        assert [x["kind"] for x in body["sanctions"]] == ["ban", "lift", "suspend", "warn"]
        assert body["invited_by"]["username"] == "root"
        # whom they invited: their invite, used by inv
        assert [(i["kind"], i["used_by"]) for i in body["invites"]] == [
            ("code", {"id": w.invitee_id, "username": "inv", "display_name": "Inv"})
        ]
    elif name == "people search":
        assert [p["username"] for p in body["people"]] == ["tgt"] and body["people"][0]["state"] == "banned"
    elif name == "sign-up mode":
        assert (await w.anonymous.get("/api/signup-mode")).json() == {"mode": "open"}
    elif name == "let in":
        assert body["entry"]["status"] == "admitted" and body["entry"]["admitted_by"]["username"] == "root"
    elif name == "embed sites":
        got = (await admin.get("/api/admin/embed-origins")).json()
        assert "https://blog.example.org" in json.dumps(got)
    elif name == "waitlist delete":
        entries = (await admin.get("/api/admin/waitlist")).json()["entries"]
        assert w.entry_id not in [e["id"] for e in entries]
        r = await admin.post("/api/waitlist/admit", json={"entry_id": w.entry_id})
        assert r.status_code == 404, r.text
    elif name == "clubs read":
        assert [c["id"] for c in body["clubs"]] == [w.club_id]
    elif name == "remove club":
        r = await w.member.http.get(f"/api/clubs/{w.club_id}")
        assert (r.status_code, error_code(r)) == (404, "club_not_found")
    elif name in ("report queue", "reports against"):
        assert [i["id"] for i in body["items"]] == [w.report_id]
    elif name == "report view":
        assert body["id"] == w.report_id and body["reported_user"]["id"] == target.id
    elif name == "resolve report":
        assert (body["state"], body["outcome"]) == ("handled", "actioned")
        inbox = (await w.member.http.get("/api/notifications")).json()["notifications"]
        assert [n["kind"] for n in inbox] == ["report_handled"]


async def test_refusals_with_their_own_codes_change_nothing(inst: Instance) -> None:
    w = await world(inst)
    admin = w.admin.http
    # A second admin (no route makes one yet: the database does).
    other = await inst.member("oth")
    async with inst.services.db.engine.begin() as conn:
        await conn.execute(tables.users.update().where(tables.users.c.id == other.id).values(is_admin=True))
    tgt = f"/api/admin/users/{w.target.id}"
    cases: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        ("POST", f"/api/admin/users/{w.admin.id}/ban", {"reason": "x"}, 403, "cannot_sanction_self"),
        ("POST", f"/api/admin/users/{w.admin.id}/warn", {"message": "x"}, 403, "cannot_sanction_self"),
        ("POST", f"/api/admin/users/{other.id}/suspend", {"days": 1, "reason": "x"}, 403, "cannot_sanction_admin"),
        ("POST", f"/api/admin/users/{other.id}/lift", {}, 403, "cannot_sanction_admin"),
        ("POST", "/api/admin/users/u_nobody/ban", {"reason": "x"}, 404, "user_not_found"),
        ("POST", "/api/admin/users/bad%00id/ban", {"reason": "x"}, 404, "user_not_found"),
        ("GET", "/api/admin/users/u_nobody", None, 404, "user_not_found"),
        ("POST", f"{tgt}/suspend", {"days": 0, "reason": "x"}, 400, "invalid_input"),
        ("POST", f"{tgt}/suspend", {"days": 3651, "reason": "x"}, 400, "invalid_input"),
        ("POST", f"{tgt}/suspend", {"days": 1, "reason": "   "}, 400, "invalid_input"),
        ("POST", f"{tgt}/ban", {"reason": "a\u202eb"}, 400, "invalid_input"),
        ("POST", f"{tgt}/warn", {"message": "x" * 501}, 400, "invalid_input"),
        ("POST", f"{tgt}/lift", {}, 409, "not_sanctioned"),
        ("POST", f"/api/admin/users/{w.banned.id}/ban", {"reason": "again"}, 409, "already_banned"),
        ("POST", f"/api/admin/users/{w.member.id}/avatar/remove", {}, 404, "no_avatar"),
        ("POST", "/api/admin/rooms/r_nothing/end", {"reason": "x"}, 404, "room_not_found"),
        ("POST", f"/api/admin/rooms/{w.room_id}/end", {"reason": ""}, 400, "invalid_input"),
        ("PATCH", "/api/admin/settings", {}, 400, "invalid_input"),
        ("PATCH", "/api/admin/settings", {"invites_per_member": -1}, 400, "invalid_input"),
        ("PATCH", "/api/admin/settings", {"clubs_rule": "everyone", "guest_rooms": True}, 400, "invalid_input"),
        ("PATCH", "/api/admin/settings", {"color": "red"}, 400, "invalid_input"),
        ("GET", "/api/admin/audit?before=0", None, 400, "invalid_input"),
        ("GET", "/api/admin/users?q=" + "x" * 51, None, 400, "invalid_input"),
    ]
    before = await snapshot(inst)
    for method, path, body, status, code in cases:
        r = await admin.request(method, path, **({} if body is None else {"json": body}))
        assert (r.status_code, error_code(r)) == (status, code), (method, path, r.text)
        assert await snapshot(inst) == before, (method, path)


async def test_a_suspension_ends_on_time_and_a_lift_ends_it_early(instance: Instance) -> None:
    s = instance.services
    now = [1_900_000_000.0]
    s.clock = lambda: now[0]
    admin = await instance.admin()
    bob = await instance.member("bob")
    token = (await bob.post("/api/tokens", json={"name": "bot"})).json()["token"]
    code = (await bob.post("/api/invites")).json()["code"]

    r = await admin.post(f"/api/admin/users/{bob.id}/suspend", json={"days": 2, "reason": "cool off"})
    assert r.status_code == 201
    until = now[0] + 2 * 86400
    assert r.json()["standing"] == {"state": "suspended", "until": until, "since": now[0]}
    r = await login(instance, "bob")
    assert (r.status_code, error_code(r)) == (403, "suspended")
    assert r.json()["error"]["until"] == until and "suspended until" in r.json()["error"]["message"]
    # The wrong password says nothing about the suspension.
    r = await login(instance, "bob", "wrong password")
    assert (r.status_code, error_code(r)) == (401, "bad_credentials")
    # Their token is revoked, their unused invite too; nobody signs up with it.
    assert (await instance.client().get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    signup = {"invite_code": code, "username": "cam", "display_name": "Cam", "password": MEMBER_PASSWORD}
    r = await instance.client().post("/api/signup", json=signup)
    assert (r.status_code, error_code(r)) == (403, "invite_revoked")

    now[0] = until - 1
    assert error_code(await login(instance, "bob")) == "suspended"
    now[0] = until + 1  # over: sign-in works again, with no admin doing anything
    assert (await login(instance, "bob")).status_code == 200
    person = (await admin.http.get(f"/api/admin/users/{bob.id}")).json()
    assert person["standing"]["state"] == "ok"
    assert [(x["kind"], x["in_force"]) for x in person["sanctions"]] == [("suspend", False)]

    # A new suspension, lifted early.
    r = await admin.post(f"/api/admin/users/{bob.id}/suspend", json={"days": 30, "reason": "again"})
    assert r.status_code == 201
    assert error_code(await login(instance, "bob")) == "suspended"
    # A second suspension replaces the first; a ban replaces a suspension.
    r = await admin.post(f"/api/admin/users/{bob.id}/suspend", json={"days": 1, "reason": "shorter"})
    assert r.json()["standing"]["until"] == now[0] + 86400
    r = await admin.post(f"/api/admin/users/{bob.id}/lift", json={"reason": "appeal granted"})
    assert r.status_code == 201 and r.json()["standing"]["state"] == "ok"
    assert (await login(instance, "bob")).status_code == 200

    audit = (await admin.http.get("/api/admin/audit")).json()["entries"]
    assert [(e["action"], e["target"]["username"], e["detail"]) for e in audit] == [
        ("user.lift", "bob", "appeal granted"),
        ("user.suspend", "bob", "shorter"),
        ("user.suspend", "bob", "again"),
        ("user.suspend", "bob", "cool off"),
    ]
    page = (await admin.http.get("/api/admin/audit?limit=2")).json()
    rest = (await admin.http.get(f"/api/admin/audit?limit=2&before={page['next_before']}")).json()
    details = [e["detail"] for e in page["entries"] + rest["entries"]]
    assert details == ["appeal granted", "shorter", "again", "cool off"]
    assert rest["next_before"] is None


async def test_a_banned_host_leaves_their_room_to_the_next_speaker_or_ends_it(instance: Instance) -> None:
    admin = await instance.admin()
    ann, bob, cat = [await instance.member(n) for n in ("ann", "bob", "cat")]
    live = instance.services.live
    # ann hosts with bob on stage: bob becomes the moderator.
    room = (await ann.post("/api/rooms", json={"title": "Handed over"})).json()
    await bob.post(f"/api/rooms/{room['id']}/join")
    await bob.post(f"/api/rooms/{room['id']}/hand", json={"raised": True})
    await ann.post(f"/api/rooms/{room['id']}/speak-invites", json={"user_id": bob.id})
    await bob.post(f"/api/rooms/{room['id']}/speak-invite/accept")
    # cat hosts alone: the room ends.
    alone = (await cat.post("/api/rooms", json={"title": "Alone"})).json()
    await admin.post(f"/api/admin/users/{ann.id}/ban", json={"reason": "x"})
    await admin.post(f"/api/admin/users/{cat.id}/suspend", json={"days": 1, "reason": "x"})
    handed = live.rooms[room["id"]]
    assert ann.id not in handed.participants and handed.participants[bob.id].role.value == "moderator"
    assert alone["id"] not in live.rooms
    r = await admin.http.get(f"/api/admin/users/{cat.id}")
    assert [(x["title"], x["live"], x["ended_at"] is not None) for x in r.json()["rooms_hosted"]] == [
        ("Alone", False, True)
    ]


async def test_settings_are_read_back_and_the_quota_applies(instance: Instance) -> None:
    admin = await instance.admin()
    ann = await instance.member("ann")
    got = (await admin.http.get("/api/admin/settings")).json()
    assert got == {"invites_per_member": 5, "guest_rooms": False, "clubs_rule": "hosts", "club_min_rooms_hosted": 3}
    change = {"invites_per_member": 1, "guest_rooms": True, "clubs_rule": "admins", "club_min_rooms_hosted": 5}
    assert (await admin.http.patch("/api/admin/settings", json=change)).json() == change
    assert (await admin.http.get("/api/admin/settings")).json() == change
    assert (await ann.post("/api/invites")).status_code == 201
    r = await ann.post("/api/invites")
    assert (r.status_code, error_code(r)) == (403, "out_of_invites")


async def test_people_search_finds_everyone_and_the_newest_first(instance: Instance) -> None:
    admin = await instance.admin()
    ann = await instance.member("ann")
    await instance.member("annie")
    r = await ann.post(f"/api/users/id/{admin.id}/block")  # a block hides nobody from admins
    assert r.status_code == 200, r.text
    names = lambda r: [p["username"] for p in r.json()["people"]]  # noqa: E731
    assert names(await admin.http.get("/api/admin/users?q=ann")) == ["ann", "annie"]
    assert names(await admin.http.get("/api/admin/users?q=@Annie")) == ["annie"]
    assert names(await admin.http.get("/api/admin/users?q=Annie")) == ["annie"]  # display name "Annie"
    assert names(await admin.http.get("/api/admin/users?limit=2")) == ["annie", "ann"]


async def test_warned_is_not_a_kind_anyone_can_mute(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await ann.http.put("/api/notifications/settings", json={"muted": {"warned": True}})
    assert (r.status_code, error_code(r)) == (400, "invalid_input")


async def test_the_console_page_is_for_admins_only(instance: Instance) -> None:
    admin = await instance.admin()
    ann = await instance.member("ann")
    html = {"accept": "text/html"}
    for path in ("/admin", "/admin/people", f"/admin/people/{ann.id}"):
        assert (await admin.http.get(path, headers=html)).status_code == 200
        r = await ann.http.get(path, headers=html)
        assert r.status_code == 404 and "not found" in r.text.lower()
        # Signed out: the app, which asks them to sign in.
        assert (await instance.client().get(path, headers=html)).status_code == 200


# -- the operator's CLI --------------------------------------------------------------------------


def parlor(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`parlor admin …` in a process of its own, as an operator runs it."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "parlor.cli", "admin", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def in_process(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    """The same command run in this process (cheaper; the database is shared all the same)."""
    capsys.readouterr()
    status = await asyncio.to_thread(main, ["admin", *args, "--data-dir", str(data)])
    out, err = capsys.readouterr()
    return status, out, err


async def test_the_cli_suspends_bans_and_lifts_a_running_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    # A long reconnect grace: nobody here keeps a socket, and nobody must leave but bob.
    async with running_instance(data, reconnect_grace_s=600) as inst:
        admin = await inst.admin()
        bob = await inst.member("bob")
        ann = await inst.member("ann")
        room = (await ann.post("/api/rooms", json={"title": "Live"})).json()
        assert (await bob.post(f"/api/rooms/{room['id']}/join")).status_code == 200

        done = await asyncio.to_thread(parlor, data, "suspend", "bob", "--days", "2", "--reason", "spam")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("suspended @bob") and "until" in done.stdout
        assert error_code(await login(inst, "bob")) == "suspended"
        # The running node applies it: bob leaves the live room within its next look (once
        # a second; tests/test_cli_admin.py holds a socket open for the same).
        async with asyncio.timeout(1.5):
            while bob.id in inst.services.live.rooms[room["id"]].participants:
                await asyncio.sleep(0.05)

        done = await asyncio.to_thread(parlor, data, "ban", "@bob", "--reason", "worse")
        assert done.returncode == 0, done.stderr
        assert error_code(await login(inst, "bob")) == "banned"
        done = await asyncio.to_thread(parlor, data, "lift", bob.id, "--reason", "appeal")
        assert done.returncode == 0, done.stderr
        assert (await login(inst, "bob")).status_code == 200

        status, out, _ = await in_process(capsys, data, "warn", "bob", "--message", "Mind the rules.")
        assert status == 0 and out.startswith("warned @bob")

        # Refused: nothing changed, exit status 1, the reason on stderr.
        for args, code in (
            (("lift", "bob"), "not_sanctioned"),
            (("ban", "root", "--reason", "x"), "cannot_sanction_admin"),
            (("ban", "nobody", "--reason", "x"), "user_not_found"),
            (("suspend", "bob", "--days", "0", "--reason", "x"), "invalid_input"),
        ):
            before = await snapshot(inst)
            status, _, err = await in_process(capsys, data, *args)
            assert status == 1 and f"({code})" in err, (args, err)
            assert await snapshot(inst) == before

        status, out, _ = await in_process(capsys, data, "audit", "--json")
        assert status == 0
        entries = [json.loads(line) for line in out.splitlines()]
        assert [(e["action"], e["by_operator"], e["target"]["username"]) for e in entries] == [
            ("user.warn", True, "bob"),
            ("user.lift", True, "bob"),
            ("user.ban", True, "bob"),
            ("user.suspend", True, "bob"),
        ]
        status, out, _ = await in_process(capsys, data, "audit", "--limit", "1")
        assert out.splitlines() == [out.splitlines()[0]]
        assert out.splitlines()[0].endswith("operator  user.warn  @bob — Mind the rules.")
        # The console shows the operator's sanctions too.
        person = (await admin.http.get(f"/api/admin/users/{bob.id}")).json()
        assert [(x["kind"], x["by_operator"], x["by"]) for x in person["sanctions"]][:2] == [
            ("warn", True, None),
            ("lift", True, None),
        ]
