"""Event reminders with a driven clock: each person who asked is reminded once per kind
(lead time, start), also across a restart of the node between scheduling and the start;
what happens to reminders that fell due while the node was down; missed and ended events.

`run_due_reminders(s, now)` is what the app's scheduler loop calls every few seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Instance, Person, running_instance
from tests.test_events import HOUR, T0, drive, iso, listen, ok

from parlor.actions.events import run_due_reminders
from parlor.domain.events import Due, Reminder, State, due_reminders

LEAD = 600.0
START = T0 + 2 * HOUR


async def kinds(who: Person) -> list[tuple[str, str | None]]:
    """(kind, text) of the person's notifications, oldest first."""
    found = (await ok(await who.http.get("/api/notifications")))["notifications"]
    return [(n["kind"], n["text"]) for n in reversed(found)]


async def setup_event(inst: Instance, **extra: Any) -> tuple[Person, list[Person], str]:
    ann = await inst.member("ann")
    fans = [await inst.member(n) for n in ("bob", "cat")]
    body = {"title": "Tea talk", "description": "", "starts_at": iso(START), **extra}
    event = await ok(await ann.post("/api/events", json=body), 201)
    for fan in fans:
        await ok(await fan.http.put(f"/api/events/{event['id']}/notify", json={"on": True}))
    return ann, fans, str(event["id"])


async def test_each_person_who_asked_is_reminded_once_at_the_lead_time_and_once_at_the_start(
    instance: Instance,
) -> None:
    drive(instance)
    s = instance.services
    ann, (bob, cat), event_id = await setup_event(instance)
    dan = await instance.member("dan")  # did not ask
    live = listen(instance, bob)

    assert await run_due_reminders(s, START - LEAD - 1) == 0
    assert await kinds(bob) == []
    assert await run_due_reminders(s, START - LEAD) == 2
    for _ in range(3):  # the loop comes round again: nothing more
        assert await run_due_reminders(s, START - LEAD + 5) == 0
    assert await kinds(bob) == await kinds(cat) == [("event_reminder", None)]
    assert await run_due_reminders(s, START - 1) == 0
    assert await run_due_reminders(s, START + 2) == 2
    assert await run_due_reminders(s, START + 30) == 0
    assert await kinds(bob) == await kinds(cat) == [("event_reminder", None), ("event_starting", None)]
    assert await kinds(dan) == [] and await kinds(ann) == []
    # live on the socket too, naming the event
    got = [(m["data"]["kind"], m["data"]["event"]["id"]) for m in live if m["name"] == "notification"]
    assert got == [("event_reminder", event_id), ("event_starting", event_id)]


async def test_reminded_exactly_once_across_a_node_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_instance(data) as first:
        drive(first)
        _, (bob, cat), event_id = await setup_event(first)
        # the lead reminder goes out on the first node ...
        assert await run_due_reminders(first.services, START - LEAD + 1) == 2
        bob_cookies, cat_cookies = dict(bob.http.cookies), dict(cat.http.cookies)

    # ... the node restarts (a second app on the same database file) before the start
    async with running_instance(data) as second:
        drive(second, START - LEAD + 2)
        s = second.services
        assert await run_due_reminders(s, START - LEAD + 3) == 0  # not again
        assert await run_due_reminders(s, START + 1) == 2
        assert await run_due_reminders(s, START + 5) == 0
        for cookies in (bob_cookies, cat_cookies):
            c = second.client()
            c.cookies.update(cookies)
            found = (await ok(await c.get("/api/notifications")))["notifications"]
            assert [(n["kind"], n["event"]["id"]) for n in reversed(found)] == [
                ("event_reminder", event_id),
                ("event_starting", event_id),
            ]

    # and once more: a third start sends nothing already sent
    async with running_instance(data) as third:
        drive(third, START + 10)
        assert await run_due_reminders(third.services, START + 20) == 0


