"""Events: scheduled rooms (DESIGN §5; docs/API.md, Events).

A member schedules an event (title, description, start, optional end, up to five
co-hosts, up to three topics, an optional time zone for calendars). Anyone who can
see it may ask to be told ("notify me"): they get the reminders (a lead time before
the start and at the start), the host opening its room, changes and a cancellation,
in the inbox and over the socket. The host or a co-host starts it: that opens a room
(actions/rooms.py) whose hosts come in as moderators. The host may edit and cancel;
co-hosts may edit and start. An event nobody started within the grace period is
marked missed; one whose room ended is marked ended.

Reminders are never scheduled in memory: the scheduler (`run_due_reminders`, called
every few seconds by the app and directly by tests) derives what is due from the
events table and claims a row per event, person and kind (`event_reminders`) in the
transaction that stores the notification, so each is sent once, across restarts too.
What happens to reminders that fell due while the node was down is decided in
`domain.events.due_reminders`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import limits, notifications, rooms
from parlor.actions.accounts import USERNAME
from parlor.actions.ids import digest, looks_like_id, new_id, new_secret
from parlor.actions.services import Services
from parlor.bus.base import HALLWAY, user_channel
from parlor.domain import events as domain
from parlor.domain import ical
from parlor.domain.clubs import LEADING
from parlor.domain.events import Reminder, State
from parlor.domain.topics import check_topics
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import clubs as club_store
from parlor.storage import events as store
from parlor.storage import social as social_store

logger = logging.getLogger(__name__)

UPCOMING_LIMIT = 20
HALLWAY_LIMIT = 10
FEED_PAST_S = 30 * 86400  # a feed shows events from a month back on
FEED_LIMIT = 500
SCHEDULER_INTERVAL_S = 5.0
SCHEDULER_LEASE = "scheduler"
SCHEDULER_BATCH = 500
_SECRET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

# -- views --------------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _person(p: store.Person) -> dict[str, str]:
    return {"id": p.id, "username": p.username, "display_name": p.display_name}


def _live(s: Services, e: store.Event) -> bool:
    return e.state == State.LIVE and e.room_id is not None and e.room_id in s.live.rooms


def view(
    s: Services,
    e: store.Event,
    cohosts: list[store.Person],
    viewer_id: str,
    *,
    notify: bool,
    subscribers: int | None = None,
) -> dict[str, Any]:
    """An event as the API shows it (docs/API.md, Events)."""
    hosts = {e.host.id, *(p.id for p in cohosts)}
    out: dict[str, Any] = {
        "id": e.id,
        "title": e.title,
        "description": e.description,
        "starts_at": e.starts_at,
        "ends_at": e.ends_at,
        "starts_at_iso": _iso(e.starts_at),
        "ends_at_iso": _iso(e.ends_at),
        "time_zone": e.time_zone,
        "topics": list(e.topics),
        "club_id": e.club_id,
        "club": {"id": e.club_id, "name": e.club_name} if e.club_id and e.club_name is not None else None,
        "state": e.state,
        "live": _live(s, e),
        "room_id": e.room_id if _live(s, e) else None,
        "host": _person(e.host),
        "cohosts": [_person(p) for p in cohosts],
        "you_host": viewer_id in hosts,
        "you_are_host": viewer_id == e.host.id,
        "notify": notify,
        "url": f"/events/{e.id}",
        "ics_url": f"/api/events/{e.id}.ics",
    }
    if subscribers is not None:
        out["subscriber_count"] = subscribers
    return out


async def _views(s: Services, conn: AsyncConnection, found: list[store.Event], viewer_id: str) -> list[dict[str, Any]]:
    ids = [e.id for e in found]
    cohosts = await store.cohosts(conn, ids)
    mine = await store.subscribed(conn, ids, viewer_id)
    return [view(s, e, cohosts[e.id], viewer_id, notify=e.id in mine) for e in found]


async def _full_view(s: Services, conn: AsyncConnection, e: store.Event, viewer_id: str) -> dict[str, Any]:
    cohosts = (await store.cohosts(conn, [e.id]))[e.id]
    mine = await store.subscribed(conn, [e.id], viewer_id)
    count = await store.subscriber_count(conn, e.id)
    return view(s, e, cohosts, viewer_id, notify=e.id in mine, subscribers=count)


# -- checks ---------------------------------------------------------------------------------


def _not_found() -> ParlorError:
    return ParlorError(404, Code.EVENT_NOT_FOUND, "There is no such event.")


async def _check_event(s: Services, conn: AsyncConnection, viewer: User, event_id: str) -> store.Event:
    """The event, for a viewer who may see it: not to someone blocked either way with its host."""
    e = await store.get(conn, event_id) if looks_like_id(event_id) else None
    if e is None:
        raise _not_found()
    if e.host.id != viewer.id and await social_store.blocked_either_way(conn, viewer.id, [e.host.id]):
        raise _not_found()
    return e


async def _check_hosting(conn: AsyncConnection, e: store.Event, user: User, *, host_only: bool) -> list[store.Person]:
    cohosts = (await store.cohosts(conn, [e.id]))[e.id]
    if user.id == e.host.id or (not host_only and any(p.id == user.id for p in cohosts)):
        return cohosts
    who = "its host" if host_only else "its host or a co-host"
    raise ParlorError(403, Code.NOT_EVENT_HOST, f"Only {who} can do that.")


def _check_scheduled(e: store.Event) -> None:
    if e.state != State.SCHEDULED:
        raise ParlorError(409, Code.EVENT_NOT_SCHEDULED, f"This event is {e.state}: it can no longer change.")


async def _check_club(conn: AsyncConnection, user: User, club_id: object) -> str | None:
    """An event may belong to a club its host leads (an admin or leader of it, as for the
    club's rooms): it shows on the club's page and starts as one of the club's rooms."""
    if club_id is None:
        return None
    if not isinstance(club_id, str) or not looks_like_id(club_id):
        raise bad_input("club_id is a club's id.")
    club = await club_store.get_club(conn, club_id)
    if club is None:
        raise ParlorError(404, Code.CLUB_NOT_FOUND, "There is no such club.")
    if club.archived:
        raise ParlorError(409, Code.CLUB_ARCHIVED, "This club is archived.")
    if await club_store.role_of(conn, club.id, user.id) not in LEADING:
        raise ParlorError(403, Code.NOT_CLUB_LEADER, "Only the club's admins and leaders schedule its events.")
    return club.id


async def _check_cohosts(conn: AsyncConnection, host: User, raw: object) -> list[str]:
    """Usernames → user ids, in order; each must be a member, not the host, not blocked either way."""
    if not isinstance(raw, list) or not all(isinstance(u, str) for u in raw):
        raise bad_input("Co-hosts are a list of usernames.")
    names = list(dict.fromkeys(u.strip().lower().removeprefix("@") for u in raw))
    domain.check_cohost_count(names)
    ids: list[str] = []
    for name in names:
        person = await social_store.user_by_username(conn, name) if USERNAME.match(name) else None
        if person is None:
            raise ParlorError(404, Code.USER_NOT_FOUND, f"There is no member called @{name[:30]}.")
        if person.id == host.id:
            raise bad_input("You host this event already: list only your co-hosts.")
        rel = await social_store.relation(conn, host.id, person.id)
        if rel["blocks_you"]:
            raise ParlorError(403, Code.BLOCKED_BY_USER, f"@{name} has blocked you.")
        if rel["blocked_by_you"]:
            raise ParlorError(403, Code.USER_BLOCKED, f"You blocked @{name}: unblock them first.")
        ids.append(person.id)
    return ids


# -- telling people -------------------------------------------------------------------------


async def _publish_notes(
    s: Services,
    made: list[tuple[int, str]],
    e: store.Event,
    kind: str,
    now: float,
    *,
    room_id: str | None = None,
    state: str | None = None,
    text: str | None = None,
) -> None:
    """After commit: the stored notifications, live on each recipient's channel."""
    if not made:
        return
    room = None
    if room_id is not None:
        room = {"id": room_id, "title": e.title, "live": room_id in s.live.rooms}
    event = {"id": e.id, "title": e.title, "starts_at": e.starts_at, "state": state or e.state}
    for notification_id, user_id in made:
        data = {
            "id": notification_id,
            "kind": kind,
            "actor": _person(e.host),
            "room": room,
            "event": event,
            "created_at": now,
            "read": False,
            "text": text,
        }
        await s.bus.publish(user_channel(user_id), {"name": "notification", "data": data})


async def _hallway_changed(s: Services) -> None:
    await s.bus.publish(HALLWAY, {"name": "hallway.changed", "data": {}, "data_json": "{}"})


# -- reading ---------------------------------------------------------------------------------


async def get(s: Services, viewer: User, event_id: str) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        e = await _check_event(s, conn, viewer, event_id)
        return await _full_view(s, conn, e, viewer.id)


async def upcoming(s: Services, viewer: User, limit: int = HALLWAY_LIMIT) -> list[dict[str, Any]]:
    """The hallway's upcoming events: hosts you follow and your clubs first, then everyone's, soonest first."""
    async with s.db.engine.connect() as conn:
        return await upcoming_in(s, conn, viewer, limit)


async def upcoming_in(
    s: Services, conn: AsyncConnection, viewer: User, limit: int = HALLWAY_LIMIT
) -> list[dict[str, Any]]:
    """`upcoming` on a connection the caller holds (the hallway page reads its rooms on it too)."""
    found = await store.upcoming_for(conn, viewer.id, s.clock(), s.settings.event_grace_s, limit)
    return await _views(s, conn, found, viewer.id)


async def upcoming_of_club(s: Services, conn: AsyncConnection, viewer: User, club_id: str) -> list[dict[str, Any]]:
    """A club's upcoming events, soonest first (its page), but those of hosts the viewer
    is blocked with either way."""
    found = await store.upcoming_of_club(conn, club_id, viewer.id, s.clock(), s.settings.event_grace_s, UPCOMING_LIMIT)
    return await _views(s, conn, found, viewer.id)


async def upcoming_of(s: Services, viewer: User, username: str) -> list[dict[str, Any]]:
    """A person's upcoming events (hosted or co-hosted), for their profile."""
    name = username.strip().lower()
    async with s.db.engine.connect() as conn:
        person = await social_store.user_by_username(conn, name) if USERNAME.match(name) else None
        if person is None or (
            person.id != viewer.id and await social_store.blocked_either_way(conn, viewer.id, [person.id])
        ):
            raise ParlorError(404, Code.USER_NOT_FOUND, "There is no such user.")
        found = await store.upcoming_of(conn, person.id, s.clock(), s.settings.event_grace_s, UPCOMING_LIMIT)
        return await _views(s, conn, found, viewer.id)


# -- writing ---------------------------------------------------------------------------------


async def do_create(s: Services, user: User, body: dict[str, Any], *, address: str | None = None) -> dict[str, Any]:
    """Schedule an event. Everything is checked before anything is written or counted."""
    now = s.clock()
    title = domain.clean_title(body["title"])
    description = domain.clean_description(body.get("description") or "")
    starts_at = domain.parse_time(body["starts_at"], "starts_at")
    ends_at = domain.parse_time(body["ends_at"], "ends_at") if body.get("ends_at") is not None else None
    domain.check_times(starts_at, ends_at, now)
    time_zone = domain.check_time_zone(body.get("time_zone"))
    topics = check_topics(body.get("topics") or [], s.settings.topics)
    async with s.db.engine.connect() as conn:
        cohost_ids = await _check_cohosts(conn, user, body.get("cohosts") or [])
        club_id = await _check_club(conn, user, body.get("club_id"))
    await limits.check(s, "event_create", account=user.id, address=address)
    event_id = new_id("e")
    async with s.db.engine.begin() as conn:
        await store.insert(
            conn,
            id=event_id,
            host_id=user.id,
            club_id=club_id,
            title=title,
            description=description,
            starts_at=starts_at,
            ends_at=ends_at,
            time_zone=time_zone,
            topics=topics,
            room_id=None,
            created_at=now,
            updated_at=now,
        )
        await store.set_cohosts(conn, event_id, cohost_ids)
        e = await store.get(conn, event_id)
        assert e is not None
        out = await _full_view(s, conn, e, user.id)
    await _hallway_changed(s)
    return out


async def do_update(s: Services, user: User, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a scheduled event (the host or a co-host; only the host changes co-hosts).
    People who asked to be told get `event_changed`; a new start time re-arms the reminders."""
    now = s.clock()
    if not changes:
        raise bad_input("Say what to change.")
    async with s.db.engine.connect() as conn:
        e = await _check_event(s, conn, user, event_id)
        await _check_hosting(conn, e, user, host_only="cohosts" in changes)
        _check_scheduled(e)
        values: dict[str, Any] = {}
        if "club_id" in changes:  # the host's call: a co-host does not move it to a club
            if user.id != e.host.id:
                raise ParlorError(403, Code.NOT_EVENT_HOST, "Only its host can do that.")
            values["club_id"] = await _check_club(conn, user, changes["club_id"])
        if "title" in changes:
            values["title"] = domain.clean_title(changes["title"] or "")
        if "description" in changes:
            values["description"] = domain.clean_description(changes["description"] or "")
        starts_at, ends_at = e.starts_at, e.ends_at
        if "starts_at" in changes:
            starts_at = domain.parse_time(changes["starts_at"] or "", "starts_at")
        if "ends_at" in changes:
            raw = changes["ends_at"]
            ends_at = domain.parse_time(raw, "ends_at") if raw is not None else None
        if (starts_at, ends_at) != (e.starts_at, e.ends_at):
            domain.check_times(starts_at, ends_at, now)
            values.update(starts_at=starts_at, ends_at=ends_at)
            if starts_at != e.starts_at:
                values["reminders_done"] = frozenset()
        if "time_zone" in changes:
            values["time_zone"] = domain.check_time_zone(changes["time_zone"])
        if "topics" in changes:
            values["topics"] = check_topics(changes["topics"] or [], s.settings.topics)
        cohost_ids = await _check_cohosts(conn, user, changes["cohosts"]) if "cohosts" in changes else None
    async with s.db.engine.begin() as conn:
        if not await store.claim_state(
            conn, e.id, [State.SCHEDULED], State.SCHEDULED, **values, updated_at=now, sequence=e.sequence + 1
        ):
            raise ParlorError(409, Code.EVENT_NOT_SCHEDULED, "This event changed meanwhile: look again.")
        if "reminders_done" in values:
            await store.forget_reminders(conn, e.id)
        if cohost_ids is not None:
            await store.set_cohosts(conn, e.id, cohost_ids)
        fresh = await store.get(conn, e.id)
        assert fresh is not None
        made = await store.notify_subscribers(conn, event=fresh, kind="event_changed", now=now)
        out = await _full_view(s, conn, fresh, user.id)
    await _publish_notes(s, made, fresh, "event_changed", now)
    await _hallway_changed(s)
    return out


async def do_cancel(s: Services, user: User, event_id: str) -> dict[str, Any]:
    """The host cancels a scheduled event; people who asked to be told are told."""
    now = s.clock()
    async with s.db.engine.connect() as conn:
        e = await _check_event(s, conn, user, event_id)
        await _check_hosting(conn, e, user, host_only=True)
        _check_scheduled(e)
    async with s.db.engine.begin() as conn:
        if not await store.claim_state(
            conn, e.id, [State.SCHEDULED], State.CANCELLED, updated_at=now, sequence=e.sequence + 1
        ):
            raise ParlorError(409, Code.EVENT_NOT_SCHEDULED, "This event changed meanwhile: look again.")
        made = await store.notify_subscribers(conn, event=e, kind="event_cancelled", now=now)
        fresh = await store.get(conn, e.id)
        assert fresh is not None
        out = await _full_view(s, conn, fresh, user.id)
    await _publish_notes(s, made, fresh, "event_cancelled", now)
    await _hallway_changed(s)
    return out


async def do_set_notify(s: Services, user: User, event_id: str, on: bool) -> dict[str, Any]:
    """Ask (or stop asking) to be told about an event. Idempotent; refused once it is over."""
    async with s.db.engine.begin() as conn:
        e = await _check_event(s, conn, user, event_id)
        if on:
            if e.state not in (State.SCHEDULED, State.LIVE):
                raise ParlorError(409, Code.EVENT_NOT_SCHEDULED, f"This event is {e.state}: there is nothing to tell.")
            await store.subscribe(conn, e.id, user.id, s.clock())
        else:
            await store.unsubscribe(conn, e.id, user.id)
        return await _full_view(s, conn, e, user.id)


async def do_start(s: Services, user: User, event_id: str, *, address: str | None = None) -> dict[str, Any]:
    """The host or a co-host opens the event's room: it carries the event's title, its hosts
    come in as moderators, and people who asked to be told are pinged with the room."""
    now = s.clock()
    async with s.db.engine.connect() as conn:
        e = await _check_event(s, conn, user, event_id)
        cohosts = await _check_hosting(conn, e, user, host_only=False)
    _check_scheduled(e)
    if now < e.starts_at - domain.START_EARLY_S:
        raise ParlorError(
            409,
            Code.EVENT_NOT_STARTABLE_YET,
            "It is too early: an event's room opens at most an hour before it starts.",
        )
    async with s.db.engine.begin() as conn:
        if not await store.claim_state(conn, e.id, [State.SCHEDULED], State.LIVE, updated_at=now):
            raise ParlorError(409, Code.EVENT_NOT_SCHEDULED, "Someone started or cancelled it meanwhile.")
    try:
        room = await rooms.do_create_room(
            s,
            user,
            e.title,
            address=address,
            hosts=frozenset({e.host.id, *(p.id for p in cohosts)}),
            tell_followers=False,
            club_id=e.club_id,
        )
    except BaseException:
        async with s.db.engine.begin() as conn:
            await store.claim_state(conn, e.id, [State.LIVE], State.SCHEDULED, room_id=None)
        raise
    async with s.db.engine.begin() as conn:
        await store.update(conn, e.id, room_id=room.id)
        fresh = await store.get(conn, e.id)
        assert fresh is not None
        made = await store.notify_subscribers(conn, event=fresh, kind="event_live", now=now, room_id=room.id)
        out = await _full_view(s, conn, fresh, user.id)
    await _publish_notes(s, made, fresh, "event_live", now, room_id=room.id)
    # The starter's followers hear of the room as of any other, unless they asked about the event.
    await notifications.do_room_started(s, user, room, except_event=e.id)
    await _hallway_changed(s)
    return out


# -- the scheduler: reminders, missed and ended events -------------------------------------


async def run_due_reminders(s: Services, now: float) -> int:
    """Send what is due at `now` (docs/API.md, Events: reminders); the reminders sent."""
    lead, grace = s.settings.event_reminder_lead_s, s.settings.event_grace_s
    async with s.db.engine.connect() as conn:
        work = await store.needing_work(conn, now, lead, SCHEDULER_BATCH)
    sent = 0
    changed = False
    for e in work:
        state = State(e.state)
        if state is State.LIVE and (e.room_id is None or not await rooms.live_anywhere(s, e.room_id)):
            async with s.db.engine.begin() as conn:
                if await store.claim_state(conn, e.id, [State.LIVE], State.ENDED, updated_at=now):
                    state, changed = State.ENDED, True
        due = domain.due_reminders(
            state=state,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            done=frozenset(Reminder(k) for k in e.reminders_done),
            now=now,
            lead_s=lead,
            grace_s=grace,
        )
        done = set(e.reminders_done)
        for kind, late in due.send:
            note = "event_reminder" if kind is Reminder.LEAD else "event_starting"
            text = "late" if late else None
            async with s.db.engine.begin() as conn:
                claimed = await store.claim_reminders(conn, e.id, kind.value, now, late)
                made = await store.notify_subscribers(conn, event=e, kind=note, now=now, only=claimed, text=text)
                done.add(kind.value)
                await store.update(conn, e.id, reminders_done=frozenset(done))
            await _publish_notes(s, made, e, note, now, text=text)
            sent += len(made)
        if due.skip:
            done.update(k.value for k in due.skip)
            async with s.db.engine.begin() as conn:
                await store.update(conn, e.id, reminders_done=frozenset(done))
        if state is State.SCHEDULED and now >= e.starts_at + grace:
            async with s.db.engine.begin() as conn:
                changed = (
                    await store.claim_state(conn, e.id, [State.SCHEDULED], State.MISSED, updated_at=now) or changed
                )
    if changed:
        await _hallway_changed(s)
    return sent


async def run_forever(s: Services, interval: float = SCHEDULER_INTERVAL_S) -> None:
    """The app's scheduler loop (started in the lifespan). With several nodes, the one
    holding the scheduler's lease runs it; another takes over when that one dies."""
    while True:
        try:
            if await s.cluster.acquire(SCHEDULER_LEASE, interval * 3):
                await run_due_reminders(s, s.clock())
        except Exception:
            logger.exception("event reminders failed")
        await asyncio.sleep(interval)


# -- calendars ---------------------------------------------------------------------------------


def _cal_event(s: Services, e: store.Event) -> ical.CalEvent:
    base = s.settings.base_url
    return ical.CalEvent(
        uid=f"{e.id}@{urlsplit(base).hostname or 'parlor'}",
        title=e.title,
        description=e.description,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        time_zone=e.time_zone,
        organizer_name=e.host.display_name,
        organizer_uri=f"{base}/people/{e.host.username}",
        url=f"{base}/events/{e.id}",
        status="CANCELLED" if e.state == State.CANCELLED else "CONFIRMED",
        sequence=e.sequence,
        updated_at=e.updated_at,
        created_at=e.created_at,
    )


async def ics(s: Services, viewer: User, event_id: str) -> str:
    """GET /api/events/{id}.ics: one event as an iCalendar file."""
    async with s.db.engine.connect() as conn:
        e = await _check_event(s, conn, viewer, event_id)
    return ical.calendar([_cal_event(s, e)], now=s.clock())


async def feed_status(s: Services, user: User) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        made = await store.feed(conn, user.id)
    return {"active": made is not None, "created_at": made}


async def do_make_feed(s: Services, user: User) -> dict[str, Any]:
    """A new private feed URL (the old one, if any, stops working). The secret is shown once."""
    secret = new_secret()
    now = s.clock()
    async with s.db.engine.begin() as conn:
        await store.set_feed(conn, user.id, digest(secret), now)
    return {"active": True, "created_at": now, "url": f"{s.settings.base_url}/calendar/{secret}.ics"}


async def do_revoke_feed(s: Services, user: User) -> None:
    async with s.db.engine.begin() as conn:
        if not await store.drop_feed(conn, user.id):
            raise ParlorError(404, Code.CALENDAR_FEED_NOT_FOUND, "You have no calendar feed.")


async def feed_ics(s: Services, secret: str) -> str:
    """GET /calendar/<secret>.ics: the events its owner hosts, co-hosts or asked to be told about."""
    if not 20 <= len(secret) <= 64 or not set(secret) <= _SECRET_CHARS:
        raise ParlorError(404, Code.CALENDAR_FEED_NOT_FOUND, "There is no such calendar.")
    now = s.clock()
    async with s.db.engine.connect() as conn:
        owner = await store.feed_owner(conn, digest(secret))
        if owner is None:
            raise ParlorError(404, Code.CALENDAR_FEED_NOT_FOUND, "There is no such calendar.")
        found = await store.feed_of(conn, owner.id, now - FEED_PAST_S, FEED_LIMIT)
    return ical.calendar([_cal_event(s, e) for e in found], now=now, name=f"Parlor: {owner.display_name}")
