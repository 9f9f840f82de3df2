"""Queries for follows, user blocks and people search.

Lists are keyset-paged newest first on (created_at, user id), which the follows
indexes serve in order. Prefix search is an index range [q, successor(q)) on
`username` and on `lower(display_name)`, in code point order (`db.byte_order`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.domain.users import User
from parlor.storage.db import byte_order, insert_ignore
from parlor.storage.tables import avatars, follows, user_blocks, users

_USER_COLUMNS = (users.c.id, users.c.username, users.c.display_name, users.c.is_admin, users.c.created_at)

# (created_at, user id) of the last row of the previous page
After = tuple[float, str]
# A person in a list: (user, when that follow was made, their avatar's sha256 or None)
Listed = tuple[User, float, str | None]


def _avatar_of(user_id: Any) -> sa.ScalarSelect[Any]:
    """The sha256 of the user's avatar (NULL when none), read in the same statement."""
    return sa.select(avatars.c.sha256).where(avatars.c.user_id == user_id).scalar_subquery()


def _user(row: Any) -> User:
    return User(row.id, row.username, row.display_name, bool(row.is_admin), row.created_at)


def successor(prefix: str) -> str:
    """The least string greater than every string starting with `prefix` (code point order)."""
    trimmed = prefix.rstrip(chr(0x10FFFF))
    if not trimmed:
        return chr(0x10FFFF) * (len(prefix) + 1)
    return trimmed[:-1] + chr(ord(trimmed[-1]) + 1)


async def user_by_username(conn: AsyncConnection, username: str) -> User | None:
    row = (await conn.execute(sa.select(*_USER_COLUMNS).where(users.c.username == username))).first()
    return _user(row) if row else None


# -- writes ---------------------------------------------------------------------------------


