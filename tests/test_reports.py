"""Reports over HTTP: each supported kind, bad input (stable codes, nothing stored), who may
see and resolve them, the reporter told the outcome and nothing more, and the context a
report keeps as it was when made.

Every test runs on SQLite and on PostgreSQL (the `inst` fixture).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import BASE, Instance, Person, error_code, running_instance
from tests.people import signup_body

from parlor.domain.reports import SUPPORTED, Reason, TargetKind
from parlor.storage.tables import audit_log, notifications, report_stage, reports

STATIC = Path(__file__).resolve().parents[1] / "src" / "parlor" / "web" / "static"


@pytest.fixture
async def inst(tmp_path: Path, database_url: str) -> AsyncIterator[Instance]:
    async with running_instance(tmp_path / "data", database_url=database_url) as i:
        yield i


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json()


async def start(host: Person, title: str) -> str:
    return str((await ok(await host.post("/api/rooms", json={"title": title}), 201))["id"])


async def report(who: Person, kind: str, target_id: str, reason: str = "harassment", **extra: Any) -> Any:
    return await who.post("/api/reports", json={"target": {"kind": kind, "id": target_id}, "reason": reason, **extra})


async def queue(admin: Person, state: str = "open", **params: Any) -> dict[str, Any]:
    return dict(await ok(await admin.http.get("/api/admin/reports", params={"state": state, **params})))


async def stored(inst: Instance) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Every report row, stage row and notification row."""
    out = []
    async with inst.services.db.engine.connect() as conn:
        for table in (reports, report_stage, notifications):
            out.append([dict(r) for r in (await conn.execute(sa.select(table))).mappings()])
    return out[0], out[1], out[2]


