"""Events over HTTP: schedule, read, list (profile, hallway), notify me, edit, cancel,
start; refusals with stable codes that change nothing (SQLite and PostgreSQL); the rate
limit; the data export and account deletion.

The clock is driven (`Services.clock`), so "in the past" means what the test says.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import Instance, Person, error_code, fresh_postgres, running_instance
from tests.people import MEMBER_PASSWORD

from parlor.bus.base import user_channel
from parlor.storage import tables

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def iso(ts: float, offset: str = "+00:00") -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", offset)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drive(inst: Instance, at: float = T0) -> Clock:
    clock = Clock(at)
    inst.services.clock = clock
    return clock


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


async def schedule(who: Person, **extra: Any) -> dict[str, Any]:
    body = {"title": "Tea talk", "description": "All about tea", "starts_at": iso(T0 + 2 * HOUR), **extra}
    return dict(await ok(await who.post("/api/events", json=body), 201))


async def inbox(who: Person) -> list[dict[str, Any]]:
    return list((await ok(await who.http.get("/api/notifications")))["notifications"])


def listen(inst: Instance, who: Person) -> list[dict[str, Any]]:
    """What reaches `who`'s own channel (every socket of theirs gets it)."""
    got: list[dict[str, Any]] = []
    inst.services.bus.subscribe(user_channel(who.id), got.append)
    return got


def notes(got: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(m["data"]["kind"], m["data"]["event"]["id"]) for m in got if m["name"] == "notification"]


# -- scheduling and reading -------------------------------------------------------------------


async def test_schedule_read_and_list_on_profile_and_hallway(instance: Instance) -> None:
    drive(instance)
    ann, bob, cat = [await instance.member(n) for n in ("ann", "bob", "cat")]
    await ok(await cat.http.post("/api/users/bob/follow"))
    later = await schedule(ann, title="Ann's later", starts_at=iso(T0 + 5 * HOUR))
    sooner = await schedule(
        ann,
        title="Ann's sooner",
        starts_at="2027-03-01T16:00:00+01:00",  # T0 + 3 h, given in +01:00
        ends_at="2027-03-01T17:30:00+01:00",
        cohosts=["@Bob"],
        topics=["music", "tech"],
        time_zone="Europe/Berlin",
    )
    bobs = await schedule(bob, title="Bob's", starts_at=iso(T0 + 6 * HOUR))

    got = await ok(await cat.http.get(f"/api/events/{sooner['id']}"))
    assert got["title"] == "Ann's sooner" and got["description"] == "All about tea"
    assert got["starts_at"] == T0 + 3 * HOUR and got["starts_at_iso"] == "2027-03-01T15:00:00Z"
    assert got["ends_at"] == T0 + 4.5 * HOUR
    assert got["host"]["username"] == "ann" and [c["username"] for c in got["cohosts"]] == ["bob"]
    assert got["topics"] == ["music", "tech"] and got["time_zone"] == "Europe/Berlin"
    assert (got["state"], got["live"], got["notify"], got["you_host"]) == ("scheduled", False, False, False)
    assert got["ics_url"] == f"/api/events/{sooner['id']}.ics"

    # profiles: hosted and co-hosted, soonest first
    ann_list = (await ok(await cat.http.get("/api/users/ann/events")))["events"]
    assert [e["title"] for e in ann_list] == ["Ann's sooner", "Ann's later"]
    bob_list = (await ok(await cat.http.get("/api/users/bob/events")))["events"]
    assert [e["title"] for e in bob_list] == ["Ann's sooner", "Bob's"]

    # the hallway: bob (followed) first, then the rest by start
    hallway = (await ok(await cat.http.get("/api/rooms")))["events"]
    assert [e["title"] for e in hallway] == ["Bob's", "Ann's sooner", "Ann's later"]
    assert [e["id"] for e in (await ok(await cat.http.get("/api/events")))["events"]] == [
        bobs["id"],
        sooner["id"],
        later["id"],
    ]

    # notify me: on, shown, counted; off again
    on = await ok(await cat.http.put(f"/api/events/{sooner['id']}/notify", json={"on": True}))
    assert on["notify"] is True and on["subscriber_count"] == 1
    again = await ok(await cat.http.put(f"/api/events/{sooner['id']}/notify", json={"on": True}))
    assert again["subscriber_count"] == 1
    assert [e["notify"] for e in (await ok(await cat.http.get("/api/events")))["events"]] == [False, True, False]
    off = await ok(await cat.http.put(f"/api/events/{sooner['id']}/notify", json={"on": False}))
    assert off["notify"] is False and off["subscriber_count"] == 0


