"""Guests over the API (docs/API.md, Guests): guest rooms by name, members' rooms open
to "anyone with the link", the limits on both, and what a guest may not do."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import Instance, Person, error_code, fresh_postgres, running_instance
from tests.test_limits import assert_limited, at

from parlor.limits.policies import Rate
from parlor.storage.tables import audit_log, room_blocks

FLOOD, ELSEWHERE = "203.0.113.77", "198.51.100.23"


async def guests_on(inst: Instance, on: bool = True) -> None:
    admin = await inst.admin()
    r = await admin.http.patch("/api/admin/settings", json={"guest_rooms": on})
    assert r.status_code == 200 and r.json()["guest_rooms"] is on, r.text


async def enter(c: httpx.AsyncClient, name: str, display_name: str) -> dict[str, Any]:
    r = await c.post(f"/api/guest-rooms/{name}/enter", json={"display_name": display_name})
    assert r.status_code == 200, r.text
    assert c.cookies.get("parlor_guest"), "the guest's token is a cookie"
    return dict(r.json())


def person(snapshot: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    return next((p for p in snapshot["participants"] if p["user_id"] == user_id), None)


async def open_member_room(inst: Instance, host: Person, title: str = "Open house") -> str:
    r = await host.post("/api/rooms", json={"title": title})
    assert r.status_code == 201, r.text
    room_id = str(r.json()["id"])
    r = await host.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})
    assert r.status_code == 200 and r.json()["guests_allowed"] is True, r.text
    return room_id


# -- the instance setting ---------------------------------------------------------------------


async def test_guest_rooms_are_off_until_an_admin_allows_them(instance: Instance) -> None:
    c = instance.client()
    for r in (
        await c.get("/api/guest-rooms/teatime"),
        await c.post("/api/guest-rooms/teatime/enter", json={"display_name": "Ann"}),
    ):
        assert r.status_code == 403 and error_code(r) == "guest_rooms_off", r.text
    assert not c.cookies.get("parlor_guest")
    assert not instance.services.live.rooms
    await guests_on(instance)
    assert (await c.get("/api/guest-rooms/teatime")).json()["live"] is False
    await enter(c, "teatime", "Ann")
    assert (await c.get("/api/guest-rooms/teatime")).json() | {"room_id": None} == {
        "name": "teatime",
        "live": True,
        "room_id": None,
        "title": "teatime",
        "count": 1,
        "encrypted": False,
    }
    # Turned off again: nobody else comes in (who is in stays until they leave).
    await guests_on(instance, False)
    r = await instance.client().post("/api/guest-rooms/teatime/enter", json={"display_name": "Bo"})
    assert r.status_code == 403 and error_code(r) == "guest_rooms_off"


async def test_the_setting_defaults_to_PARLOR_GUEST_ROOMS(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", guest_rooms=True) as inst:
        await enter(inst.client(), "by-default", "Ann")
        admin = await inst.admin()
        assert (await admin.http.get("/api/admin/settings")).json()["guest_rooms"] is True


async def test_room_names_are_4_to_64_of_letters_digits_dash_underscore_any_case(instance: Instance) -> None:
    await guests_on(instance)
    c = instance.client()
    for bad in ("abc", "x" * 65, "tea%20time", "caf%C3%A9s", "a.b.c.d", "tea~time"):
        for r in (
            await c.get(f"/api/guest-rooms/{bad}"),
            await c.post(f"/api/guest-rooms/{bad}/enter", json={"display_name": "Ann"}),
        ):
            assert r.status_code == 400 and error_code(r) == "invalid_room_name", (bad, r.text)
    assert not instance.services.live.rooms
    first = await enter(c, "Tea_Time-1", "Ann")
    second = await enter(instance.client(), "tea_time-1", "Bo")
    assert first["room"]["id"] == second["room"]["id"]
    assert second["room"]["title"] == "Tea_Time-1" and second["room"]["guest_room"] is True
    await enter(instance.client(), "x" * 64, "Cy")
    # The page itself is served for any name: it explains a bad one.
    page = await c.get("/r/abc", headers={"accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


async def test_display_names_are_checked(instance: Instance) -> None:
    await guests_on(instance)
    c = instance.client()
    for bad in ("", "   ", "x" * 41, "bad\u202ename"):
        r = await c.post("/api/guest-rooms/namecheck/enter", json={"display_name": bad})
        assert r.status_code == 400 and error_code(r) == "invalid_input", (bad, r.text)
    assert not instance.services.live.rooms


# -- a guest room -----------------------------------------------------------------------------


async def test_first_arrival_moderates_and_everyone_speaks_until_the_stage_is_on(instance: Instance) -> None:
    await guests_on(instance)
    ann_c, bo_c, cy_c = instance.client(), instance.client(), instance.client()
    ann = await enter(ann_c, "kitchen", "Ann")
    room_id, ann_id = ann["room"]["id"], ann["guest"]["id"]
    me = person(ann["room"], ann_id)
    assert me is not None and me["role"] == "moderator" and me["guest"] is True and me["username"] == ""
    assert ann["room"]["open_stage"] is True
    bo = await enter(bo_c, "kitchen", "Bo")
    bo_id = bo["guest"]["id"]
    assert (person(bo["room"], bo_id) or {})["role"] == "speaker"  # on stage, muted, like every newcomer
    for c in (ann_c, bo_c):
        r = await c.post(f"/api/rooms/{room_id}/mute", json={"muted": False})
        assert r.status_code == 200, r.text
    assert instance.services.live.get(room_id).audible_speakers == {ann_id, bo_id}
    # Only a moderator turns the stage on.
    r = await bo_c.post(f"/api/rooms/{room_id}/open-stage", json={"open": False})
    assert r.status_code == 403 and error_code(r) == "not_moderator"
    r = await ann_c.post(f"/api/rooms/{room_id}/open-stage", json={"open": False})
    assert r.status_code == 200 and r.json()["open_stage"] is False
    assert (person(r.json(), bo_id) or {})["role"] == "listener"
    assert instance.services.live.get(room_id).audible_speakers == {ann_id}
    cy = await enter(cy_c, "kitchen", "Cy")
    cy_id = cy["guest"]["id"]
    assert (person(cy["room"], cy_id) or {})["role"] == "listener"
    r = await cy_c.post(f"/api/rooms/{room_id}/mute", json={"muted": False})
    assert r.status_code == 403 and error_code(r) == "not_speaker"
    # Normal stage rules: a hand, an invitation, the stage.
    assert (await cy_c.post(f"/api/rooms/{room_id}/hand", json={"raised": True})).status_code == 200
    r = await ann_c.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": cy_id})
    assert r.status_code == 200, r.text
    r = await cy_c.post(f"/api/rooms/{room_id}/speak-invite/accept")
    assert r.status_code == 200 and (person(r.json(), cy_id) or {})["role"] == "speaker"
    # In a guest room a guest may be made a moderator.
    r = await ann_c.post(f"/api/rooms/{room_id}/moderators", json={"user_id": cy_id})
    assert r.status_code == 200 and (person(r.json(), cy_id) or {})["role"] == "moderator"
    # A guest moderator has the whole toolkit (these three routes once took members only).
    assert (await ann_c.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": bo_id})).status_code == 200
    r = await ann_c.delete(f"/api/rooms/{room_id}/speak-invites/{bo_id}")
    assert r.status_code == 200 and (person(r.json(), bo_id) or {})["speak_invite"] is False, r.text
    for path in ("/mute-all", "/lower-hands"):
        r = await ann_c.post(f"/api/rooms/{room_id}{path}")
        assert r.status_code == 200, (path, r.text)
    # A guest acts only in their own room, and a guest room is not joined as a member.
    other = await enter(instance.client(), "elsewhere", "Di")
    r = await ann_c.post(f"/api/rooms/{other['room']['id']}/hand", json={"raised": True})
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    member = await instance.member("mem")
    r = await member.post(f"/api/rooms/{room_id}/join")
    assert r.status_code == 409 and error_code(r) == "is_guest_room"
    r = await ann_c.patch(f"/api/rooms/{room_id}", json={"kind": "closed"})
    assert r.status_code == 409 and error_code(r) == "is_guest_room"
    # Never in the hallway or search.
    assert (await member.http.get("/api/rooms")).json()["rooms"] == []
    assert (await member.http.get("/api/search", params={"q": "kitchen"})).json()["rooms"] == []


async def test_the_room_passes_on_and_vanishes_with_the_last_person(instance: Instance) -> None:
    await guests_on(instance)
    ann_c, bo_c = instance.client(), instance.client()
    ann = await enter(ann_c, "passing", "Ann")
    room_id = ann["room"]["id"]
    bo = await enter(bo_c, "passing", "Bo")
    assert (await ann_c.post(f"/api/rooms/{room_id}/open-stage", json={"open": False})).status_code == 200
    # The moderator leaves a listener alone: the listener moderates, the room lives on.
    assert (await ann_c.post(f"/api/rooms/{room_id}/leave")).status_code == 200
    live = instance.services.live
    assert live.get(room_id).get(bo["guest"]["id"]).role.value == "moderator"
    assert ann["guest"]["id"] not in live.guests.by_id
    r = await ann_c.get(f"/api/rooms/{room_id}")
    assert r.status_code == 401, "the first guest's token died with their place"
    assert (await ann_c.get("/api/guest/me")).status_code == 401
    assert (await bo_c.get("/api/guest/me")).json()["display_name"] == "Bo"
    r = await bo_c.post(f"/api/rooms/{room_id}/leave")
    assert r.status_code == 200 and r.json()["ended"] is True
    assert not live.rooms and not live.guests.by_id and not live.guests.by_token and not live.guests.rooms_by_name
    assert (await ann_c.get("/api/guest-rooms/passing")).json()["live"] is False
    # The name is free again: the next arrival opens a new room.
    again = await enter(ann_c, "passing", "Ann")
    assert again["room"]["id"] != room_id


async def test_one_address_cannot_open_or_enter_rooms_in_a_loop(instance: Instance) -> None:
    await guests_on(instance)
    s = instance.services
    s.limits = {**s.limits, "guest_room_open": Rate(3, 3600), "guest_join": Rate(5, 600)}
    flood = at(instance, FLOOD)
    for i in range(3):
        await enter(flood, f"loop-{i}", "Ann")
    r = await flood.post("/api/guest-rooms/loop-3/enter", json={"display_name": "Ann"})
    assert_limited(r)
    assert s.live.guests.rooms_by_name.keys() == {"loop-0", "loop-1", "loop-2"}
    # Entering rooms that exist counts too.
    await enter(flood, "loop-0", "Bo")
    await enter(flood, "loop-1", "Cy")
    r = await flood.post("/api/guest-rooms/loop-2/enter", json={"display_name": "Di"})
    assert_limited(r)
    assert len(s.live.get(s.live.guests.rooms_by_name["loop-2"]).participants) == 1
    # Another address is not held back.
    await enter(at(instance, ELSEWHERE), "loop-2", "Eve")


# -- guests in a members' room ----------------------------------------------------------------


async def test_anyone_with_the_link_listens_raises_a_hand_and_speaks_as_a_guest(instance: Instance) -> None:
    await guests_on(instance)
    host, fan = await instance.member("host"), await instance.member("fan")
    r = await host.post("/api/rooms", json={"title": "Members first"})
    room_id = r.json()["id"]
    guest_c = instance.client()
    # Off by default: a guest is told to sign in.
    for r in (
        await guest_c.get(f"/api/guest/rooms/{room_id}"),
        await guest_c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"}),
    ):
        assert r.status_code == 403 and error_code(r) == "guests_not_allowed", r.text
    assert (await fan.post(f"/api/rooms/{room_id}/join")).status_code == 200
    r = await fan.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})
    assert r.status_code == 403 and error_code(r) == "not_moderator"
    assert (await host.post(f"/api/rooms/{room_id}/guests", json={"allowed": True})).status_code == 200
    r = await host.post(f"/api/rooms/{room_id}/open-stage", json={"open": True})
    assert r.status_code == 409 and error_code(r) == "not_guest_room"
    assert (await guest_c.get(f"/api/guest/rooms/{room_id}")).json() == {
        "id": room_id,
        "title": "Members first",
        "count": 2,
    }
    r = await guest_c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"})
    assert r.status_code == 200, r.text
    gus = r.json()["guest"]["id"]
    me = person(r.json()["room"], gus)
    assert me is not None and me["role"] == "listener" and me["guest"] is True and me["display_name"] == "Gus"
    assert (await host.http.get(f"/api/rooms/{room_id}")).json()["guests_allowed"] is True
    assert (await guest_c.post(f"/api/rooms/{room_id}/hand", json={"raised": True})).status_code == 200
    r = await host.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": gus})
    assert r.status_code == 200
    r = await guest_c.post(f"/api/rooms/{room_id}/speak-invite/accept")
    assert r.status_code == 200 and (person(r.json(), gus) or {})["role"] == "speaker"
    assert (await guest_c.post(f"/api/rooms/{room_id}/mute", json={"muted": False})).status_code == 200
    assert gus in instance.services.live.get(room_id).audible_speakers
    # A guest never moderates a members' room, and has no moderator powers in it.
    r = await host.post(f"/api/rooms/{room_id}/moderators", json={"user_id": gus})
    assert r.status_code == 409 and error_code(r) == "guest_cannot_moderate"
    r = await guest_c.post(f"/api/rooms/{room_id}/remove", json={"user_id": fan.id})
    assert r.status_code == 403 and error_code(r) == "not_moderator"
    r = await guest_c.post(f"/api/rooms/{room_id}/guests", json={"allowed": False})
    assert r.status_code == 401


async def test_guests_cannot_do_member_things(instance: Instance) -> None:
    await guests_on(instance)
    host = await instance.member("host")
    room_id = await open_member_room(instance, host)
    guest_c = instance.client()
    r = await guest_c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"})
    assert r.status_code == 200
    attempts = [
        ("POST", "/api/rooms", {"title": "Mine"}),
        ("POST", f"/api/rooms/{room_id}/join", None),
        ("POST", f"/api/rooms/{room_id}/invites", {"username": "host"}),
        ("POST", "/api/users/host/follow", None),
        # a profile is reported with an account (the room and what is said in it need none)
        ("POST", "/api/reports", {"target": {"kind": "profile", "id": host.id}, "reason": "spam"}),
        ("GET", "/api/me", None),
        ("GET", "/api/rooms", None),
        ("GET", "/api/notifications", None),
        ("POST", "/api/invites", None),
    ]
    for method, path, body in attempts:
        r = await guest_c.request(method, path, json=body)
        assert r.status_code == 401 and error_code(r) == "not_authenticated", (path, r.text)
    # What both may do: TURN credentials for the media connection.
    assert (await guest_c.get("/api/media/ice-servers")).status_code == 200


async def test_turning_the_link_off_removes_the_guests_at_once(instance: Instance) -> None:
    await guests_on(instance)
    host, fan = await instance.member("host"), await instance.member("fan")
    room_id = await open_member_room(instance, host)
    assert (await fan.post(f"/api/rooms/{room_id}/join")).status_code == 200
    guests = []
    for name in ("Gus", "Gwen"):
        c = instance.client()
        r = await c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": name})
        guests.append((c, r.json()["guest"]["id"]))
    # One of them on stage.
    await host.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": guests[0][1]})
    await guests[0][0].post(f"/api/rooms/{room_id}/speak-invite/accept")
    told: list[dict[str, Any]] = []
    s = instance.services
    for _, gid in guests:
        s.bus.subscribe(f"user:{gid}", told.append)
    closed: list[str] = []
    real_close = s.media.close_peer

    async def close_peer(rid: str, user_id: str) -> None:
        closed.append(user_id)
        await real_close(rid, user_id)

    s.media.close_peer = close_peer
    r = await host.post(f"/api/rooms/{room_id}/guests", json={"allowed": False})
    assert r.status_code == 200, r.text
    snap = r.json()
    assert snap["guests_allowed"] is False
    assert {p["user_id"] for p in snap["participants"]} == {host.id, fan.id}
    assert sorted(closed) == sorted(gid for _, gid in guests), "their media stopped"
    assert [m["data"]["participant"] for m in told if m["name"] == "room.you"] == [None, None]
    assert not s.live.guests.by_id
    for c, _ in guests:
        assert (await c.get(f"/api/rooms/{room_id}")).status_code == 401
        r = await c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Again"})
        assert r.status_code == 403 and error_code(r) == "guests_not_allowed"
    # Audited: the moderator's switches by id, a guest's own steps only as "a guest".
    async with s.db.engine.connect() as conn:
        query = sa.select(audit_log.c.actor_id, audit_log.c.action, audit_log.c.target_id)
        rows = (await conn.execute(query.where(audit_log.c.room_id == room_id).order_by(audit_log.c.id))).all()
    actions = [tuple(row) for row in rows]
    assert (host.id, "room.guests.on", None) in actions and (host.id, "room.guests.off", None) in actions
    assert ("guest", "guest.join", None) in actions and (host.id, "speak.invite", "guest") in actions


async def test_a_removed_and_blocked_guest_stores_nothing(instance: Instance) -> None:
    await guests_on(instance)
    host = await instance.member("host")
    room_id = await open_member_room(instance, host)
    c = instance.client()
    gus = (await c.post(f"/api/guest/rooms/{room_id}/enter", json={"display_name": "Gus"})).json()["guest"]["id"]
    r = await host.post(f"/api/rooms/{room_id}/remove", json={"user_id": gus, "block": True})
    assert r.status_code == 200, r.text
    assert (await c.get(f"/api/rooms/{room_id}")).status_code == 401
    async with instance.services.db.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(room_blocks))).scalar() == 0


# -- nothing stored, nothing logged -----------------------------------------------------------


NAME_MARK, ROOM_MARK = "Zorblax Quenton", "quux-parlour-7731"


async def _walk(inst: Instance) -> list[str]:
    """Every text value in every table of the database."""
    found: list[str] = []
    async with inst.services.db.engine.connect() as conn:

        def tables(sync: Any) -> list[str]:
            return list(sa.inspect(sync).get_table_names())

        for table in await conn.run_sync(tables):
            rows = (await conn.execute(sa.text(f'SELECT * FROM "{table}"'))).all()
            found += [f"{table}: {value}" for row in rows for value in row if isinstance(value, str | bytes)]
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_after_a_guest_room_no_guest_name_is_in_the_database_or_the_log(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Every statement with its parameters, as an operator turning SQL logging on would see.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    async with _backend(backend) as overrides, running_instance(tmp_path / "data", **overrides) as inst:
        await guests_on(inst)
        host = await inst.member("host")
        member_room = await open_member_room(inst, host)
        ann_c, bo_c, cy_c = inst.client(), inst.client(), inst.client()
        ann = await enter(ann_c, ROOM_MARK, NAME_MARK)
        room_id = ann["room"]["id"]
        bo = await enter(bo_c, ROOM_MARK, f"{NAME_MARK} II")
        await ann_c.post(f"/api/rooms/{room_id}/open-stage", json={"open": False})
        await ann_c.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": bo["guest"]["id"]})
        await ann_c.patch(f"/api/rooms/{room_id}", json={"title": f"{ROOM_MARK} retitled"})
        # Chat: guests write, the guest moderator moderates (nothing of it audited or stored).
        r = await bo_c.post(f"/api/rooms/{room_id}/chat", json={"text": f"hi, {NAME_MARK} here"})
        assert r.status_code == 201 and r.json()["guest"] is True and r.json()["display_name"] == f"{NAME_MARK} II"
        r = await ann_c.patch(f"/api/rooms/{room_id}/chat", json={"slow_mode_s": 5})
        assert r.status_code == 200, r.text
        r = await ann_c.post(f"/api/rooms/{room_id}/chat/timeouts", json={"user_id": bo["guest"]["id"], "seconds": 60})
        assert r.status_code == 200, r.text
        await ann_c.post(f"/api/rooms/{room_id}/remove", json={"user_id": bo["guest"]["id"], "block": True})
        # A guest of the members' room too, on stage, then the room reported.
        r = await cy_c.post(f"/api/guest/rooms/{member_room}/enter", json={"display_name": f"{NAME_MARK} III"})
        cy = r.json()["guest"]["id"]
        await host.post(f"/api/rooms/{member_room}/speak-invites", json={"user_id": cy})
        await cy_c.post(f"/api/rooms/{member_room}/speak-invite/accept")
        r = await cy_c.post(f"/api/rooms/{member_room}/chat", json={"text": "a guest's line"})
        assert r.status_code == 201, r.text
        r = await host.post(f"/api/rooms/{member_room}/chat/timeouts", json={"user_id": cy, "seconds": 60})
        assert r.status_code == 200, r.text
        r = await host.post("/api/reports", json={"target": {"kind": "room", "id": member_room}, "reason": "spam"})
        assert r.status_code in (201, 400, 403, 409), r.text
        r = await host.post("/api/reports", json={"target": {"kind": "room", "id": room_id}, "reason": "spam"})
        assert r.status_code >= 400
        await cy_c.post(f"/api/rooms/{member_room}/leave")
        assert (await ann_c.post(f"/api/rooms/{room_id}/leave")).json()["ended"] is True
        assert not inst.services.live.guests.by_id and room_id not in inst.services.live.rooms
        values = await _walk(inst)
    assert values, "the walk saw the database"
    # Everything the server logged (not this test's own HTTP client, which names its URLs).
    logged = "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ).lower()
    assert "parlor" in logged and "insert into" in logged, "the capture saw the server's log and its SQL"
    for mark in (NAME_MARK, ROOM_MARK):
        assert not [v for v in values if mark.lower() in v.lower()], mark
        assert mark.lower() not in logged, mark
    assert not [v for v in values if room_id in v], "nothing of the guest room"
    for gid in (ann["guest"]["id"], bo["guest"]["id"], cy):
        assert not [v for v in values if gid in v], "no guest's id either"


@contextlib.asynccontextmanager
async def _backend(backend: str) -> AsyncIterator[dict[str, Any]]:
    if backend == "sqlite":
        yield {}
    else:
        async with fresh_postgres() as url:
            yield {"database_url": url}


def test_access_lines_do_not_name_guest_rooms() -> None:
    from parlor.logs import StripQuery

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", f"/api/guest-rooms/{ROOM_MARK}/enter?x=1", "1.1", 200),
        None,
    )
    StripQuery().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "POST /api/guest-rooms/-/enter HTTP/1.1" 200'
    record.args = ("127.0.0.1:5", "GET", f"/r/{ROOM_MARK}", "1.1", 200)
    StripQuery().filter(record)
    assert ROOM_MARK not in record.getMessage() and "/r/-" in record.getMessage()
