"""Queries for events, co-hosts, "notify me", reminders sent and calendar feeds.

Upcoming lists are index ranges on (state, starts_at) or (host_id, starts_at) with a
LIMIT; fan-outs to the people who asked to be told are one INSERT … SELECT each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.db import insert_ignore
from parlor.storage.tables import (
    calendar_feeds,
    club_members,
    clubs,
    event_cohosts,
    event_reminders,
    event_subscriptions,
    events,
    follows,
    notifications,
    user_blocks,
    users,
)

UPCOMING = ("scheduled", "live")


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class Event:
    id: str
    host: Person
    club_id: str | None
    title: str
    description: str
    starts_at: float
    ends_at: float | None
    time_zone: str | None
    topics: tuple[str, ...]
    state: str
    room_id: str | None
    reminders_done: frozenset[str]
    created_at: float
    updated_at: float
    sequence: int
    # the club's name, for the event's card (None: no club)
    club_name: str | None = None


def _blocked_either_way(a: Any, b: Any) -> sa.Exists:
    return sa.exists().where(
        sa.or_(
            sa.and_(user_blocks.c.blocker_id == a, user_blocks.c.blocked_id == b),
            sa.and_(user_blocks.c.blocker_id == b, user_blocks.c.blocked_id == a),
        )
    )


def _select() -> sa.Select[Any]:
    return sa.select(
        events,
        users.c.username.label("host_username"),
        users.c.display_name.label("host_display_name"),
        clubs.c.name.label("club_name"),
    ).select_from(events.join(users, users.c.id == events.c.host_id).outerjoin(clubs, clubs.c.id == events.c.club_id))


def _event(row: Any) -> Event:
    return Event(
        id=row.id,
        host=Person(row.host_id, row.host_username, row.host_display_name),
        club_id=row.club_id,
        title=row.title,
        description=row.description,
        starts_at=float(row.starts_at),
        ends_at=None if row.ends_at is None else float(row.ends_at),
        time_zone=row.time_zone,
        topics=tuple(t for t in row.topics.split(",") if t),
        state=row.state,
        room_id=row.room_id,
        reminders_done=frozenset(k for k in row.reminders_done.split(",") if k),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        sequence=int(row.sequence),
        club_name=row.club_name,
    )


# -- events ---------------------------------------------------------------------------------


async def insert(conn: AsyncConnection, **values: Any) -> None:
    values["topics"] = ",".join(values["topics"])
    await conn.execute(events.insert().values(**values, reminders_done="", sequence=0, state="scheduled"))


async def get(conn: AsyncConnection, event_id: str) -> Event | None:
    row = (await conn.execute(_select().where(events.c.id == event_id))).first()
    return _event(row) if row else None


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "topics" in out:
        out["topics"] = ",".join(out["topics"])
    if "reminders_done" in out:
        out["reminders_done"] = ",".join(sorted(out["reminders_done"]))
    return out


async def update(conn: AsyncConnection, event_id: str, **values: Any) -> None:
    await conn.execute(events.update().where(events.c.id == event_id).values(**_stored(values)))


async def claim_state(conn: AsyncConnection, event_id: str, before: Sequence[str], after: str, **values: Any) -> bool:
    """Move the event from one of `before` to `after` unless someone else moved it first."""
    statement = (
        events.update()
        .where(events.c.id == event_id, events.c.state.in_(before))
        .values(state=after, **_stored(values))
        .returning(events.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def forget_reminders(conn: AsyncConnection, event_id: str) -> None:
    """The event moved: its reminders go again at the new time."""
    await conn.execute(event_reminders.delete().where(event_reminders.c.event_id == event_id))


async def cohosts(conn: AsyncConnection, event_ids: Iterable[str]) -> dict[str, list[Person]]:
    ids = sorted(set(event_ids))
    found: dict[str, list[Person]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        sa.select(event_cohosts.c.event_id, users.c.id, users.c.username, users.c.display_name)
        .select_from(event_cohosts.join(users, users.c.id == event_cohosts.c.user_id))
        .where(event_cohosts.c.event_id.in_(ids))
        .order_by(event_cohosts.c.event_id, event_cohosts.c.position)
    )
    for row in await conn.execute(query):
        found[row.event_id].append(Person(row.id, row.username, row.display_name))
    return found


async def set_cohosts(conn: AsyncConnection, event_id: str, user_ids: Sequence[str]) -> None:
    await conn.execute(event_cohosts.delete().where(event_cohosts.c.event_id == event_id))
    if user_ids:
        await conn.execute(
            event_cohosts.insert(),
            [{"event_id": event_id, "user_id": u, "position": i} for i, u in enumerate(user_ids)],
        )


def _upcoming(now: float, grace_s: float) -> sa.ColumnElement[bool]:
    """Scheduled and not yet missed, or live."""
    return sa.or_(
        sa.and_(events.c.state == "scheduled", events.c.starts_at > now - grace_s),
        events.c.state == "live",
    )


async def upcoming_for(conn: AsyncConnection, viewer_id: str, now: float, grace_s: float, limit: int) -> list[Event]:
    """The hallway's upcoming events: those of hosts the viewer follows and of the viewer's
    clubs first, then everyone's, each part soonest first; none whose host and the viewer
    are blocked either way.

    Each part is read as index ranges in start order and cut at `limit` (the viewer's
    follows into ix_events_host, their clubs into ix_events_club, live and scheduled
    events each on ix_events_state_starts): the rows read grow with the viewer's follows
    and clubs, not with the number of events."""
    visible = ~_blocked_either_way(viewer_id, events.c.host_id)
    followed = sa.select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)
    their_clubs = sa.select(club_members.c.club_id).where(club_members.c.user_id == viewer_id)
    upcoming = _upcoming(now, grace_s)
    first = await _soonest(
        conn,
        [
            _select().where(events.c.host_id.in_(followed), upcoming, visible),
            _select().where(events.c.club_id.in_(their_clubs), upcoming, visible),
        ],
        limit,
    )
    # `limit` each is enough: at most len(first) of them are already in `first`.
    everyone = await _soonest(
        conn,
        [
            _select().where(events.c.state == "live", visible),
            _select().where(events.c.state == "scheduled", events.c.starts_at > now - grace_s, visible),
        ],
        limit,
    )
    seen = {e.id for e in first}
    return (first + [e for e in everyone if e.id not in seen])[:limit]


async def _soonest(conn: AsyncConnection, queries: Sequence[sa.Select[Any]], limit: int) -> list[Event]:
    """The first `limit` events of several queries together, soonest first, once each."""
    found: dict[str, Event] = {}
    for query in queries:
        for row in await conn.execute(query.order_by(events.c.starts_at, events.c.id).limit(limit)):
            found.setdefault(row.id, _event(row))
    return sorted(found.values(), key=lambda e: (e.starts_at, e.id))[:limit]


async def upcoming_of_club(
    conn: AsyncConnection, club_id: str, viewer_id: str, now: float, grace_s: float, limit: int
) -> list[Event]:
    """A club's upcoming events, soonest first; none whose host and the viewer are blocked
    either way."""
    query = (
        _select()
        .where(events.c.club_id == club_id, _upcoming(now, grace_s), ~_blocked_either_way(viewer_id, events.c.host_id))
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    return [_event(r) for r in await conn.execute(query)]


async def upcoming_of(conn: AsyncConnection, user_id: str, now: float, grace_s: float, limit: int) -> list[Event]:
    """Upcoming events a person hosts or co-hosts, soonest first."""
    cohosted = sa.select(event_cohosts.c.event_id).where(event_cohosts.c.user_id == user_id)
    query = (
        _select()
        .where(sa.or_(events.c.host_id == user_id, events.c.id.in_(cohosted)), _upcoming(now, grace_s))
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    return [_event(r) for r in await conn.execute(query)]


async def feed_of(conn: AsyncConnection, user_id: str, since: float, limit: int) -> list[Event]:
    """A person's calendar: events they host, co-host or asked to be told about, from `since`."""
    cohosted = sa.select(event_cohosts.c.event_id).where(event_cohosts.c.user_id == user_id)
    followed = sa.select(event_subscriptions.c.event_id).where(event_subscriptions.c.user_id == user_id)
    query = (
        _select()
        .where(
            sa.or_(events.c.host_id == user_id, events.c.id.in_(cohosted), events.c.id.in_(followed)),
            events.c.starts_at >= since,
        )
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    return [_event(r) for r in await conn.execute(query)]


async def hosted_by(conn: AsyncConnection, user_id: str) -> list[Event]:
    query = _select().where(events.c.host_id == user_id).order_by(events.c.starts_at)
    return [_event(r) for r in await conn.execute(query)]


async def needing_work(conn: AsyncConnection, now: float, lead_s: float, limit: int) -> list[Event]:
    """What the scheduler looks at: scheduled events within the lead time of their start
    (or past it: reminders, missed), and live ones (ended rooms)."""
    query = (
        _select()
        .where(
            sa.or_(
                sa.and_(events.c.state == "scheduled", events.c.starts_at <= now + lead_s),
                events.c.state == "live",
            )
        )
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    return [_event(r) for r in await conn.execute(query)]


# -- notify me ------------------------------------------------------------------------------


async def subscribe(conn: AsyncConnection, event_id: str, user_id: str, now: float) -> None:
    await conn.execute(insert_ignore(conn, event_subscriptions, event_id=event_id, user_id=user_id, created_at=now))


async def unsubscribe(conn: AsyncConnection, event_id: str, user_id: str) -> None:
    await conn.execute(
        event_subscriptions.delete().where(
            event_subscriptions.c.event_id == event_id, event_subscriptions.c.user_id == user_id
        )
    )


async def subscribed(conn: AsyncConnection, event_ids: Iterable[str], user_id: str) -> set[str]:
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    rows = await conn.execute(
        sa.select(event_subscriptions.c.event_id).where(
            event_subscriptions.c.user_id == user_id, event_subscriptions.c.event_id.in_(ids)
        )
    )
    return {row.event_id for row in rows}


async def subscriber_count(conn: AsyncConnection, event_id: str) -> int:
    query = (
        sa.select(sa.func.count()).select_from(event_subscriptions).where(event_subscriptions.c.event_id == event_id)
    )
    return int((await conn.execute(query)).scalar_one())


# -- telling the people who asked ------------------------------------------------------------


async def notify_subscribers(
    conn: AsyncConnection,
    *,
    event: Event,
    kind: str,
    now: float,
    room_id: str | None = None,
    only: Sequence[str] | None = None,
    text: str | None = None,
) -> list[tuple[int, str]]:
    """One notification about `event` to each person who asked to be told (or to those of
    them in `only`), except anyone blocked either way with its host. (id, recipient) pairs."""
    subscriber = event_subscriptions.c.user_id
    conditions: list[sa.ColumnElement[bool]] = [
        event_subscriptions.c.event_id == event.id,
        ~_blocked_either_way(subscriber, event.host.id),
    ]
    if only is not None:
        if not only:
            return []
        conditions.append(subscriber.in_(sorted(set(only))))
    source = sa.select(
        subscriber,
        sa.literal(kind, sa.String),
        sa.literal(event.host.id, sa.String),
        sa.literal(room_id, sa.String),
        sa.literal(now, sa.Float),
        sa.literal(text, sa.String),
        sa.literal(event.id, sa.String),
    ).where(*conditions)
    statement = (
        notifications.insert()
        .from_select(["user_id", "kind", "actor_id", "room_id", "created_at", "text", "event_id"], source)
        .returning(notifications.c.id, notifications.c.user_id)
    )
    return [(int(row.id), str(row.user_id)) for row in await conn.execute(statement)]


async def claim_reminders(conn: AsyncConnection, event_id: str, kind: str, now: float, late: bool) -> list[str]:
    """Claim one reminder of `kind` per person who asked (a row each; a row already there —
    sent before, by this node or one before a restart — is not claimed again). The ids claimed."""
    already = sa.exists().where(
        event_reminders.c.event_id == event_id,
        event_reminders.c.user_id == event_subscriptions.c.user_id,
        event_reminders.c.kind == kind,
    )
    candidates = [
        str(row.user_id)
        for row in await conn.execute(
            sa.select(event_subscriptions.c.user_id).where(event_subscriptions.c.event_id == event_id, ~already)
        )
    ]
    if not candidates:
        return []
    rows = [{"event_id": event_id, "user_id": u, "kind": kind, "sent_at": now, "late": late} for u in candidates]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = (
        dialect_insert(event_reminders).values(rows).on_conflict_do_nothing().returning(event_reminders.c.user_id)
    )
    return sorted(str(row.user_id) for row in await conn.execute(statement))


# -- calendar feeds ---------------------------------------------------------------------------


async def set_feed(conn: AsyncConnection, user_id: str, secret_hash: str, now: float) -> None:
    await conn.execute(calendar_feeds.delete().where(calendar_feeds.c.user_id == user_id))
    await conn.execute(calendar_feeds.insert().values(user_id=user_id, secret_hash=secret_hash, created_at=now))


async def drop_feed(conn: AsyncConnection, user_id: str) -> bool:
    statement = calendar_feeds.delete().where(calendar_feeds.c.user_id == user_id).returning(calendar_feeds.c.user_id)
    return (await conn.execute(statement)).first() is not None


async def feed(conn: AsyncConnection, user_id: str) -> float | None:
    """When the person's feed was made, or None without one."""
    row = (
        await conn.execute(sa.select(calendar_feeds.c.created_at).where(calendar_feeds.c.user_id == user_id))
    ).first()
    return None if row is None else float(row.created_at)


async def feed_owner(conn: AsyncConnection, secret_hash: str) -> Person | None:
    row = (
        await conn.execute(
            sa.select(users.c.id, users.c.username, users.c.display_name)
            .select_from(calendar_feeds.join(users, users.c.id == calendar_feeds.c.user_id))
            .where(calendar_feeds.c.secret_hash == secret_hash)
        )
    ).first()
    return Person(row.id, row.username, row.display_name) if row else None