async def test_a_blocked_host_s_events_are_not_there(instance: Instance) -> None:
    drive(instance)
    ann, bob = await instance.member("ann"), await instance.member("bob")
    e = await schedule(ann)
    await ok(await bob.http.post("/api/users/ann/block"))
    assert error_code(await bob.http.get(f"/api/events/{e['id']}")) == "event_not_found"
    assert (await ok(await bob.http.get("/api/events")))["events"] == []
    assert error_code(await bob.http.put(f"/api/events/{e['id']}/notify", json={"on": True})) == "event_not_found"


# -- edit and cancel: the people who asked are told --------------------------------------------


async def test_edit_and_cancel_tell_the_people_who_asked(instance: Instance) -> None:
    clock = drive(instance)
    ann, bob, cat = [await instance.member(n) for n in ("ann", "bob", "cat")]
    e = await schedule(ann, cohosts=["bob"])
    await ok(await cat.http.put(f"/api/events/{e['id']}/notify", json={"on": True}))
    live = listen(instance, cat)

    clock.now += 60
    changed = await ok(await bob.http.patch(f"/api/events/{e['id']}", json={"title": "Tea and cake"}))
    assert changed["title"] == "Tea and cake"
    assert notes(live) == [("event_changed", e["id"])]
    # only the host changes co-hosts, and only the host cancels
    assert error_code(await bob.http.patch(f"/api/events/{e['id']}", json={"cohosts": []})) == "not_event_host"
    assert error_code(await bob.post(f"/api/events/{e['id']}/cancel")) == "not_event_host"
    assert error_code(await cat.http.patch(f"/api/events/{e['id']}", json={"title": "Mine"})) == "not_event_host"

    cancelled = await ok(await ann.post(f"/api/events/{e['id']}/cancel"))
    assert cancelled["state"] == "cancelled"
    assert notes(live) == [("event_changed", e["id"]), ("event_cancelled", e["id"])]
    assert [(n["kind"], n["event"]["title"], n["actor"]["username"]) for n in await inbox(cat)] == [
        ("event_cancelled", "Tea and cake", "ann"),
        ("event_changed", "Tea and cake", "ann"),
    ]
    # a cancelled event is not upcoming, cannot change, cannot start
    assert (await ok(await cat.http.get("/api/events")))["events"] == []
    assert error_code(await ann.http.patch(f"/api/events/{e['id']}", json={"title": "x"})) == "event_not_scheduled"
    assert error_code(await ann.post(f"/api/events/{e['id']}/start")) == "event_not_scheduled"
    assert error_code(await ann.post(f"/api/events/{e['id']}/cancel")) == "event_not_scheduled"


# -- starting ------------------------------------------------------------------------------------