async def room_with_stage(inst: Instance) -> tuple[Person, Person, Person, str]:
    """ann moderates "Late show" with bob on stage; cat listens."""
    ann, bob, cat = [await inst.member(n) for n in ("ann", "bob", "cat")]
    room_id = await start(ann, "Late show")
    for who in (bob, cat):
        await ok(await who.post(f"/api/rooms/{room_id}/join"))
    await ok(await ann.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": bob.id}))
    await ok(await bob.post(f"/api/rooms/{room_id}/speak-invite/accept"))
    return ann, bob, cat, room_id


# -- reporting each kind ---------------------------------------------------------------------------


async def test_a_member_reports_a_person_a_profile_and_a_room(inst: Instance) -> None:
    admin = await inst.admin()
    _ann, bob, cat, room_id = await room_with_stage(inst)
    await ok(await bob.http.patch("/api/me/profile", json={"bio": "Talks about trains"}))

    made = await ok(await report(cat, "person", bob.id, "harassment", note="Shouted at me", room_id=room_id), 201)
    assert made == {
        "id": made["id"],
        "target": {"kind": "person", "id": bob.id, "label": "Bob (@bob)"},
        "reason": "harassment",
        "note": "Shouted at me",
        "created_at": made["created_at"],
        "state": "open",
    }
    await ok(await report(cat, "profile", bob.id, "impersonation"), 201)
    await ok(await report(cat, "room", room_id, "hate"), 201)

    items = (await queue(admin))["items"]
    assert [(i["target"]["kind"], i["reason"]) for i in items] == [
        ("person", "harassment"),
        ("profile", "impersonation"),
        ("room", "hate"),
    ]
    person, profile, room = items
    cat_ref = {"id": cat.id, "username": "cat", "display_name": "Cat"}
    bob_ref = {"id": bob.id, "username": "bob", "display_name": "Bob"}
    assert set(person) == {
        "id", "target", "reported_user", "reason", "note", "reporter", "created_at", "state",
        "outcome", "handled_by", "handled_at", "resolution_note", "context",
    }  # fmt: skip
    assert (person["reporter"], person["reported_user"], person["state"], person["outcome"]) == (
        cat_ref,
        bob_ref,
        "open",
        None,
    )
    assert person["handled_by"] is None and person["handled_at"] is None
    # a person reported from a room: their profile text and the room's context
    assert person["context"]["profile"] == {"username": "bob", "display_name": "Bob", "bio": "Talks about trains"}
    ctx = person["context"]["room"]
    assert (ctx["id"], ctx["title"], ctx["kind"], ctx["live"]) == (room_id, "Late show", "open", True)
    assert [(p["username"], p["role"]) for p in ctx["stage"]] == [("ann", "moderator"), ("bob", "speaker")]
    assert [e["action"] for e in ctx["audit"]] == [
        "room.create",
        "room.join",
        "room.join",
        "speak.invite",
        "speak.accept",
    ]
    invite = ctx["audit"][3]
    assert (invite["actor"]["username"], invite["target"]["username"]) == ("ann", "bob")
    # a profile report: the profile text, no room
    assert profile["context"] == {"profile": person["context"]["profile"], "room": None, "message": None, "club": None}
    # a room report: no person, the room's context
    assert room["reported_user"] is None and room["target"] == {"kind": "room", "id": room_id, "label": "Late show"}
    assert room["context"]["profile"] is None and room["context"]["room"]["stage"] == ctx["stage"]
    # one report by id is the same item
    assert await ok(await admin.http.get(f"/api/admin/reports/{person['id']}")) == person


async def test_a_member_reports_a_chat_line_with_its_text_and_the_rooms_trail(inst: Instance) -> None:
    admin = await inst.admin()
    ann, bob, cat, room_id = await room_with_stage(inst)
    line = await ok(await bob.post(f"/api/rooms/{room_id}/chat", json={"text": "you are all <b>idiots</b>"}), 201)
    mine = await ok(await cat.post(f"/api/rooms/{room_id}/chat", json={"text": "hello"}), 201)
    r = await report(cat, "message", mine["id"], room_id=room_id)
    assert (r.status_code, error_code(r)) == (400, "cannot_report_self")
    made = await ok(await report(cat, "message", line["id"], "harassment", room_id=room_id, note="again"), 201)
    assert made["target"] == {"kind": "message", "id": line["id"], "label": "A chat message by Bob (@bob)"}
    r = await report(cat, "message", line["id"], room_id=room_id)
    assert (r.status_code, error_code(r)) == (409, "already_reported")
    [item] = (await queue(admin))["items"]
    assert item["reported_user"]["username"] == "bob" and item["reporter"]["username"] == "cat"
    assert item["context"]["message"] == {"text": "you are all <b>idiots</b>"}
    room = item["context"]["room"]
    assert (room["id"], room["title"], room["live"]) == (room_id, "Late show", True)
    assert {p["username"] for p in room["stage"]} == {"ann", "bob"}
    assert {"room.create", "speak.invite"} <= {e["action"] for e in room["audit"]}
    # Only the report keeps the line: the room's chat, the audit log and other reports do not.
    async with inst.services.db.engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(sa.select(reports))).mappings()]
    assert [r["message_text"] for r in rows] == ["you are all <b>idiots</b>"]
    # A line deleted (or the room over) is no longer there to report.
    assert (await ann.http.delete(f"/api/rooms/{room_id}/chat/{line['id']}")).status_code == 204
    r = await report(ann, "message", line["id"], room_id=room_id)
    assert (r.status_code, error_code(r)) == (404, "report_target_not_found")