@pytest.mark.parametrize(
    ("back_at", "expected"),
    [
        # down at the lead time, back before the start: the lead reminder goes, marked late
        (START - 120, [("event_reminder", "late")]),
        # down across the start: one message, the start reminder, marked late
        (START + 5 * 60, [("event_starting", "late")]),
        # down until the event is over (its end): nothing
        (START + HOUR + 1, []),
    ],
)
async def test_reminders_missed_while_the_node_was_down(
    instance: Instance, back_at: float, expected: list[tuple[str, str | None]]
) -> None:
    drive(instance)
    _, (bob, _cat), _ = await setup_event(instance, ends_at=iso(START + HOUR))
    await run_due_reminders(instance.services, back_at)
    await run_due_reminders(instance.services, back_at + 1)
    assert await kinds(bob) == expected


async def test_an_event_nobody_started_is_missed_and_one_whose_room_ended_is_ended(instance: Instance) -> None:
    clock = drive(instance)
    s = instance.services
    ann, (bob, _cat), event_id = await setup_event(instance)
    await run_due_reminders(s, START + s.settings.event_grace_s - 1)
    assert (await ok(await bob.http.get(f"/api/events/{event_id}")))["state"] == "scheduled"
    await run_due_reminders(s, START + s.settings.event_grace_s)
    assert (await ok(await bob.http.get(f"/api/events/{event_id}")))["state"] == "missed"
    assert (await ok(await bob.http.get("/api/events")))["events"] == []

    other = await ok(await ann.post("/api/events", json={"title": "Later", "starts_at": iso(START + 5 * HOUR)}), 201)
    clock.now = START + 5 * HOUR
    started = await ok(await ann.post(f"/api/events/{other['id']}/start"))
    await run_due_reminders(s, clock.now + 1)
    assert (await ok(await bob.http.get(f"/api/events/{other['id']}")))["state"] == "live"
    await ok(await ann.post(f"/api/rooms/{started['room_id']}/end"))
    await run_due_reminders(s, clock.now + 2)
    assert (await ok(await bob.http.get(f"/api/events/{other['id']}")))["state"] == "ended"


async def test_moving_an_event_re_arms_its_reminders(instance: Instance) -> None:
    clock = drive(instance)
    s = instance.services
    ann, (bob, _cat), event_id = await setup_event(instance)
    assert await run_due_reminders(s, START - LEAD) == 2
    clock.now = START - LEAD + 10
    await ok(await ann.http.patch(f"/api/events/{event_id}", json={"starts_at": iso(START + HOUR)}))
    assert await run_due_reminders(s, START + 1) == 0  # not at the old time
    assert await run_due_reminders(s, START + HOUR - LEAD) == 2
    assert [k for k, _ in await kinds(bob)] == ["event_reminder", "event_changed", "event_reminder"]


# -- the rule itself ---------------------------------------------------------------------------------


L, G = Reminder.LEAD, Reminder.START


@pytest.mark.parametrize(
    ("state", "done", "now", "due"),
    [
        (State.SCHEDULED, set(), 1000 - 601, Due()),
        (State.SCHEDULED, set(), 1000 - 600, Due(send=((L, False),))),
        (State.SCHEDULED, set(), 1000 - 500, Due(send=((L, True),))),
        (State.SCHEDULED, {L}, 999, Due()),
        (State.SCHEDULED, {L}, 1000, Due(send=((G, False),))),
        (State.SCHEDULED, set(), 1000, Due(send=((G, False),), skip=(L,))),
        (State.SCHEDULED, set(), 1100, Due(send=((G, True),), skip=(L,))),
        (State.SCHEDULED, set(), 1000 + 3600, Due(skip=(L, G))),  # over (grace, no end)
        (State.LIVE, set(), 900, Due(skip=(L,))),
        (State.LIVE, {L}, 1000, Due(skip=(G,))),
        (State.CANCELLED, set(), 900, Due(skip=(L, G))),
        (State.SCHEDULED, {L, G}, 1000, Due()),
    ],
)
def test_which_reminders_are_due(state: State, done: set[Reminder], now: float, due: Due) -> None:
    got = due_reminders(
        state=state, starts_at=1000, ends_at=None, done=frozenset(done), now=now, lead_s=600, grace_s=3600
    )
    assert got == due
