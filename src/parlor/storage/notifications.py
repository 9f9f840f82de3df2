"""Queries for the inbox (notifications) and per-kind mutes.

Writes are INSERT … SELECT … WHERE with the rules in the WHERE (the kind is not
muted, nobody is blocked either way), so a rule and the write it guards are one
statement: no window between checking and writing, one round trip, and the
fan-out to every follower of someone is a single statement however many there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.db import insert_ignore
from parlor.storage.tables import (
    clubs,
    event_subscriptions,
    events,
    follows,
    notification_mutes,
    notifications,
    reports,
    rooms,
    user_blocks,
    users,
)


@dataclass(frozen=True)
class Row:
    """A stored notification with what the inbox shows of its actor and room."""

    id: int
    kind: str
    created_at: float
    read_at: float | None
    actor_id: str | None
    actor_username: str | None
    actor_display_name: str | None
    room_id: str | None
    room_title: str | None
    # `report_handled`: the reporter's own report (None once it is gone)
    report_id: str | None = None
    report_target_kind: str | None = None
    report_target_label: str | None = None
    report_reason: str | None = None
    report_outcome: str | None = None
    # what an admin wrote (kind "warned"), else None
    text: str | None = None
    # `event_*` kinds: the event (None for other kinds)
    event_id: str | None = None
    event_title: str | None = None
    event_starts_at: float | None = None
    event_state: str | None = None
    # `club_invite`: the club (None for other kinds, and gone with the club)
    club_id: str | None = None
    club_name: str | None = None


def _blocked_either_way(a: Any, b: Any) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        sa.or_(
            sa.and_(user_blocks.c.blocker_id == a, user_blocks.c.blocked_id == b),
            sa.and_(user_blocks.c.blocker_id == b, user_blocks.c.blocked_id == a),
        )
    )


def _muted(user: Any, kind: Any) -> sa.Exists:
    return sa.exists().where(notification_mutes.c.user_id == user, notification_mutes.c.kind == kind)


def _visible(user_id: str) -> sa.ColumnElement[bool]:
    """Notifications about someone blocked either way (since) are not shown."""
    return sa.or_(notifications.c.actor_id.is_(None), ~_blocked_either_way(user_id, notifications.c.actor_id))


# -- writes ------------------------------------------------------------------------------


async def insert(
    conn: AsyncConnection,
    *,
    user_id: str,
    kind: str,
    actor_id: str | None,
    room_id: str | None,
    now: float,
    once_unread: bool = False,
    report_id: str | None = None,
    text: str | None = None,
    event_id: str | None = None,
    club_id: str | None = None,
) -> int | None:
    """Store one notification unless the kind is muted or the actor is blocked either way.

    `once_unread`: not if an unread one of this kind from this actor is already there
    (following, unfollowing and following again makes one "new follower", not many).
    Returns its id, or None when nothing was stored.
    """
    conditions: list[sa.ColumnElement[bool]] = [~_muted(user_id, kind)]
    if actor_id is not None:
        conditions.append(~_blocked_either_way(user_id, actor_id))
        if once_unread:
            conditions.append(
                ~sa.exists().where(
                    notifications.c.user_id == user_id,
                    notifications.c.kind == kind,
                    notifications.c.actor_id == actor_id,
                    notifications.c.read_at.is_(None),
                )
            )
    source = sa.select(
        sa.literal(user_id, sa.String),
        sa.literal(kind, sa.String),
        sa.literal(actor_id, sa.String),
        sa.literal(room_id, sa.String),
        sa.literal(now, sa.Float),
        sa.literal(report_id, sa.String),
        sa.literal(text, sa.String),
        sa.literal(event_id, sa.String),
        sa.literal(club_id, sa.String),
    ).where(*conditions)
    columns = ["user_id", "kind", "actor_id", "room_id", "created_at", "report_id", "text", "event_id", "club_id"]
    statement = (
        notifications.insert()
        .from_select(columns, source)
        .returning(notifications.c.id)
    )
    row = (await conn.execute(statement)).first()
    return int(row.id) if row else None


async def insert_for_followers(
    conn: AsyncConnection,
    *,
    followee_id: str,
    kind: str,
    room_id: str | None,
    now: float,
    followed_back: bool = False,
    except_event: str | None = None,
) -> list[tuple[int, str]]:
    """One notification about `followee_id` to each of their followers who has not muted
    the kind (nor is blocked either way); with `followed_back`, only to followers whom
    `followee_id` follows too. Returns (notification id, recipient) pairs."""
    follower = follows.c.follower_id
    back = follows.alias("back")
    followed_back_clause = sa.exists().where(back.c.follower_id == followee_id, back.c.followee_id == follower)
    source = sa.select(
        follower,
        sa.literal(kind, sa.String),
        sa.literal(followee_id, sa.String),
        sa.literal(room_id, sa.String),
        sa.literal(now, sa.Float),
    ).where(
        follows.c.followee_id == followee_id,
        ~_muted(follower, kind),
        ~_blocked_either_way(follower, followee_id),
        followed_back_clause if followed_back else sa.true(),
        sa.true()
        if except_event is None
        else ~sa.exists().where(
            event_subscriptions.c.event_id == except_event, event_subscriptions.c.user_id == follower
        ),
    )
    statement = (
        notifications.insert()
        .from_select(["user_id", "kind", "actor_id", "room_id", "created_at"], source)
        .returning(notifications.c.id, notifications.c.user_id)
    )
    return [(int(row.id), str(row.user_id)) for row in await conn.execute(statement)]


async def mark_read(conn: AsyncConnection, user_id: str, notification_id: int, now: float) -> bool:
    """Mark one of the user's notifications read (idempotent). False if it is not theirs."""
    found = await conn.execute(
        sa.select(notifications.c.read_at).where(
            notifications.c.id == notification_id, notifications.c.user_id == user_id, _visible(user_id)
        )
    )
    row = found.first()
    if row is None:
        return False
    if row.read_at is None:
        await conn.execute(
            notifications.update()
            .where(notifications.c.id == notification_id, notifications.c.user_id == user_id)
            .values(read_at=now)
        )
    return True