async def test_a_cohost_starts_it_hosts_moderate_and_the_people_who_asked_are_pinged(instance: Instance) -> None:
    clock = drive(instance)
    ann, bob, cat = [await instance.member(n) for n in ("ann", "bob", "cat")]
    e = await schedule(ann, cohosts=["bob"], starts_at=iso(T0 + 2 * HOUR))
    await ok(await cat.http.put(f"/api/events/{e['id']}/notify", json={"on": True}))
    live = listen(instance, cat)

    assert error_code(await bob.post(f"/api/events/{e['id']}/start")) == "event_not_startable_yet"
    clock.now = T0 + 1.5 * HOUR  # half an hour early is fine
    assert error_code(await cat.post(f"/api/events/{e['id']}/start")) == "not_event_host"
    started = await ok(await bob.post(f"/api/events/{e['id']}/start"))
    assert started["state"] == "live"
    room_id = started["room_id"]
    assert room_id and started["live"] is True

    room = await ok(await cat.http.get(f"/api/rooms/{room_id}"))
    assert room["title"] == "Tea talk"
    # the host (not its starter) comes in moderating; anyone else listens
    joined = await ok(await ann.post(f"/api/rooms/{room_id}/join"))
    roles = {p["username"]: p["role"] for p in joined["participants"]}
    assert roles == {"bob": "moderator", "ann": "moderator"}
    joined = await ok(await cat.post(f"/api/rooms/{room_id}/join"))
    assert {p["username"]: p["role"] for p in joined["participants"]}["cat"] == "listener"

    assert notes(live) == [("event_live", e["id"])]
    [note] = [m["data"] for m in live if m["name"] == "notification"]
    assert note["room"] == {"id": room_id, "title": "Tea talk", "live": True}
    assert (await inbox(cat))[0]["kind"] == "event_live"
    assert error_code(await ann.post(f"/api/events/{e['id']}/start")) == "event_not_scheduled"
    # the hallway shows it live, with its room
    [shown] = (await ok(await cat.http.get("/api/events")))["events"]
    assert (shown["live"], shown["room_id"]) == (True, room_id)


# -- bad input: stable codes, nothing changed (SQLite and PostgreSQL) ---------------------------


@contextlib.asynccontextmanager
async def backend(kind: str, tmp_path: Path) -> AsyncIterator[Instance]:
    if kind == "sqlite":
        async with running_instance(tmp_path / "data") as inst:
            yield inst
    else:
        async with fresh_postgres() as url, running_instance(tmp_path / "data", database_url=url) as inst:
            yield inst


