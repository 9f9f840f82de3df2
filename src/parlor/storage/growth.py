"""Queries for growth: the sign-up mode, invite quotas and lists, the waitlist.

An invite is "spent" while it exists unrevoked (unused, used, or the record of a
let-in), and a let-in is spent from the moment a waitlisted person is admitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import instance, invites, users, waitlist

MODE_KEY = "signup_mode"
# Each member's invite quota, when an admin set one (actions/instance_settings.py).
QUOTA_KEY = "invites_per_member"

# (created_at, id) of the last row of the previous page
After = tuple[float, str]


@dataclass(frozen=True)
class WaitlistEntry:
    id: str
    username: str
    display_name: str
    created_at: float
    admitted_by: str | None
    admitted_at: float | None
    via: str | None

    @property
    def admitted(self) -> bool:
        return self.admitted_at is not None


_ENTRY_COLUMNS = (
    waitlist.c.id,
    waitlist.c.username,
    waitlist.c.display_name,
    waitlist.c.created_at,
    waitlist.c.admitted_by,
    waitlist.c.admitted_at,
    waitlist.c.via,
)


def _entry(row: Any) -> WaitlistEntry:
    return WaitlistEntry(
        row.id, row.username, row.display_name, row.created_at, row.admitted_by, row.admitted_at, row.via
    )


# -- locks ------------------------------------------------------------------------------


async def lock_username(conn: AsyncConnection, username: str) -> None:
    """Serialize claims of one username across `users` and `waitlist` until the transaction ends.

    No constraint spans two tables. PostgreSQL: a transaction-scoped advisory lock
    on the name. SQLite: writers are serialized by the database lock, which callers
    take by writing before they check.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("username:" + username))))


