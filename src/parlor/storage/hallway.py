"""Graph reads for the hallway and for room rules that depend on follows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import follows, room_blocks, user_blocks

_GRAPH = sa.union_all(
    sa.select(follows.c.followee_id.label("other"), sa.literal("follows").label("how")).where(
        follows.c.follower_id == sa.bindparam("viewer")
    ),
    sa.select(user_blocks.c.blocked_id.label("other"), sa.literal("blocks").label("how")).where(
        user_blocks.c.blocker_id == sa.bindparam("viewer")
    ),
    sa.select(user_blocks.c.blocker_id.label("other"), sa.literal("blocks").label("how")).where(
        user_blocks.c.blocked_id == sa.bindparam("viewer")
    ),
    # Moderators who keep the viewer out of their rooms (removed with a block).
    sa.select(room_blocks.c.moderator_id.label("other"), sa.literal("blocks").label("how")).where(
        room_blocks.c.blocked_id == sa.bindparam("viewer")
    ),
)


async def viewer_graph(conn: AsyncConnection, viewer_id: str) -> tuple[set[str], set[str]]:
    """In one round trip: everyone the viewer follows, and everyone blocked either way
    with them or keeping them out of their rooms (`room_blocks`)."""
    followed: set[str] = set()
    blocked: set[str] = set()
    for row in await conn.execute(_GRAPH, {"viewer": viewer_id}):
        (followed if row.how == "follows" else blocked).add(row.other)
    return followed, blocked


async def followed_by_any(conn: AsyncConnection, user_id: str, others: list[str]) -> bool:
    """Does any of `others` follow `user_id`?"""
    if not others:
        return False
    row = await conn.execute(
        sa.select(follows.c.follower_id)
        .where(follows.c.followee_id == user_id, follows.c.follower_id.in_(sorted(set(others))))
        .limit(1)
    )
    return row.first() is not None


async def followers_among(conn: AsyncConnection, user_id: str, others: set[str]) -> set[str]:
    """Which of `others` follow `user_id` (one index range per candidate)."""
    if not others:
        return set()
    rows = await conn.execute(
        sa.select(follows.c.follower_id).where(
            follows.c.followee_id == user_id, follows.c.follower_id.in_(sorted(others))
        )
    )
    return {row.follower_id for row in rows}