def _create(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Fine", "description": "Fine", "starts_at": iso(T0 + HOUR)}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# (what, body, status, code)
CREATE_REFUSALS: list[tuple[str, dict[str, Any], int, str]] = [
    ("start in the past", _create(starts_at=iso(T0 - 60)), 400, "time_in_past"),
    ("start now", _create(starts_at=iso(T0)), 400, "time_in_past"),
    ("end before start", _create(ends_at=iso(T0 + 30 * 60)), 400, "end_before_start"),
    ("end at start", _create(ends_at=iso(T0 + HOUR)), 400, "end_before_start"),
    ("no offset", _create(starts_at="2027-03-01T13:00:00"), 400, "invalid_time"),
    ("not a time", _create(starts_at="next tuesday"), 400, "invalid_time"),
    ("two years ahead", _create(starts_at=iso(T0 + 800 * 86400)), 400, "invalid_time"),
    ("unknown time zone", _create(time_zone="Mars/Olympus_Mons"), 400, "unknown_time_zone"),
    ("path as time zone", _create(time_zone="../../etc/passwd"), 400, "unknown_time_zone"),
    ("long title", _create(title="t" * 121), 400, "invalid_input"),
    ("empty title", _create(title="   "), 400, "invalid_input"),
    ("long description", _create(description="d" * 1001), 400, "invalid_input"),
    ("control characters", _create(title="bell\x07"), 400, "invalid_input"),
    ("six co-hosts", _create(cohosts=["bob", "cat", "dan", "eve", "fay", "gus"]), 400, "too_many_cohosts"),
    ("unknown co-host", _create(cohosts=["bob", "nobody_here"]), 404, "user_not_found"),
    ("host as co-host", _create(cohosts=["ann"]), 400, "invalid_input"),
    ("four topics", _create(topics=["music", "tech", "art", "books"]), 400, "too_many_topics"),
    ("unknown topic", _create(topics=["astrology"]), 400, "unknown_topic"),
    ("a club", _create(club_id=7), 400, "invalid_input"),
    ("no start", _create(starts_at=...), 400, "invalid_input"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_bad_input_is_refused_with_stable_codes_and_changes_nothing(kind: str, tmp_path: Path) -> None:
    async with backend(kind, tmp_path) as inst:
        drive(inst)
        ann = await inst.member("ann")
        for name in ("bob", "cat", "dan", "eve", "fay", "gus"):
            await inst.member(name)
        existing = await schedule(ann, title="Kept", cohosts=["bob"], topics=["music"])

        async def snapshot() -> dict[str, list[dict[str, Any]]]:
            out = {}
            async with inst.services.db.engine.connect() as conn:
                for table in (tables.events, tables.event_cohosts, tables.event_subscriptions):
                    rows = (await conn.execute(sa.select(table))).mappings()
                    out[table.name] = sorted((dict(r) for r in rows), key=repr)
            return out

        before = await snapshot()
        for what, body, status, code in CREATE_REFUSALS:
            r = await ann.post("/api/events", json=body)
            assert (r.status_code, error_code(r)) == (status, code), (what, r.text)
        # the same rules on an edit
        edits: list[tuple[str, dict[str, Any], int, str]] = [
            ("move into the past", {"starts_at": iso(T0 - 1)}, 400, "time_in_past"),
            ("end before start", {"ends_at": iso(T0 + HOUR)}, 400, "end_before_start"),
            ("unknown zone", {"time_zone": "Nowhere/Special"}, 400, "unknown_time_zone"),
            ("long title", {"title": "x" * 121}, 400, "invalid_input"),
            ("too many topics", {"topics": ["music", "tech", "art", "books"]}, 400, "too_many_topics"),
            ("unknown co-host", {"cohosts": ["nobody_here"]}, 404, "user_not_found"),
            ("six co-hosts", {"cohosts": ["bob", "cat", "dan", "eve", "fay", "gus"]}, 400, "too_many_cohosts"),
            ("nothing", {}, 400, "invalid_input"),
        ]
        for what, body, status, code in edits:
            r = await ann.http.patch(f"/api/events/{existing['id']}", json=body)
            assert (r.status_code, error_code(r)) == (status, code), (what, r.text)
        r = await ann.http.get("/api/events/no_such_event")
        assert (r.status_code, error_code(r)) == (404, "event_not_found")
        r = await ann.http.get("/api/events/%00bad")
        assert r.status_code in (400, 404)
        assert await snapshot() == before
        # the refusals did not count against the rate limit: 20 a day still go through
        for i in range(19):
            await schedule(ann, title=f"Ok {i}")
        assert error_code(await ann.post("/api/events", json=_create())) == "rate_limited"


# -- data export and account deletion ------------------------------------------------------------


async def test_events_in_the_export_and_deletion_leaves_no_trace(instance: Instance) -> None:
    drive(instance)
    zed, ann, cat = [await instance.member(n) for n in ("zed", "ann", "cat")]
    zeds = await schedule(zed, title="Zed's hour", cohosts=["ann"])
    anns = await schedule(ann, title="Ann's hour", cohosts=["zed"])
    for who, e in ((zed, anns), (cat, zeds), (ann, zeds)):
        await ok(await who.http.put(f"/api/events/{e['id']}/notify", json={"on": True}))
    await ok(await zed.post("/api/me/calendar"), 201)
    await ok(await zed.http.patch(f"/api/events/{zeds['id']}", json={"description": "Changed"}))
    assert [n["kind"] for n in await inbox(cat)] == ["event_changed"]

    export = await ok(await zed.http.get("/api/me/export"))
    t = export["tables"]
    assert [(e["id"], e["title"]) for e in t["events"]] == [(zeds["id"], "Zed's hour")]
    assert [r["event_id"] for r in t["event_cohosts"]] == [anns["id"]]
    assert [r["event_id"] for r in t["event_subscriptions"]] == [anns["id"]]
    assert [r["secret_hash"] for r in t["calendar_feeds"]] == ["(stored only as a hash)"]

    r = await zed.http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert r.status_code == 204, r.text
    # zed's event is gone (with what others were told about it); ann's goes on without zed
    assert error_code(await cat.http.get(f"/api/events/{zeds['id']}")) == "event_not_found"
    assert await inbox(cat) == []
    kept = await ok(await ann.http.get(f"/api/events/{anns['id']}"))
    assert kept["cohosts"] == [] and kept["subscriber_count"] == 0
    async with instance.services.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            rows = [dict(row) for row in (await conn.execute(sa.select(table))).mappings()]
            assert not [row for row in rows if zed.id in row.values() or zeds["id"] in row.values()], table.name