async def lock_pair(conn: AsyncConnection, a: str, b: str) -> None:
    """Serialize follow/block changes between two people until the transaction ends.

    PostgreSQL: row locks on both users (NO KEY UPDATE, so foreign key checks of
    other writes don't wait). SQLite: writers are serialized by the database lock,
    which callers take by writing before they check.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.select(users.c.id).where(users.c.id.in_([a, b])).order_by(users.c.id).with_for_update(key_share=True)
        )


async def follow(conn: AsyncConnection, follower_id: str, followee_id: str, now: float) -> bool:
    """True if this made a new follow."""
    result = await conn.execute(
        insert_ignore(conn, follows, follower_id=follower_id, followee_id=followee_id, created_at=now)
    )
    return result.rowcount == 1


async def unfollow(conn: AsyncConnection, follower_id: str, followee_id: str) -> bool:
    result = await conn.execute(
        follows.delete().where(follows.c.follower_id == follower_id, follows.c.followee_id == followee_id)
    )
    return result.rowcount == 1


async def block(conn: AsyncConnection, blocker_id: str, blocked_id: str, now: float) -> bool:
    """Block, and remove follows both ways. True if this made a new block."""
    result = await conn.execute(
        insert_ignore(conn, user_blocks, blocker_id=blocker_id, blocked_id=blocked_id, created_at=now)
    )
    await conn.execute(
        follows.delete().where(
            sa.or_(
                sa.and_(follows.c.follower_id == blocker_id, follows.c.followee_id == blocked_id),
                sa.and_(follows.c.follower_id == blocked_id, follows.c.followee_id == blocker_id),
            )
        )
    )
    return result.rowcount == 1


async def unblock(conn: AsyncConnection, blocker_id: str, blocked_id: str) -> bool:
    result = await conn.execute(
        user_blocks.delete().where(user_blocks.c.blocker_id == blocker_id, user_blocks.c.blocked_id == blocked_id)
    )
    return result.rowcount == 1


# -- relations --------------------------------------------------------------------------------


def _follows(a: Any, b: Any) -> sa.Exists:
    return sa.exists().where(follows.c.follower_id == a, follows.c.followee_id == b)


def _blocks(a: Any, b: Any) -> sa.Exists:
    return sa.exists().where(user_blocks.c.blocker_id == a, user_blocks.c.blocked_id == b)


def _not_blocked_with(viewer_id: Any, other: Any) -> sa.ColumnElement[bool]:
    """Neither has blocked the other."""
    return sa.and_(~_blocks(viewer_id, other), ~_blocks(other, viewer_id))


async def relation(conn: AsyncConnection, viewer_id: str, other_id: str) -> dict[str, bool]:
    """How the viewer and another user stand: follows and blocks, both ways."""
    row = (
        await conn.execute(
            sa.select(
                _follows(viewer_id, other_id).label("followed_by_you"),
                _follows(other_id, viewer_id).label("follows_you"),
                _blocks(viewer_id, other_id).label("blocked_by_you"),
                _blocks(other_id, viewer_id).label("blocks_you"),
            )
        )
    ).one()
    return {key: bool(value) for key, value in row._mapping.items()}


async def counts(conn: AsyncConnection, user_id: str) -> tuple[int, int]:
    """(followers, following)."""
    row = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count()).where(follows.c.followee_id == user_id).scalar_subquery(),
                sa.select(sa.func.count()).where(follows.c.follower_id == user_id).scalar_subquery(),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def blocked_either_way(conn: AsyncConnection, user_id: str, others: list[str]) -> bool:
    """Has the user blocked, or been blocked by, any of `others`?"""
    if not others:
        return False
    row = await conn.execute(
        sa.select(user_blocks.c.blocker_id)
        .where(
            sa.or_(
                sa.and_(user_blocks.c.blocker_id == user_id, user_blocks.c.blocked_id.in_(others)),
                sa.and_(user_blocks.c.blocked_id == user_id, user_blocks.c.blocker_id.in_(others)),
            )
        )
        .limit(1)
    )
    return row.first() is not None


async def block_set(conn: AsyncConnection, user_id: str) -> set[str]:
    """Everyone the user blocked or was blocked by."""
    rows = await conn.execute(
        sa.union(
            sa.select(user_blocks.c.blocked_id.label("other")).where(user_blocks.c.blocker_id == user_id),
            sa.select(user_blocks.c.blocker_id.label("other")).where(user_blocks.c.blocked_id == user_id),
        )
    )
    return {row.other for row in rows}


async def followed_among(conn: AsyncConnection, viewer_id: str, user_ids: list[str]) -> set[str]:
    """Which of `user_ids` the viewer follows."""
    if not user_ids:
        return set()
    rows = await conn.execute(
        sa.select(follows.c.followee_id).where(
            follows.c.follower_id == viewer_id, follows.c.followee_id.in_(sorted(set(user_ids)))
        )
    )
    return {row.followee_id for row in rows}


_AMONG = sa.union_all(
    sa.select(follows.c.followee_id.label("other"), sa.literal("follows").label("how")).where(
        follows.c.follower_id == sa.bindparam("viewer"),
        follows.c.followee_id.in_(sa.bindparam("ids", expanding=True)),
    ),
    sa.select(user_blocks.c.blocked_id.label("other"), sa.literal("blocks").label("how")).where(
        user_blocks.c.blocker_id == sa.bindparam("viewer")
    ),
    sa.select(user_blocks.c.blocker_id.label("other"), sa.literal("blocks").label("how")).where(
        user_blocks.c.blocked_id == sa.bindparam("viewer")
    ),
)


async def relations_among(conn: AsyncConnection, viewer_id: str, user_ids: list[str]) -> tuple[set[str], set[str]]:
    """In one round trip: which of `user_ids` the viewer follows, and everyone blocked either way."""
    followed: set[str] = set()
    blocked: set[str] = set()
    rows = await conn.execute(_AMONG, {"viewer": viewer_id, "ids": sorted(set(user_ids)) or [""]})
    for row in rows:
        (followed if row.how == "follows" else blocked).add(row.other)
    return followed, blocked


# -- lists -----------------------------------------------------------------------------------


async def _page(
    conn: AsyncConnection, *, owner: Any, other: Any, owner_id: str, viewer_id: str, limit: int, after: After | None
) -> list[Listed]:
    query = (
        sa.select(*_USER_COLUMNS, follows.c.created_at.label("since"), _avatar_of(other).label("avatar"))
        .select_from(follows.join(users, users.c.id == other))
        .where(owner == owner_id, _not_blocked_with(viewer_id, other))
        .order_by(follows.c.created_at.desc(), other.desc())
        .limit(limit)
    )
    if after is not None:
        at, last_id = after
        query = query.where(sa.or_(follows.c.created_at < at, sa.and_(follows.c.created_at == at, other < last_id)))
    return [(_user(row), float(row.since), row.avatar) for row in await conn.execute(query)]


async def followers_page(
    conn: AsyncConnection, user_id: str, viewer_id: str, limit: int, after: After | None
) -> list[Listed]:
    """Who follows `user_id`, newest first, leaving out anyone blocked with the viewer."""
    return await _page(
        conn,
        owner=follows.c.followee_id,
        other=follows.c.follower_id,
        owner_id=user_id,
        viewer_id=viewer_id,
        limit=limit,
        after=after,
    )


async def following_page(
    conn: AsyncConnection, user_id: str, viewer_id: str, limit: int, after: After | None
) -> list[Listed]:
    """Whom `user_id` follows, newest first, leaving out anyone blocked with the viewer."""
    return await _page(
        conn,
        owner=follows.c.follower_id,
        other=follows.c.followee_id,
        owner_id=user_id,
        viewer_id=viewer_id,
        limit=limit,
        after=after,
    )


# -- search -----------------------------------------------------------------------------------


_search_statements: dict[str, sa.Select[Any]] = {}


def _search_statement(conn: AsyncConnection) -> sa.Select[Any]:
    """Built once per dialect (building it costs more than running it); parameters bound per call."""
    statement = _search_statements.get(conn.dialect.name)
    if statement is not None:
        return statement
    viewer = sa.bindparam("viewer", type_=sa.String)
    username = byte_order(conn, users.c.username)
    display = byte_order(conn, sa.func.lower(users.c.display_name))
    by_username = sa.and_(
        username >= sa.bindparam("u_lo", type_=sa.String), username < sa.bindparam("u_hi", type_=sa.String)
    )
    by_name = sa.and_(display >= sa.bindparam("n_lo", type_=sa.String), display < sa.bindparam("n_hi", type_=sa.String))
    visible = sa.and_(users.c.id != viewer, _not_blocked_with(viewer, users.c.id))
    limit, more = sa.bindparam("limit", type_=sa.Integer), sa.bindparam("more", type_=sa.Integer)

    def group(rank: int, first: sa.ColumnElement[str]) -> sa.Select[Any]:
        return sa.select(*_USER_COLUMNS, sa.literal(rank).label("grp"), first.label("k1"), username.label("k2"))

    groups = [
        group(0, username)
        .select_from(follows.join(users, users.c.id == follows.c.followee_id))
        .where(follows.c.follower_id == viewer, sa.or_(by_username, by_name), visible)
        .order_by(username)
        .limit(limit),
        group(1, username).where(by_username, visible).order_by(username).limit(more),
        group(2, display).where(by_name, visible).order_by(display, username).limit(more),
    ]
    merged = sa.union_all(*(sa.select(g.subquery()) for g in groups)).subquery()
    statement = sa.select(merged, _avatar_of(merged.c.id).label("avatar")).order_by(
        merged.c.grp, merged.c.k1, merged.c.k2
    )
    _search_statements[conn.dialect.name] = statement
    return statement


async def search_people(
    conn: AsyncConnection, viewer_id: str, username_prefix: str, name_prefix: str, limit: int
) -> list[tuple[User, bool, str | None]]:
    """People matching a prefix of their username or (lower-cased) display name.

    Ranked: people the viewer follows (by username), then username matches (an
    exact match first), then display-name matches (by name). Never the viewer,
    never anyone blocked either way. Returns (user, followed by the viewer, avatar sha256 or None).

    One statement (one round trip): three groups, each an index range read in
    order and cut at its limit — the viewer's follows (few) filtered by prefix,
    the username range, the display-name range — merged and de-duplicated here.
    The later groups are over-fetched by the most the first can take, so that
    dropping duplicates still leaves enough.
    """
    rows = await conn.execute(
        _search_statement(conn),
        {
            "viewer": viewer_id,
            "u_lo": username_prefix,
            "u_hi": successor(username_prefix),
            "n_lo": name_prefix,
            "n_hi": successor(name_prefix),
            "limit": limit,
            "more": 2 * limit,
        },
    )
    found: dict[str, tuple[User, bool, str | None]] = {}
    for row in rows:
        if len(found) >= limit:
            break
        if row.id not in found:
            found[row.id] = (_user(row), row.grp == 0, row.avatar)
    return list(found.values())
