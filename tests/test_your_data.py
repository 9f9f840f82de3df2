"""Your data over HTTP: the export holds everything about you; deletion leaves no trace.

Both acceptance tests walk every table of the real database rather than trusting
storage/your_data.py's idea of which columns name a person: a row "about" someone
is any row with their id in any column. Runs on SQLite, and on PostgreSQL with
PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from tests.conftest import Instance, Person, error_code
from tests.people import MEMBER_PASSWORD

from parlor.actions.events import run_due_reminders
from parlor.storage import sso as sso_store
from parlor.storage import tables
from parlor.storage import your_data as policy

FORMER = {"id": None, "username": None, "display_name": "a former member"}
ZED_NAME, ZED_SHOWN, ZED_BIO = "zed_gone", "Zelda Quux", "Collects rare teapots in Tromsø"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 200, 0)).save(out, "PNG")
    return out.getvalue()


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


@dataclass
class World:
    zed: Person
    ann: Person
    cat: Person  # nominated by zed
    live_room: str
    ended_room: str
    token: str
    club: str  # zed founded it, alone its admin; ann is its member
    other_club: str  # ann's: zed follows it and asked to join it


async def rich_user(instance: Instance) -> World:
    """zed has a bit of everything the instance can hold about a person."""
    admin = await instance.admin()
    zed, ann, _bob, dan = [await instance.member(n) for n in (ZED_NAME, "ann", "bob", "dan")]
    await ok(await zed.http.patch("/api/me/profile", json={"display_name": ZED_SHOWN, "bio": ZED_BIO}))
    await ok(await zed.http.put("/api/me/avatar", content=png()))
    # follows both ways, a block
    for who, whom in ((zed, "ann"), (ann, ZED_NAME), (zed, "bob")):
        await ok(await who.http.post(f"/api/users/{whom}/follow"))
    await ok(await zed.http.post("/api/users/bob/block"))
    # a bot token; invites made (one used: cat is nominated by zed, one left unused)
    token = (await ok(await zed.post("/api/tokens", json={"name": "my bot"}), 201))["token"]
    code = (await ok(await zed.post("/api/invites"), 201))["code"]
    await ok(await zed.post("/api/invites"), 201)
    c = instance.client()
    body = {"invite_code": code, "username": "cat", "display_name": "Cat", "password": MEMBER_PASSWORD}
    cat = Person(c, await ok(await c.post("/api/signup", json=body), 201))
    # a live room zed moderates with ann on stage; dan removed and blocked from zed's rooms; an ended room
    live = (await ok(await zed.post("/api/rooms", json={"title": "Morning show"}), 201))["id"]
    for who in (ann, dan):
        await ok(await who.post(f"/api/rooms/{live}/join"))
    await ok(await zed.post(f"/api/rooms/{live}/speak-invites", json={"user_id": ann.id}))
    await ok(await ann.post(f"/api/rooms/{live}/speak-invite/accept"))
    await ok(await zed.post(f"/api/rooms/{live}/remove", json={"user_id": dan.id, "block": True}))
    await ok(await dan.http.post(f"/api/users/{ZED_NAME}/block"))  # zed as the target of others' acts
    ended = (await ok(await zed.post("/api/rooms", json={"title": "Yesterday"}), 201))["id"]
    await ok(await zed.post(f"/api/rooms/{ended}/end"))
    # growth: zed lets a waitlisted person in by username
    await ok(await instance.client().post("/api/waitlist", json={"username": "wally", "display_name": "Wally"}), 201)
    await ok(await zed.post("/api/waitlist/admit", json={"username": "wally"}))
    # contacts: zed is findable by one (keyed hash of a) phone number
    await ok(await zed.post("/api/contacts/identifiers", json={"kind": "phone", "hash": "ab" * 32}), 201)
    # notifications: a mute setting; zed has an inbox (ann followed zed)
    await ok(await zed.http.put("/api/notifications/settings", json={"muted": {"room_started": True}}))
    assert (await ok(await zed.http.get("/api/notifications")))["notifications"]
    # account safety: a failed sign-in is in zed's sign-in history (a successful one would
    # add a session)
    wrong = await instance.client().post("/api/login", json={"username": ZED_NAME, "password": "not zed's"})
    assert wrong.status_code == 401
    # reports: zed reports ann from the live room (zed is on its stage), an admin handles it
    # (zed is told: report_handled); dan reports zed's profile
    body = {"target": {"kind": "person", "id": ann.id}, "reason": "spam", "note": "Sold me a bridge", "room_id": live}
    mine = await ok(await zed.post("/api/reports", json=body), 201)
    await ok(await admin.post(f"/api/admin/reports/{mine['id']}/resolve", json={"outcome": "dismissed", "note": "ok"}))
    body = {"target": {"kind": "profile", "id": zed.id}, "reason": "impersonation", "note": "Not the real Zelda"}
    await ok(await dan.post("/api/reports", json=body), 201)
    # an admin warned zed: a sanction, an admin audit entry about zed, a `warned` notification
    await ok(await admin.post(f"/api/admin/users/{zed.id}/warn", json={"message": "Mind the teapots."}), 201)
    assert admin.id != zed.id
    # events: zed hosts one (ann co-hosts it and asked to be told; it changed: ann was told),
    # co-hosts ann's and asked about it, was reminded of it, and has a calendar feed
    soon = datetime.fromtimestamp(time.time() + 86400, UTC).isoformat()
    body = {"title": "Pot luck", "starts_at": soon, "cohosts": ["ann"]}
    zeds = await ok(await zed.post("/api/events", json=body), 201)
    body = {"title": "Ann's hour", "starts_at": soon, "cohosts": [ZED_NAME]}
    anns = await ok(await ann.post("/api/events", json=body), 201)
    await ok(await ann.http.put(f"/api/events/{zeds['id']}/notify", json={"on": True}))
    await ok(await zed.http.put(f"/api/events/{anns['id']}/notify", json={"on": True}))
    await ok(await zed.http.patch(f"/api/events/{zeds['id']}", json={"description": "Bring a dish"}))
    await run_due_reminders(instance.services, time.time() + 86400)
    await ok(await zed.post("/api/me/calendar"), 201)
    # clubs and interests: zed founds a club (its only admin) and invites ann (who joins) and
    # cat (pending, by zed); zed follows ann's club and asks to join it; zed has interests
    await ok(await admin.http.patch("/api/admin/settings", json={"clubs_rule": "members"}))
    body = {"name": "Teapot Society", "topics": ["food"], "mode": "invite", "rules": "Be kind"}
    club = (await ok(await zed.post("/api/clubs", json=body), 201))["id"]
    await ok(await zed.http.put(f"/api/clubs/{club}/avatar", content=png()))
    for invited in ("ann", "cat"):
        await ok(await zed.post(f"/api/clubs/{club}/invites", json={"username": invited}))
    await ok(await ann.post(f"/api/clubs/{club}/invitation/accept"))
    other = (await ok(await ann.post("/api/clubs", json={"name": "Walkers", "mode": "approval"}), 201))["id"]
    await ok(await zed.post(f"/api/clubs/{other}/follow"))
    await ok(await zed.post(f"/api/clubs/{other}/join"))
    await ok(await zed.http.put("/api/me/interests", json={"topics": ["food", "books"]}))
    # single sign-on: zed's account is linked to an identity provider's subject (this
    # instance has no provider; tests/test_sso.py signs in through one)
    async with instance.services.db.engine.begin() as conn:
        await sso_store.link(conn, "https://id.example.org", "zed-subject", zed.id, time.time())
    return World(zed, ann, cat, live, ended, token, club, other)


async def every_row(instance: Instance) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the code declares."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with instance.services.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            out[table.name] = [dict(row) for row in (await conn.execute(sa.select(table))).mappings()]
    return out


def naming(rows: dict[str, list[dict[str, Any]]], user_id: str) -> dict[str, list[dict[str, Any]]]:
    """The rows with `user_id` in any column."""
    return {name: [r for r in table if user_id in r.values()] for name, table in rows.items()}


# What an export withholds from the person it is for (docs/API.md, Your data), by the
# column that names them: a reporter never sees who handled their report nor the
# moderators' note; the person reported never sees who reported them nor what they wrote.
WITHHELD = {
    ("reports", "reporter_id"): {"handled_by", "resolution_note"},
    ("reports", "reported_user_id"): {"reporter_id", "note", "handled_by", "resolution_note"},
    ("reports", "handled_by"): set(),
}


def exported(table: str, row: dict[str, Any], user_id: str) -> dict[str, Any]:
    """A stored row as `user_id`'s export shows it (docs/API.md, Your data)."""
    out = {}
    columns = tables.metadata.tables[table].c
    hidden = [cols for (t, column), cols in WITHHELD.items() if t == table and row[column] == user_id]
    withheld = set.intersection(*hidden) if hidden else set()
    for key, value in row.items():
        if value is not None and (key == "hash" or key.endswith("_hash") or columns[key].info.get("secret")):
            value = "(stored only as a hash)"
        elif isinstance(value, bytes | memoryview):
            value = base64.b64encode(bytes(value)).decode()
        elif value is not None and key in withheld:
            value = "(withheld to protect others)"
        out[key] = value
    return out


