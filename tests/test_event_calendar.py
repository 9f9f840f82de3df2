"""Calendars: an event's .ics and a person's private feed, read back with the
`icalendar` package (what calendar apps use is stricter than string matching)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
from tests.conftest import Instance, error_code
from tests.test_events import T0, drive, iso, ok

from parlor.domain import ical
from parlor.storage import tables

BERLIN = ZoneInfo("Europe/Berlin")


def parse(text: str) -> list[icalendar.Event]:
    cal = icalendar.Calendar.from_ical(text)
    return list(cal.walk("VEVENT"))


async def test_an_event_file_round_trips_title_times_description_organiser_and_uid(instance: Instance) -> None:
    drive(instance)
    ann = await instance.member("ann")
    await ok(await ann.http.patch("/api/me/profile", json={"display_name": 'Ann; the "Host"'}))
    description = "Tea, cake; and a long line " + "ü" * 80 + "\\ end"
    body = {
        "title": "Tea, talk; and more",
        "description": description,
        "starts_at": "2027-03-10T19:00:00+01:00",
        "ends_at": "2027-03-10T20:30:00+01:00",
    }
    e = await ok(await ann.post("/api/events", json=body), 201)
    r = await ann.http.get(f"/api/events/{e['id']}.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert all(len(line.encode()) <= 75 for line in r.text.split("\r\n"))
    [vevent] = parse(r.text)
    assert str(vevent["SUMMARY"]) == "Tea, talk; and more"
    assert str(vevent["DESCRIPTION"]) == description
    assert vevent.decoded("DTSTART") == datetime(2027, 3, 10, 18, 0, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2027, 3, 10, 19, 30, tzinfo=UTC)
    assert str(vevent["UID"]) == f"{e['id']}@{instance.settings.base_url.split('//')[1].split(':')[0]}"
    organizer = vevent["ORGANIZER"]
    assert str(organizer) == f"{instance.settings.base_url}/people/ann"
    assert organizer.params["CN"] == "Ann; the Host"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["URL"]) == f"{instance.settings.base_url}/events/{e['id']}"


async def test_weekly_events_across_the_dst_change_keep_their_local_time(instance: Instance) -> None:
    """Six weekly events at 19:00 in Berlin, across the change to summer time on
    2027-03-28: the feed says 19:00 local each week (18:00 UTC before, 17:00 after)."""
    drive(instance)
    ann = await instance.member("ann")
    first = datetime(2027, 3, 11, 19, 0, tzinfo=BERLIN)
    made = []
    for week in range(6):
        local = (first.replace(tzinfo=None) + timedelta(weeks=week)).replace(tzinfo=BERLIN)
        body = {"title": f"Week {week + 1}", "starts_at": local.isoformat(), "time_zone": "Europe/Berlin"}
        made.append((await ok(await ann.post("/api/events", json=body), 201))["id"])
    feed = await ok(await ann.post("/api/me/calendar"), 201)
    path = feed["url"].removeprefix(instance.settings.base_url)
    r = await instance.client().get(path)  # no cookie: calendar apps cannot sign in
    assert r.status_code == 200, r.text
    assert "DTSTART;TZID=Europe/Berlin:20270311T190000" in r.text
    assert "BEGIN:VTIMEZONE" in r.text and "TZID:Europe/Berlin" in r.text
    events = sorted(parse(r.text), key=lambda v: v.decoded("DTSTART"))
    assert [str(v["UID"]).split("@")[0] for v in events] == made
    starts = [v.decoded("DTSTART") for v in events]
    assert [s.astimezone(BERLIN).strftime("%a %H:%M") for s in starts] == ["Thu 19:00"] * 6
    assert [s.astimezone(UTC).hour for s in starts] == [18, 18, 18, 17, 17, 17]
    assert [s.astimezone(BERLIN).day for s in starts] == [11, 18, 25, 1, 8, 15]
    # and the VTIMEZONE alone (what a client without a zone database reads) holds the change
    spring = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert spring in ical.transitions(BERLIN, 2027, 2027)


async def test_the_feed_lists_what_you_host_or_follow_with_cancelled_ones_cancelled(instance: Instance) -> None:
    drive(instance)
    ann, bob = await instance.member("ann"), await instance.member("bob")
    kept = await ok(await bob.post("/api/events", json={"title": "Kept", "starts_at": iso(T0 + 7200)}), 201)
    gone = await ok(await bob.post("/api/events", json={"title": "Gone", "starts_at": iso(T0 + 9000)}), 201)
    await ok(await bob.post("/api/events", json={"title": "Not followed", "starts_at": iso(T0 + 9000)}), 201)
    mine = await ok(await ann.post("/api/events", json={"title": "Mine", "starts_at": iso(T0 + 4000)}), 201)
    for e in (kept, gone):
        await ok(await ann.http.put(f"/api/events/{e['id']}/notify", json={"on": True}))
    await ok(await bob.post(f"/api/events/{gone['id']}/cancel"))

    assert await ok(await ann.http.get("/api/me/calendar")) == {"active": False, "created_at": None}
    feed = await ok(await ann.post("/api/me/calendar"), 201)
    secret = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    anon = instance.client()
    r = await anon.get(f"/calendar/{secret}.ics")
    assert r.status_code == 200
    by_title = {str(v["SUMMARY"]): v for v in parse(r.text)}
    assert set(by_title) == {"Mine", "Kept", "Gone"}
    assert str(by_title["Gone"]["STATUS"]) == "CANCELLED"
    assert str(by_title["Kept"]["STATUS"]) == "CONFIRMED"
    assert int(by_title["Gone"]["SEQUENCE"]) > int(by_title["Kept"]["SEQUENCE"])
    assert str(by_title["Mine"]["UID"]).startswith(mine["id"])
    status = await ok(await ann.http.get("/api/me/calendar"))
    assert status["active"] is True and "url" not in status

    # only a hash of the secret is stored
    async with instance.services.db.engine.connect() as conn:
        stored = (await conn.execute(sa.select(tables.calendar_feeds))).mappings().all()
    assert len(stored) == 1 and secret not in str(dict(stored[0]))

    # a new URL replaces the old one; revoking ends it
    again = await ok(await ann.post("/api/me/calendar"), 201)
    assert again["url"] != feed["url"]
    assert error_code(await anon.get(f"/calendar/{secret}.ics")) == "calendar_feed_not_found"
    assert (await anon.get(again["url"].removeprefix(instance.settings.base_url))).status_code == 200
    assert (await ann.http.delete("/api/me/calendar")).status_code == 204
    assert (await anon.get(again["url"].removeprefix(instance.settings.base_url))).status_code == 404
    assert error_code(await ann.http.delete("/api/me/calendar")) == "calendar_feed_not_found"
    assert error_code(await anon.get("/calendar/short.ics")) == "calendar_feed_not_found"


def test_folding_never_splits_a_character() -> None:
    line = "DESCRIPTION:" + "ü" * 100 + "é" * 3
    folded = ical.fold(line)
    parts = folded.split("\r\n ")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join(parts) == line