async def lock_quota(conn: AsyncConnection, user_id: str) -> None:
    """Serialize spending one member's invites (PostgreSQL: their row; SQLite: write first)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True))


# -- sign-up mode -------------------------------------------------------------------------


async def signup_mode(conn: AsyncConnection) -> str | None:
    row = (await conn.execute(sa.select(instance.c.value).where(instance.c.key == MODE_KEY))).first()
    return row.value if row else None


async def invite_quota(conn: AsyncConnection) -> int | None:
    row = (await conn.execute(sa.select(instance.c.value).where(instance.c.key == QUOTA_KEY))).first()
    try:
        return int(row.value) if row else None
    except ValueError:
        return None


# -- invites ------------------------------------------------------------------------------


async def spent(conn: AsyncConnection, user_id: str) -> int:
    """Invites this member has spent: unrevoked invites plus pending let-ins."""
    row = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count())
                .where(invites.c.created_by == user_id, invites.c.revoked_at.is_(None))
                .scalar_subquery(),
                sa.select(sa.func.count()).where(waitlist.c.admitted_by == user_id).scalar_subquery(),
            )
        )
    ).one()
    return int(row[0]) + int(row[1])


async def invite_state(conn: AsyncConnection, code_hash: str) -> str | None:
    """ "ok", "used", "revoked", or None for no such invite."""
    row = (
        await conn.execute(sa.select(invites.c.used_by, invites.c.revoked_at).where(invites.c.code_hash == code_hash))
    ).first()
    if row is None:
        return None
    if row.revoked_at is not None:
        return "revoked"
    return "used" if row.used_by is not None else "ok"


async def invite_by_id(conn: AsyncConnection, invite_id: str) -> Any:
    """(id, created_by, used_by, revoked_at) or None."""
    return (
        await conn.execute(
            sa.select(invites.c.id, invites.c.created_by, invites.c.used_by, invites.c.revoked_at).where(
                invites.c.id == invite_id
            )
        )
    ).first()


async def revoke_invite(conn: AsyncConnection, invite_id: str, now: float) -> bool:
    """Revoke if still unused and unrevoked (one conditional UPDATE: a sign-up can't slip in)."""
    result = await conn.execute(
        invites.update()
        .where(invites.c.id == invite_id, invites.c.used_by.is_(None), invites.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


async def invites_page(conn: AsyncConnection, user_id: str, limit: int, after: After | None) -> list[Any]:
    """This member's invites, newest first, with who used each (id, username, display name)."""
    query = (
        sa.select(
            invites.c.id,
            invites.c.created_at,
            invites.c.used_at,
            invites.c.revoked_at,
            invites.c.via,
            users.c.id.label("user_id"),
            users.c.username,
            users.c.display_name,
        )
        .select_from(invites.outerjoin(users, users.c.id == invites.c.used_by))
        .where(invites.c.created_by == user_id)
        .order_by(invites.c.created_at.desc(), invites.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        at, last_id = after
        query = query.where(
            sa.or_(invites.c.created_at < at, sa.and_(invites.c.created_at == at, invites.c.id < last_id))
        )
    return list(await conn.execute(query))


async def nominator(conn: AsyncConnection, user_id: str) -> Any:
    """(id, username, display_name) of who invited or let this member in, or None."""
    inviter = users.alias("inviter")
    return (
        await conn.execute(
            sa.select(inviter.c.id, inviter.c.username, inviter.c.display_name)
            .select_from(users.join(inviter, inviter.c.id == users.c.invited_by))
            .where(users.c.id == user_id)
        )
    ).first()


# -- waitlist -------------------------------------------------------------------------------


async def username_waiting(conn: AsyncConnection, username: str) -> bool:
    row = await conn.execute(sa.select(waitlist.c.id).where(waitlist.c.username == username))
    return row.first() is not None


async def insert_entry(
    conn: AsyncConnection, *, entry_id: str, username: str, display_name: str, token_hash: str, now: float
) -> WaitlistEntry:
    await conn.execute(
        waitlist.insert().values(
            id=entry_id, username=username, display_name=display_name, token_hash=token_hash, created_at=now
        )
    )
    return WaitlistEntry(entry_id, username, display_name, now, None, None, None)


async def entry_by_token(conn: AsyncConnection, token_hash: str) -> WaitlistEntry | None:
    row = (await conn.execute(sa.select(*_ENTRY_COLUMNS).where(waitlist.c.token_hash == token_hash))).first()
    return _entry(row) if row else None


async def entry_by_id(conn: AsyncConnection, entry_id: str) -> WaitlistEntry | None:
    row = (await conn.execute(sa.select(*_ENTRY_COLUMNS).where(waitlist.c.id == entry_id))).first()
    return _entry(row) if row else None


async def entry_by_username(conn: AsyncConnection, username: str) -> WaitlistEntry | None:
    row = (await conn.execute(sa.select(*_ENTRY_COLUMNS).where(waitlist.c.username == username))).first()
    return _entry(row) if row else None


async def admit(conn: AsyncConnection, entry_id: str, admitted_by: str | None, via: str, now: float) -> bool:
    """Mark admitted if still waiting (one conditional UPDATE: two let-ins can't both spend)."""
    result = await conn.execute(
        waitlist.update()
        .where(waitlist.c.id == entry_id, waitlist.c.admitted_at.is_(None))
        .values(admitted_by=admitted_by, admitted_at=now, via=via)
    )
    return result.rowcount == 1


async def delete_entry(conn: AsyncConnection, entry_id: str) -> bool:
    result = await conn.execute(waitlist.delete().where(waitlist.c.id == entry_id))
    return result.rowcount == 1


async def waitlist_page(conn: AsyncConnection, limit: int, after: After | None) -> list[WaitlistEntry]:
    """Everyone on the waitlist, oldest first."""
    query = sa.select(*_ENTRY_COLUMNS).order_by(waitlist.c.created_at, waitlist.c.id).limit(limit)
    if after is not None:
        at, last_id = after
        query = query.where(
            sa.or_(waitlist.c.created_at > at, sa.and_(waitlist.c.created_at == at, waitlist.c.id > last_id))
        )
    return [_entry(row) for row in await conn.execute(query)]
