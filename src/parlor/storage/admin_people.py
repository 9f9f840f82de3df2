"""Queries for the admins' people pages: search everyone, rooms someone hosted.

Unlike members' search (storage/social.py) nobody is left out: no block hides anyone
from admins. The same prefix indexes serve it (migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.db import byte_order
from parlor.storage.sanctions import RESTRICTING
from parlor.storage.social import successor
from parlor.storage.tables import avatars, rooms, sanctions, users


@dataclass(frozen=True)
class Found:
    id: str
    username: str
    display_name: str
    is_admin: bool
    created_at: float
    avatar_sha256: str | None
    # "ban" | "suspend" | None: what is in force now
    restricted: str | None


def _restricted(now: float) -> sa.ScalarSelect[Any]:
    # "ban" sorts before "suspend": a ban wins when both are somehow in force.
    return (
        sa.select(sanctions.c.kind)
        .where(
            sanctions.c.user_id == users.c.id,
            sanctions.c.kind.in_(RESTRICTING),
            sanctions.c.ended_at.is_(None),
            sa.or_(sanctions.c.until.is_(None), sanctions.c.until > now),
        )
        .order_by(sanctions.c.kind)
        .limit(1)
        .scalar_subquery()
    )


def _columns(now: float) -> tuple[Any, ...]:
    avatar = sa.select(avatars.c.sha256).where(avatars.c.user_id == users.c.id).scalar_subquery()
    return (
        users.c.id,
        users.c.username,
        users.c.display_name,
        users.c.is_admin,
        users.c.created_at,
        avatar.label("avatar"),
        _restricted(now).label("restricted"),
    )


def _found(row: Any) -> Found:
    return Found(
        row.id,
        row.username,
        row.display_name,
        bool(row.is_admin),
        float(row.created_at),
        row.avatar,
        row.restricted,
    )


async def search(conn: AsyncConnection, prefix: str, limit: int, now: float) -> list[Found]:
    """People whose username or lower-cased display name starts with `prefix`, username
    matches first; an empty prefix lists the newest members."""
    if not prefix:
        query = sa.select(*_columns(now)).order_by(users.c.created_at.desc(), users.c.id.desc()).limit(limit)
        return [_found(row) for row in await conn.execute(query)]
    username = byte_order(conn, users.c.username)
    display = byte_order(conn, sa.func.lower(users.c.display_name))
    high = successor(prefix)
    by_username = sa.select(*_columns(now)).where(username >= prefix, username < high).order_by(username).limit(limit)
    by_name = (
        sa.select(*_columns(now)).where(display >= prefix, display < high).order_by(display, username).limit(limit)
    )
    found: dict[str, Found] = {}
    for query in (by_username, by_name):
        for row in await conn.execute(query):
            found.setdefault(row.id, _found(row))
    return list(found.values())[:limit]


async def rooms_hosted(conn: AsyncConnection, user_id: str, limit: int) -> tuple[list[Any], int]:
    """Rooms the person started, newest first (id, title, created_at, ended_at), and how many in all."""
    mine = rooms.c.created_by == user_id
    rows = await conn.execute(
        sa.select(rooms.c.id, rooms.c.title, rooms.c.created_at, rooms.c.ended_at)
        .where(mine)
        .order_by(rooms.c.created_at.desc(), rooms.c.id.desc())
        .limit(limit)
    )
    listed = list(rows)
    total = int((await conn.execute(sa.select(sa.func.count()).select_from(rooms).where(mine))).scalar_one())
    return listed, total