async def test_a_guests_chat_line_is_reported_without_the_guests_name(inst: Instance) -> None:
    admin = await inst.admin()
    await ok(await admin.http.patch("/api/admin/settings", json={"guest_rooms": True}))
    ann, cat = await inst.member("ann"), await inst.member("cat")
    room_id = await start(ann, "Open door")
    await ok(await ann.post(f"/api/rooms/{room_id}/guests", json={"allowed": True}))
    await ok(await cat.post(f"/api/rooms/{room_id}/join"))
    gus = inst.client()
    entered = await ok(await gus.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus Guestly"}))
    line = await ok(await gus.post(f"/api/rooms/{room_id}/chat", json={"text": "buy cheap pills"}), 201)
    made = await ok(await report(cat, "message", line["id"], "spam", room_id=room_id), 201)
    assert made["target"]["label"] == "A chat message by a guest"
    [item] = (await queue(admin))["items"]
    assert item["reported_user"] is None and item["context"]["message"] == {"text": "buy cheap pills"}

    # A guest reports too: a line, a person and the room they are in; kept as "a guest".
    rude = await ok(await cat.post(f"/api/rooms/{room_id}/chat", json={"text": "guests out"}), 201)
    by_gus = await ok(await gus.post("/api/reports", json={
        "target": {"kind": "message", "id": rude["id"]}, "reason": "harassment", "room_id": room_id}), 201)  # fmt: skip
    assert by_gus["target"]["label"] == "A chat message by Cat (@cat)"
    await ok(await gus.post("/api/reports", json={
        "target": {"kind": "person", "id": cat.id}, "reason": "harassment", "room_id": room_id}), 201)  # fmt: skip
    await ok(await gus.post("/api/reports", json={"target": {"kind": "room", "id": room_id}, "reason": "spam"}), 201)
    items = (await queue(admin))["items"]
    assert [(i["target"]["kind"], i["reporter"]) for i in items[1:]] == [
        (kind, {"id": None, "username": None, "display_name": "a guest"}) for kind in ("message", "person", "room")
    ]
    assert items[1]["context"]["message"] == {"text": "guests out"} and items[2]["reported_user"]["id"] == cat.id
    # Not outside their room, not a profile or a club, not their own line.
    other = await start(cat, "Elsewhere")
    for body, status, code in [
        ({"target": {"kind": "room", "id": other}, "reason": "spam"}, 404, "report_target_not_found"),
        ({"target": {"kind": "person", "id": ann.id}, "reason": "spam", "room_id": other}, 404, "room_not_found"),
        ({"target": {"kind": "person", "id": admin.id}, "reason": "spam", "room_id": room_id}, 404,
         "report_target_not_found"),
        ({"target": {"kind": "profile", "id": cat.id}, "reason": "spam"}, 401, "not_authenticated"),
        ({"target": {"kind": "message", "id": line["id"]}, "reason": "spam", "room_id": room_id}, 400,
         "cannot_report_self"),
    ]:  # fmt: skip
        before = await stored(inst)
        r = await gus.post("/api/reports", json=body)
        assert (r.status_code, error_code(r)) == (status, code), (body, r.text)
        assert await stored(inst) == before
    # Nothing of the guest is stored, and nobody is told (there is nobody to tell) when handled.
    rows, _, notes = await stored(inst)
    assert "Gus Guestly" not in json.dumps(rows) and entered["guest"]["id"] not in json.dumps(rows)
    assert all(r["reporter_id"] is None for r in rows if r["by_guest"]) and sum(r["by_guest"] for r in rows) == 3
    await ok(await admin.post(f"/api/admin/reports/{items[3]['id']}/resolve", json={"outcome": "dismissed"}))
    assert (await stored(inst))[2] == notes


async def test_a_guests_reports_are_limited_per_address(tmp_path: Path, database_url: str) -> None:
    async with running_instance(tmp_path / "data", database_url=database_url, limits=("reports=1/3600",)) as inst:
        admin = await inst.admin()
        await ok(await admin.http.patch("/api/admin/settings", json={"guest_rooms": True}))
        ann = await inst.member("ann")
        room_id = await start(ann, "Open door")
        await ok(await ann.post(f"/api/rooms/{room_id}/guests", json={"allowed": True}))
        gus = inst.client()
        await ok(await gus.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"}))
        body = {"target": {"kind": "room", "id": room_id}, "reason": "spam"}
        await ok(await gus.post("/api/reports", json=body), 201)
        before = await stored(inst)
        r = await gus.post("/api/reports", json=body)
        assert (r.status_code, error_code(r)) == (429, "rate_limited")
        # another guest from the same address is the same address
        gwen = inst.client()
        await ok(await gwen.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gwen"}))
        r = await gwen.post("/api/reports", json=body)
        assert (r.status_code, error_code(r)) == (429, "rate_limited")
        assert await stored(inst) == before


async def test_a_member_reports_a_club_with_its_name_and_description_as_then(inst: Instance) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    club = await ok(await admin.post("/api/clubs", json={
        "name": "Night Owls", "description": "Late talk", "topics": ["music"]}), 201)  # fmt: skip
    made = await ok(await report(bob, "club", club["id"], "hate", note="Their rules are hateful"), 201)
    assert made["target"] == {"kind": "club", "id": club["id"], "label": "Night Owls"}
    await ok(await admin.http.patch(f"/api/clubs/{club['id']}", json={"description": "Changed"}))
    [item] = (await queue(admin))["items"]
    assert item["context"] == {
        "profile": None, "room": None, "message": None, "club": {"name": "Night Owls", "description": "Late talk"},
    }  # fmt: skip
    assert item["reported_user"] is None and item["reporter"]["username"] == "bob"
    r = await report(bob, "club", club["id"], "spam")
    assert (r.status_code, error_code(r)) == (409, "already_reported")
    r = await report(ann, "club", club["id"], "spam", room_id=await start(ann, "Owls"))
    assert (r.status_code, error_code(r)) == (400, "invalid_input")


async def test_an_ended_room_can_be_reported(inst: Instance) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    room_id = await start(ann, "Over now")
    await ok(await ann.post(f"/api/rooms/{room_id}/end"))
    await ok(await report(bob, "room", room_id, "spam"), 201)
    [item] = (await queue(admin))["items"]
    ctx = item["context"]["room"]
    assert (ctx["title"], ctx["kind"], ctx["live"], ctx["stage"]) == ("Over now", None, False, [])
    assert [e["action"] for e in ctx["audit"]] == ["room.create", "room.end"]


def test_the_report_dialog_offers_exactly_the_reasons_the_server_takes() -> None:
    js = (STATIC / "views" / "report.js").read_text()
    offered = [line.split("'")[1] for line in js.splitlines() if line.strip().startswith("['")]
    assert offered == [r.value for r in Reason]
    assert "no audio" in js.lower()


# -- bad input: a stable code, nothing stored --------------------------------------------------------

BAD = [
    ("unknown reason", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "rude"}), 400,
     "unknown_reason"),
    ("unknown kind", lambda w: ({"target": {"kind": "sandwich", "id": w["bob"]}, "reason": "spam"}), 400,
     "invalid_input"),
    ("a chat message without its room", lambda w: ({"target": {"kind": "message", "id": "m_1"}, "reason": "spam"}),
     400, "invalid_input"),
    ("no such chat message", lambda w: ({"target": {"kind": "message", "id": "m_1"}, "reason": "spam",
     "room_id": w["room"]}), 404, "report_target_not_found"),
    ("a chat message in no room", lambda w: ({"target": {"kind": "message", "id": "m_1"}, "reason": "spam",
     "room_id": "r_nothing"}), 404, "room_not_found"),
    ("no such club", lambda w: ({"target": {"kind": "club", "id": "c_nothing"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("a club id with a NUL", lambda w: ({"target": {"kind": "club", "id": "c\x00"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("nobody", lambda w: ({"target": {"kind": "person", "id": "u_nobody"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("no profile", lambda w: ({"target": {"kind": "profile", "id": "u_nobody"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("no room", lambda w: ({"target": {"kind": "room", "id": "r_nothing"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("an id with a NUL", lambda w: ({"target": {"kind": "person", "id": "u_\x00"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("a room id with a NUL", lambda w: ({"target": {"kind": "room", "id": "r\x00"}, "reason": "spam"}), 404,
     "report_target_not_found"),
    ("yourself", lambda w: ({"target": {"kind": "person", "id": w["ann"]}, "reason": "spam"}), 400,
     "cannot_report_self"),
    ("your own profile", lambda w: ({"target": {"kind": "profile", "id": w["ann"]}, "reason": "spam"}), 400,
     "cannot_report_self"),
    ("already reported", lambda w: ({"target": {"kind": "person", "id": w["cat"]}, "reason": "hate"}), 409,
     "already_reported"),
    ("from a room that is not", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "spam",
     "room_id": "r_nothing"}), 404, "room_not_found"),
    ("a note too long", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "spam",
     "note": "x" * 501}), 400, "invalid_input"),
    ("a note with a NUL", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "spam",
     "note": "a\x00b"}), 400, "invalid_input"),
    ("a note with a bidi override", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "spam",
     "note": "abc\u202edef"}), 400, "invalid_input"),
    ("no reason", lambda w: ({"target": {"kind": "person", "id": w["bob"]}}), 400, "invalid_input"),
    ("no target", lambda w: ({"reason": "spam"}), 400, "invalid_input"),
    ("a reason that is not text", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": 3}), 400,
     "invalid_input"),
    ("an unknown field", lambda w: ({"target": {"kind": "person", "id": w["bob"]}, "reason": "spam",
     "reporter_id": w["cat"]}), 400, "invalid_input"),
]  # fmt: skip


async def test_bad_reports_are_refused_and_store_nothing(inst: Instance) -> None:
    """The whole table on one instance (each case checks that nothing was stored)."""
    ann, bob, cat = [await inst.member(n) for n in ("ann", "bob", "cat")]
    await ok(await report(ann, "person", cat.id, "spam"), 201)  # for "already reported"
    ids = {"ann": ann.id, "bob": bob.id, "cat": cat.id, "room": await start(bob, "Chatty")}
    before = await stored(inst)
    for case, body, status, code in BAD:
        r = await ann.post("/api/reports", json=body(ids))
        assert (r.status_code, error_code(r)) == (status, code), (case, r.text)
        assert await stored(inst) == before, case


async def test_a_handled_report_can_be_made_again_and_others_may_report_the_same(inst: Instance) -> None:
    admin, ann, bob, cat = [await inst.admin()] + [await inst.member(n) for n in ("ann", "bob", "cat")]
    first = await ok(await report(ann, "person", bob.id), 201)
    assert error_code(await report(ann, "person", bob.id, "spam")) == "already_reported"
    await ok(await report(cat, "person", bob.id), 201)  # someone else
    await ok(await report(ann, "profile", bob.id), 201)  # another target: bob's profile
    await ok(await admin.post(f"/api/admin/reports/{first['id']}/resolve", json={"outcome": "dismissed"}))
    await ok(await report(ann, "person", bob.id, "hate"), 201)
    assert len((await queue(admin))["items"]) == 3


async def test_reports_are_rate_limited_per_account_and_address(tmp_path: Path, database_url: str) -> None:
    async with running_instance(tmp_path / "data", database_url=database_url, limits=("reports=2/3600",)) as inst:
        ann, bob = await inst.member("ann"), await inst.member("bob")
        room_id = await start(bob, "Noisy")
        await ok(await report(ann, "person", bob.id), 201)
        # bad input spends nothing
        assert error_code(await report(ann, "person", bob.id, "rude")) == "unknown_reason"
        await ok(await report(ann, "profile", bob.id), 201)
        before = await stored(inst)
        r = await report(ann, "room", room_id)
        assert (r.status_code, error_code(r)) == (429, "rate_limited")
        assert int(r.headers["retry-after"]) > 0
        assert await stored(inst) == before
        # cat, elsewhere, is not limited by ann; ann from elsewhere still is (her account)
        elsewhere = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=inst.app, client=("192.0.2.7", 4000)), base_url=BASE
        )
        try:
            code = await inst.invite_code()
            cat = await elsewhere.post("/api/signup", json=signup_body(code, "cat"))
            assert cat.status_code == 201, cat.text
            r = await elsewhere.post("/api/reports", json={"target": {"kind": "room", "id": room_id}, "reason": "spam"})
            assert r.status_code == 201, r.text
        finally:
            await elsewhere.aclose()
        r = await report(ann, "room", room_id)
        assert (r.status_code, error_code(r)) == (429, "rate_limited")
        # the bucket refills: 2 an hour is one every 30 minutes
        clock = inst.services.clock
        inst.services.clock = lambda: clock() + 1801
        await ok(await report(ann, "room", room_id), 201)


# -- who may do what ----------------------------------------------------------------------------


async def test_only_admins_see_and_resolve_reports(inst: Instance) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    made = await ok(await report(ann, "person", bob.id), 201)
    anonymous = inst.client()
    calls = [
        ("GET", "/api/admin/reports", None),
        ("GET", "/api/admin/reports?state=handled", None),
        ("GET", f"/api/admin/reports/{made['id']}", None),
        ("POST", f"/api/admin/reports/{made['id']}/resolve", {"outcome": "dismissed"}),
        ("GET", f"/api/admin/users/{bob.id}/reports", None),
    ]
    before = await stored(inst)
    for method, path, body in calls:
        for who in (ann, bob):  # the reporter and the reported person alike
            r = await who.http.request(method, path, json=body)
            assert (r.status_code, error_code(r)) == (403, "not_admin"), (path, r.text)
        r = await anonymous.request(method, path, json=body)
        assert (r.status_code, error_code(r)) == (401, "not_authenticated"), (path, r.text)
    r = await anonymous.post("/api/reports", json={"target": {"kind": "person", "id": bob.id}, "reason": "spam"})
    assert (r.status_code, error_code(r)) == (401, "not_authenticated")
    assert await stored(inst) == before
    assert len((await queue(admin))["items"]) == 1


async def test_bad_admin_requests(inst: Instance) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    made = await ok(await report(ann, "person", bob.id), 201)
    resolve = f"/api/admin/reports/{made['id']}/resolve"
    before = await stored(inst)
    for path, params, status, code in [
        ("/api/admin/reports", {"state": "closed"}, 400, "invalid_input"),
        ("/api/admin/reports", {"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
        ("/api/admin/reports", {"limit": 0}, 400, "invalid_input"),
        ("/api/admin/reports/rp_nothing", {}, 404, "report_not_found"),
        ("/api/admin/reports/rp%00", {}, 404, "report_not_found"),
        ("/api/admin/users/u_nobody/reports", {}, 404, "user_not_found"),
        (f"/api/admin/users/{bob.id}/reports", {"state": "x"}, 400, "invalid_input"),
    ]:
        r = await admin.http.get(path, params=params)
        assert (r.status_code, error_code(r)) == (status, code), (path, params, r.text)
    for body, status, code in [
        ({"outcome": "banned"}, 400, "invalid_input"),
        ({}, 400, "invalid_input"),
        ({"outcome": "dismissed", "note": "x" * 501}, 400, "invalid_input"),
        ({"outcome": "dismissed", "note": "\x00"}, 400, "invalid_input"),
        ({"outcome": "dismissed", "handled_by": ann.id}, 400, "invalid_input"),
    ]:
        r = await admin.post(resolve, json=body)
        assert (r.status_code, error_code(r)) == (status, code), (body, r.text)
    r = await admin.post("/api/admin/reports/rp_nothing/resolve", json={"outcome": "dismissed"})
    assert (r.status_code, error_code(r)) == (404, "report_not_found")
    assert await stored(inst) == before


# -- resolving: the reporter is told the outcome, nothing more ------------------------------------


async def test_resolving_tells_the_reporter_the_outcome_only(inst: Instance) -> None:
    admin, ann, bob, cat = [await inst.admin()] + [await inst.member(n) for n in ("ann", "bob", "cat")]
    on_bob = await ok(await report(ann, "person", bob.id, "harassment"), 201)
    on_cat = await ok(await report(ann, "profile", cat.id, "spam"), 201)

    done = await ok(
        await admin.post(
            f"/api/admin/reports/{on_bob['id']}/resolve", json={"outcome": "actioned", "note": "Warned them"}
        )
    )
    root = {"id": admin.id, "username": "root", "display_name": "Root"}
    assert (done["state"], done["outcome"], done["handled_by"], done["resolution_note"]) == (
        "handled",
        "actioned",
        root,
        "Warned them",
    )
    assert done["handled_at"] is not None
    r = await admin.post(f"/api/admin/reports/{on_bob['id']}/resolve", json={"outcome": "dismissed"})
    assert (r.status_code, error_code(r)) == (409, "report_already_handled")
    await ok(await admin.post(f"/api/admin/reports/{on_cat['id']}/resolve", json={"outcome": "dismissed"}))

    body = await ok(await ann.http.get("/api/notifications"))
    assert [n["kind"] for n in body["notifications"]] == ["report_handled", "report_handled"]
    newest, oldest = body["notifications"]
    assert oldest["report"] == {
        "id": on_bob["id"],
        "target": {"kind": "person", "label": "Bob (@bob)"},
        "reason": "harassment",
        "outcome": "actioned",
    }
    assert newest["report"]["outcome"] == "dismissed"
    assert (oldest["actor"], oldest["room"], oldest["read"]) == (None, None, False)
    # nothing in it says who handled it or what they wrote
    text = json.dumps(body)
    for secret in (admin.id, "root", "Root", "Warned them"):
        assert secret not in text, secret
    # the reported people are told nothing; the unmutable kind is not among the mutes
    for who in (bob, cat):
        assert (await ok(await who.http.get("/api/notifications")))["notifications"] == []
    settings = await ok(await ann.http.get("/api/notifications/settings"))
    assert "report_handled" not in settings["muted"]
    r = await ann.http.put("/api/notifications/settings", json={"muted": {"report_handled": True}})
    assert (r.status_code, error_code(r)) == (400, "invalid_input")

    # handled: the other tab, most recently handled first; audited
    handled = (await queue(admin, "handled"))["items"]
    assert [i["id"] for i in handled] == [on_cat["id"], on_bob["id"]]
    assert (await queue(admin))["items"] == []
    async with inst.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor_id, audit_log.c.action, audit_log.c.target_id)
            .where(audit_log.c.action.like("report.%"))
            .order_by(audit_log.c.id)
        )
        assert [tuple(r) for r in rows] == [
            (admin.id, "report.actioned", bob.id),
            (admin.id, "report.dismissed", cat.id),
        ]
    # and in the instance-wide admin audit log, with the report's id
    log = (await ok(await admin.http.get("/api/admin/audit")))["entries"]
    assert [(e["action"], e["by"]["id"], e["target"]["id"], e["detail"]) for e in log[:2]] == [
        ("report.dismissed", admin.id, cat.id, on_cat["id"]),
        ("report.actioned", admin.id, bob.id, on_bob["id"]),
    ]


async def test_a_reporter_whose_account_is_gone_is_a_former_member(inst: Instance) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    await ok(await report(ann, "person", bob.id, "spam"), 201)
    r = await ann.http.request("DELETE", "/api/me", json={"password": "hunter2hunter2"})
    assert r.status_code == 204, r.text
    [item] = (await queue(admin))["items"]
    assert item["reporter"] == {"id": None, "username": None, "display_name": "a former member"}
    # resolving it tells nobody (there is nobody to tell)
    await ok(await admin.post(f"/api/admin/reports/{item['id']}/resolve", json={"outcome": "dismissed"}))
    assert (await stored(inst))[2] == []


# -- the context is as it was when reported ----------------------------------------------------------


async def test_context_is_kept_as_it_was_at_report_time(inst: Instance) -> None:
    admin = await inst.admin()
    ann, bob, cat, room_id = await room_with_stage(inst)
    await ok(await bob.http.patch("/api/me/profile", json={"display_name": "Bobby", "bio": "Before"}))
    made = await ok(await report(cat, "person", bob.id, "hate", room_id=room_id), 201)
    before = await ok(await admin.http.get(f"/api/admin/reports/{made['id']}"))

    # afterwards: bob edits his profile, the room is renamed, people come and go
    await ok(await bob.http.patch("/api/me/profile", json={"display_name": "Robert", "bio": "After"}))
    await ok(await ann.http.patch(f"/api/rooms/{room_id}", json={"title": "Renamed"}))
    await ok(await ann.post(f"/api/rooms/{room_id}/audience", json={"user_id": bob.id}))
    await ok(await cat.post(f"/api/rooms/{room_id}/leave"))

    after = await ok(await admin.http.get(f"/api/admin/reports/{made['id']}"))
    assert after["context"]["profile"] == {"username": "bob", "display_name": "Bobby", "bio": "Before"}
    assert after["target"]["label"] == "Bobby (@bob)"
    ctx = after["context"]["room"]
    assert ctx["title"] == "Late show"
    assert [(p["display_name"], p["role"]) for p in ctx["stage"]] == [("Ann", "moderator"), ("Bobby", "speaker")]
    assert [e["action"] for e in ctx["audit"]] == [e["action"] for e in before["context"]["room"]["audit"]]
    assert "room.title" not in [e["action"] for e in ctx["audit"]]
    # who the reported person is *now* is there too (for the admin's next step)
    assert after["reported_user"] == {"id": bob.id, "username": "bob", "display_name": "Robert"}


async def test_the_audit_window_is_the_last_15_minutes_at_most_50_entries(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody here has a socket: a long grace keeps the clock's jumps from emptying the rooms.
    async with running_instance(tmp_path / "data", database_url=database_url, reconnect_grace_s=1e7) as inst:
        await _audit_window(inst, monkeypatch)


async def _audit_window(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")
    now = [inst.services.clock()]
    monkeypatch.setattr(inst.services, "clock", lambda: now[0])
    room_id = await start(ann, "Long one")  # room.create at t0
    now[0] += 16 * 60
    for _ in range(30):  # 60 entries, the last 15 minutes
        await ok(await bob.post(f"/api/rooms/{room_id}/join"))
        await ok(await bob.post(f"/api/rooms/{room_id}/leave"))
        now[0] += 1
    await ok(await report(bob, "room", room_id, "spam"), 201)
    [item] = (await queue(admin))["items"]
    audit = item["context"]["room"]["audit"]
    assert len(audit) == 50 and [e["action"] for e in audit[:2]] == ["room.join", "room.leave"]
    assert all(e["actor"]["username"] == "bob" for e in audit)
    assert audit == sorted(audit, key=lambda e: e["at"]) and audit[-1]["action"] == "room.leave"

    # a quiet room: only the entries of the last 15 minutes
    quiet = await start(ann, "Quiet")
    now[0] += 20 * 60
    await ok(await bob.post(f"/api/rooms/{quiet}/join"))
    await ok(await ann.post(f"/api/rooms/{quiet}/remove", json={"user_id": bob.id}))
    await ok(await bob.post("/api/reports", json={"target": {"kind": "room", "id": quiet}, "reason": "other"}), 201)
    items = (await queue(admin))["items"]
    assert [e["action"] for e in items[-1]["context"]["room"]["audit"]] == ["room.join", "remove"]


# -- paging and the people page ------------------------------------------------------------------


async def test_the_queue_pages_and_reports_against_a_person(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = await inst.admin()
    people = [await inst.member(n) for n in ("ann", "bob", "cat", "dan")]
    ann, bob, cat, dan = people
    now = [2_000_000.0]
    monkeypatch.setattr(inst.services, "clock", lambda: now[0])
    made = []
    for who in (ann, cat, dan):
        for kind in ("person", "profile"):
            made.append((await ok(await report(who, kind, bob.id), 201))["id"])
            now[0] += 1
    made.append((await ok(await report(bob, "person", ann.id), 201))["id"])

    seen, cursor = [], None
    while True:
        page = await queue(admin, limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == made  # oldest first, each once

    against = await ok(await admin.http.get(f"/api/admin/users/{bob.id}/reports", params={"limit": 4}))
    assert [i["id"] for i in against["items"]] == list(reversed(made[:6]))[:4]
    rest = await ok(
        await admin.http.get(f"/api/admin/users/{bob.id}/reports", params={"limit": 4, "cursor": against["next"]})
    )
    assert [i["id"] for i in rest["items"]] == list(reversed(made[:6]))[4:] and rest["next"] is None
    await ok(await admin.post(f"/api/admin/reports/{made[0]}/resolve", json={"outcome": "actioned"}))
    only_handled = await ok(await admin.http.get(f"/api/admin/users/{bob.id}/reports", params={"state": "handled"}))
    assert [i["id"] for i in only_handled["items"]] == [made[0]]
    on_ann = await ok(await admin.http.get(f"/api/admin/users/{ann.id}/reports"))
    assert [i["id"] for i in on_ann["items"]] == [made[-1]]


def test_supported_kinds() -> None:
    assert set(SUPPORTED) == set(TargetKind)
