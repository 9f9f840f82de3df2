"""Queries for contact matching: the contact key and findable identifiers (keyed hashes).

An owner is a member (`("user", id)`) or a waitlisted person (`("waitlist", id)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.db import insert_ignore
from parlor.storage.tables import contact_identifiers as ids
from parlor.storage.tables import instance, users, waitlist

KEY_FACT = "contact_key"
# Ranges OR-ed in one statement: both back ends turn it into index range scans.
_RANGES_PER_STATEMENT = 200

Owner = tuple[str, str]


@dataclass(frozen=True)
class Candidate:
    """A findable identifier in a bucket, with its owner (a member or a waiting person)."""

    hash: str
    bucket: int
    user_id: str | None  # a member, or
    waitlist_id: str | None  # a waiting person
    username: str | None  # members only
    display_name: str


def _owner_column(owner: Owner) -> sa.Column[Any]:
    return ids.c.user_id if owner[0] == "user" else ids.c.waitlist_id


async def contact_key(conn: AsyncConnection, fresh: str) -> str:
    """The instance's contact key (hex), made from `fresh` the first time (race-free)."""
    await conn.execute(insert_ignore(conn, instance, key=KEY_FACT, value=fresh))
    return str((await conn.execute(sa.select(instance.c.value).where(instance.c.key == KEY_FACT))).scalar_one())


async def count_all(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(ids))).scalar_one())


async def count_for(conn: AsyncConnection, owner: Owner) -> int:
    query = sa.select(sa.func.count()).select_from(ids).where(_owner_column(owner) == owner[1])
    return int((await conn.execute(query)).scalar_one())


async def add(
    conn: AsyncConnection, *, identifier_id: str, owner: Owner, kind: str, hash_hex: str, now: float
) -> dict[str, Any]:
    """Add (idempotent per owner and hash); answers the stored row, new or existing."""
    column = "user_id" if owner[0] == "user" else "waitlist_id"
    await conn.execute(
        insert_ignore(
            conn,
            ids,
            id=identifier_id,
            kind=kind,
            hash=hash_hex,
            bucket=int(hash_hex[:8], 16),
            created_at=now,
            **{column: owner[1]},
        )
    )
    row = (
        await conn.execute(
            sa.select(ids.c.id, ids.c.kind, ids.c.created_at).where(
                _owner_column(owner) == owner[1], ids.c.hash == hash_hex
            )
        )
    ).one()
    return _listed(row)


def _listed(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "added_at": float(row.created_at)}


async def list_for(conn: AsyncConnection, owner: Owner) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(ids.c.id, ids.c.kind, ids.c.created_at)
        .where(_owner_column(owner) == owner[1])
        .order_by(ids.c.created_at, ids.c.id)
    )
    return [_listed(row) for row in rows]


async def remove(conn: AsyncConnection, owner: Owner, identifier_id: str) -> bool:
    """Delete one of the owner's identifiers (someone else's is left alone)."""
    result = await conn.execute(ids.delete().where(ids.c.id == identifier_id, _owner_column(owner) == owner[1]))
    return result.rowcount == 1


async def in_buckets(conn: AsyncConnection, ranges: list[tuple[int, int]]) -> list[Candidate]:
    """Findable identifiers whose `bucket` lies in one of the half-open ranges, with owners.

    Waitlisted people already let in (waiting to finish sign-up) are left out.
    """
    found: list[Candidate] = []
    for start in range(0, len(ranges), _RANGES_PER_STATEMENT):
        chunk = ranges[start : start + _RANGES_PER_STATEMENT]
        query = (
            sa.select(
                ids.c.hash,
                ids.c.bucket,
                ids.c.user_id,
                ids.c.waitlist_id,
                users.c.username,
                sa.func.coalesce(users.c.display_name, waitlist.c.display_name).label("display_name"),
            )
            .select_from(
                ids.outerjoin(users, users.c.id == ids.c.user_id).outerjoin(
                    waitlist, waitlist.c.id == ids.c.waitlist_id
                )
            )
            .where(sa.or_(*(sa.and_(ids.c.bucket >= lo, ids.c.bucket < hi) for lo, hi in chunk)))
            .where(sa.or_(ids.c.user_id.is_not(None), waitlist.c.admitted_at.is_(None)))
        )
        found += [
            Candidate(row.hash, int(row.bucket), row.user_id, row.waitlist_id, row.username, row.display_name)
            for row in await conn.execute(query)
        ]
    return found


async def take_from_waitlist(conn: AsyncConnection, waitlist_id: str) -> list[dict[str, Any]]:
    """A waiting person's findable identifiers, as rows to hand to `give_to_member` once
    they are a member (deleting their waitlist entry deletes these rows with it)."""
    rows = (await conn.execute(sa.select(ids).where(ids.c.waitlist_id == waitlist_id))).mappings().all()
    return [dict(row) for row in rows]


async def give_to_member(conn: AsyncConnection, rows: list[dict[str, Any]], user_id: str) -> None:
    """What someone opted in to be found by on the waitlist stays theirs as a member."""
    if rows:
        await conn.execute(sa.insert(ids), [{**row, "user_id": user_id, "waitlist_id": None} for row in rows])