def _key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items(), key=lambda kv: kv[0]))


# -- the deletion policy -------------------------------------------------------------------------


def test_every_column_naming_a_user_has_a_deletion_policy() -> None:
    """A new table with a ForeignKey("users.id") fails here until storage/your_data.py says what
    deleting an account does to it."""
    fk_columns = {
        f"{table.name}.{column.name}"
        for table in tables.metadata.tables.values()
        for column in table.columns
        if any(fk.target_fullname == "users.id" for fk in column.foreign_keys)
    }
    covered = set(policy.POLICY)
    assert fk_columns | policy.SOFT_REFERENCES == covered, {
        "without a policy": sorted((fk_columns | policy.SOFT_REFERENCES) - covered),
        "stale policy": sorted(covered - fk_columns - policy.SOFT_REFERENCES),
    }
    for name, rule in policy.POLICY.items():
        table, column = name.split(".")
        if rule is policy.Policy.NULL:
            assert tables.metadata.tables[table].c[column].nullable, f"{name} cannot be set NULL"


# -- export ------------------------------------------------------------------------------------


async def test_export_holds_every_row_about_you_and_nothing_else(instance: Instance) -> None:
    w = await rich_user(instance)
    r = await w.zed.http.get("/api/me/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="parlor-{ZED_NAME}.json"'
    export = r.json()
    assert (export["format"], export["user_id"], export["username"]) == ("parlor.export.v1", w.zed.id, ZED_NAME)

    held = naming(await every_row(instance), w.zed.id)
    # the rich user really touches every kind of data there is
    # (a club's avatar names its club, never a person)
    assert {name for name, rows in held.items() if rows} == set(tables.metadata.tables) - {"instance", "club_avatars"}
    for name, rows in held.items():
        got = sorted(map(_key, export["tables"].get(name, [])))
        assert got == sorted(_key(exported(name, row, w.zed.id)) for row in rows), name

    # spot checks of what a person would look for
    me = next(u for u in export["tables"]["users"] if u["id"] == w.zed.id)
    assert (me["display_name"], me["password_hash"]) == (ZED_SHOWN, "(stored only as a hash)")
    assert export["tables"]["profiles"] == [{"user_id": w.zed.id, "bio": ZED_BIO, "nominated_by_former": False}]
    served = await w.zed.http.get(f"/api/users/id/{w.zed.id}/avatar")
    assert served.status_code == 200 and base64.b64decode(export["tables"]["avatars"][0]["image"]) == served.content
    assert len(export["tables"]["sessions"]) == 2 and {s["kind"] for s in export["tables"]["sessions"]} == {
        "cookie",
        "bearer",
    }
    assert "$argon2" not in r.text and w.token not in r.text
    # reports: zed's own shows the outcome, not who handled it; the one about zed not who made it
    by_zed, about_zed = sorted(export["tables"]["reports"], key=lambda row: row["reporter_id"] != w.zed.id)
    assert (by_zed["note"], by_zed["outcome"], by_zed["handled_by"], by_zed["resolution_note"]) == (
        "Sold me a bridge",
        "dismissed",
        "(withheld to protect others)",
        "(withheld to protect others)",
    )
    assert (about_zed["reporter_id"], about_zed["note"], about_zed["profile_bio"]) == (
        "(withheld to protect others)",
        "(withheld to protect others)",
        ZED_BIO,
    )
    assert "Not the real Zelda" not in r.text
    # clubs by name, with zed's role in each
    assert [(c["name"], c["role"]) for c in export["clubs"]] == [("Teapot Society", "admin"), ("Walkers", "follower")]
    assert [i["topic"] for i in export["tables"]["interests"]] == ["books", "food"]


async def test_export_is_yours_only(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await instance.client().get("/api/me/export")
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    export = (await ann.http.get("/api/me/export")).json()
    assert export["user_id"] == ann.id
    # the admin who invited ann appears only as an id in ann's own rows, never with their own rows
    assert [u["id"] for u in export["tables"]["users"]] == [ann.id]
    assert all(s["user_id"] == ann.id for s in export["tables"]["sessions"])


# -- deletion ----------------------------------------------------------------------------------


async def database_text(instance: Instance) -> str:
    """Every row of every table in the database (declared or not), as text."""
    async with instance.services.db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        parts = []
        for name in names:
            rows = await conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            parts += [repr(tuple(row)) for row in rows]
    return "\n".join(parts)


async def test_deleting_your_account_leaves_no_trace(instance: Instance) -> None:
    w = await rich_user(instance)
    zed_id = w.zed.id
    before = await database_text(instance)
    assert zed_id in before and ZED_SHOWN in before and ZED_BIO in before

    r = await w.zed.http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert r.status_code == 204, r.text
    assert "parlor_session=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]

    # nothing anywhere names zed: no id, no names, no bio
    held = naming(await every_row(instance), zed_id)
    assert {name: rows for name, rows in held.items() if rows} == {}
    text = await database_text(instance)
    for trace in (zed_id, ZED_NAME, ZED_SHOWN, ZED_BIO):
        assert trace not in text, trace

    # zed can no longer get in, by cookie, token or password
    assert (await w.zed.http.get("/api/me")).status_code == 401
    bot = instance.client()
    assert (await bot.get("/api/me", headers={"authorization": f"Bearer {w.token}"})).status_code == 401
    login = await bot.post("/api/login", json={"username": ZED_NAME, "password": MEMBER_PASSWORD})
    assert login.status_code == 401
    assert (await w.ann.http.get(f"/api/users/{ZED_NAME}")).status_code == 404

    # the rooms zed made stay in history, made by "a former member"
    rows = {row["id"]: row for row in (await every_row(instance))["rooms"]}
    assert rows[w.live_room]["created_by"] is None and rows[w.ended_room]["created_by"] is None
    assert rows[w.live_room]["title"] == "Morning show"
    # the live room goes on without zed, ann now moderating it
    room = await ok(await w.ann.http.get(f"/api/rooms/{w.live_room}"))
    assert [(p["username"], p["role"]) for p in room["participants"]] == [("ann", "moderator")]
    assert zed_id not in json.dumps(room) and room["created_by"] == ""
    # cat, whom zed nominated, is now "nominated by a former member"; ann lost a follower
    assert (await ok(await w.cat.http.get("/api/users/cat")))["nominated_by"] == FORMER
    ann = await ok(await w.ann.http.get("/api/users/ann"))
    assert (ann["follower_count"], ann["following_count"]) == (0, 0)
    # the waitlisted person zed let in is still let in
    waitlist = (await every_row(instance))["waitlist"]
    assert [(e["username"], e["admitted_by"], e["admitted_at"] is not None) for e in waitlist] == [
        ("wally", None, True)
    ]
    # the report zed made stays for moderators, by "a former member"; the one about zed is gone
    left = (await every_row(instance))["reports"]
    assert [(r["reporter_id"], r["target_label"], r["note"]) for r in left] == [
        (None, "Ann (@ann)", "Sold me a bridge")
    ]
    # the club zed alone administered is ann's now (its longest-standing member); cat's
    # invitation stays, by nobody; ann's club no longer lists zed as follower nor request
    club = await ok(await w.ann.http.get(f"/api/clubs/{w.club}"))
    assert (club["archived"], club["you"]["role"]) == (False, "admin")
    assert [p["username"] for p in club["people"]["admin"]] == ["ann"] and club["people"]["member"] == []
    assert [(i["person"]["username"], i["by"]) for i in club["invited"]] == [("cat", None)]
    other = await ok(await w.ann.http.get(f"/api/clubs/{w.other_club}"))
    assert other["counts"]["follower"] == 0 and other["waiting"] == []


async def test_a_wrong_password_deletes_nothing(instance: Instance) -> None:
    zed, ann = await instance.member("zed"), await instance.member("ann")
    await ok(await ann.http.post("/api/users/zed/follow"))
    before = await every_row(instance)
    r = await zed.http.request("DELETE", "/api/me", json={"password": "not my password"})
    assert r.status_code == 403 and error_code(r) == "wrong_password"
    # someone else's password does not work either
    r = await zed.http.request("DELETE", "/api/me", json={"password": "correct horse"})
    assert r.status_code == 403 and error_code(r) == "wrong_password"
    assert await every_row(instance) == before
    assert (await zed.http.get("/api/me")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [None, {}, {"password": ""}, {"password": 12345678}, {"password": "x" * 1001}, {"password": "p", "user": "ann"}],
)
async def test_bad_delete_input_is_400_and_deletes_nothing(instance: Instance, body: Any) -> None:
    zed = await instance.member("zed")
    before = await every_row(instance)
    r = await zed.http.request("DELETE", "/api/me", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    assert await every_row(instance) == before


async def test_nobody_deletes_someone_else(instance: Instance) -> None:
    admin, ann = await instance.admin(), await instance.member("ann")
    zed = await instance.member("zed")
    r = await instance.client().request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    for who in (ann, admin):
        for path in ("/api/users/zed", f"/api/users/id/{zed.id}"):
            r = await who.http.request("DELETE", path, json={"password": MEMBER_PASSWORD})
            assert r.status_code == 405, (path, r.status_code)
    # a cross-site page cannot make a signed-in browser delete its account
    r = await zed.http.request(
        "DELETE", "/api/me", json={"password": MEMBER_PASSWORD}, headers={"origin": "https://evil.example"}
    )
    assert r.status_code == 403 and error_code(r) == "cross_origin"
    assert (await zed.http.get("/api/me")).status_code == 200


async def test_the_only_admin_cannot_delete_themselves(instance: Instance) -> None:
    admin = await instance.admin()
    r = await admin.http.request("DELETE", "/api/me", json={"password": "correct horse"})
    assert r.status_code == 409 and error_code(r) == "last_admin"
    assert (await admin.http.get("/api/me")).status_code == 200