async def mark_all_read(conn: AsyncConnection, user_id: str, up_to: int | None, now: float) -> None:
    """Mark every unread notification read; with `up_to`, only those with id ≤ it (what was shown)."""
    statement = notifications.update().where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if up_to is not None:
        statement = statement.where(notifications.c.id <= up_to)
    await conn.execute(statement.values(read_at=now))


async def muted_kinds(conn: AsyncConnection, user_id: str) -> set[str]:
    rows = await conn.execute(sa.select(notification_mutes.c.kind).where(notification_mutes.c.user_id == user_id))
    return {row.kind for row in rows}


async def set_muted(conn: AsyncConnection, user_id: str, kind: str, muted: bool) -> None:
    if muted:
        await conn.execute(insert_ignore(conn, notification_mutes, user_id=user_id, kind=kind))
    else:
        mine = notification_mutes.c.user_id == user_id
        await conn.execute(notification_mutes.delete().where(mine, notification_mutes.c.kind == kind))


# -- reads ---------------------------------------------------------------------------------


def _rows_query(user_id: str) -> sa.Select[Any]:
    actor = users.alias("actor")
    return (
        sa.select(
            notifications.c.id,
            notifications.c.kind,
            notifications.c.created_at,
            notifications.c.read_at,
            notifications.c.actor_id,
            actor.c.username.label("actor_username"),
            actor.c.display_name.label("actor_display_name"),
            notifications.c.room_id,
            rooms.c.title.label("room_title"),
            notifications.c.report_id,
            reports.c.target_kind.label("report_target_kind"),
            reports.c.target_label.label("report_target_label"),
            reports.c.reason.label("report_reason"),
            reports.c.outcome.label("report_outcome"),
            notifications.c.text,
            notifications.c.event_id,
            events.c.title.label("event_title"),
            events.c.starts_at.label("event_starts_at"),
            events.c.state.label("event_state"),
            notifications.c.club_id,
            clubs.c.name.label("club_name"),
        )
        .select_from(
            notifications.outerjoin(actor, actor.c.id == notifications.c.actor_id)
            .outerjoin(rooms, rooms.c.id == notifications.c.room_id)
            .outerjoin(reports, reports.c.id == notifications.c.report_id)
            .outerjoin(events, events.c.id == notifications.c.event_id)
            .outerjoin(clubs, clubs.c.id == notifications.c.club_id)
        )
        .where(notifications.c.user_id == user_id, _visible(user_id))
    )


def _row(row: Any) -> Row:
    return Row(
        id=int(row.id),
        kind=row.kind,
        created_at=float(row.created_at),
        read_at=None if row.read_at is None else float(row.read_at),
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        actor_display_name=row.actor_display_name,
        room_id=row.room_id,
        room_title=row.room_title,
        report_id=row.report_id,
        report_target_kind=row.report_target_kind,
        report_target_label=row.report_target_label,
        report_reason=row.report_reason,
        report_outcome=row.report_outcome,
        text=row.text,
        event_id=row.event_id,
        event_title=row.event_title,
        event_starts_at=None if row.event_starts_at is None else float(row.event_starts_at),
        event_state=row.event_state,
        club_id=row.club_id,
        club_name=row.club_name,
    )


async def page(conn: AsyncConnection, user_id: str, limit: int, before: int | None) -> list[Row]:
    """The user's notifications, newest first; `before`: ids below it (the next page)."""
    query = _rows_query(user_id).order_by(notifications.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(notifications.c.id < before)
    return [_row(row) for row in await conn.execute(query)]


async def get(conn: AsyncConnection, user_id: str, notification_id: int) -> Row | None:
    row = (await conn.execute(_rows_query(user_id).where(notifications.c.id == notification_id))).first()
    return _row(row) if row else None


async def unread_count(conn: AsyncConnection, user_id: str) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(notifications)
        .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None), _visible(user_id))
    )
    return int((await conn.execute(query)).scalar_one())
