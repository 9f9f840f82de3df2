"""Queries for clubs: the club, its people and roles, what waits (requests, nominations,
invitations), its avatar."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.domain.clubs import ClubRole, Mode, Pending, Standing
from parlor.storage.tables import club_avatars, club_members, club_requests, clubs, events, rooms, users


@dataclass(frozen=True)
class Club:
    id: str
    name: str
    description: str
    rules: str
    topics: tuple[str, ...]
    mode: Mode
    created_by: str | None
    created_at: float
    archived_at: float | None
    avatar_sha256: str | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True)
class Person:
    user_id: str
    username: str
    display_name: str
    role: ClubRole
    since: float


@dataclass(frozen=True)
class Request:
    id: str
    club_id: str
    user_id: str
    kind: Pending
    by_id: str | None
    created_at: float


def pack_topics(topics: Iterable[str]) -> str:
    return "," + ",".join(topics) + "," if topics else ","


def unpack_topics(packed: str) -> tuple[str, ...]:
    return tuple(t for t in packed.split(",") if t)


_CLUB_COLUMNS = (
    clubs.c.id,
    clubs.c.name,
    clubs.c.description,
    clubs.c.rules,
    clubs.c.topics,
    clubs.c.mode,
    clubs.c.created_by,
    clubs.c.created_at,
    clubs.c.archived_at,
    club_avatars.c.sha256,
)


def _club(row: sa.Row[tuple[object, ...]]) -> Club:
    m = row._mapping
    return Club(
        id=m["id"],
        name=m["name"],
        description=m["description"],
        rules=m["rules"],
        topics=unpack_topics(m["topics"]),
        mode=Mode(m["mode"]),
        created_by=m["created_by"],
        created_at=m["created_at"],
        archived_at=m["archived_at"],
        avatar_sha256=m["sha256"],
    )


def _clubs_query() -> sa.Select[tuple[object, ...]]:
    return sa.select(*_CLUB_COLUMNS).select_from(clubs.outerjoin(club_avatars, club_avatars.c.club_id == clubs.c.id))


async def insert_club(conn: AsyncConnection, club: Club, name_key: str) -> bool:
    """False when the name is taken (whatever its case)."""
    taken = await conn.execute(sa.select(clubs.c.id).where(clubs.c.name_key == name_key))
    if taken.first() is not None:
        return False
    await conn.execute(
        clubs.insert().values(
            id=club.id,
            name=club.name,
            name_key=name_key,
            description=club.description,
            rules=club.rules,
            topics=pack_topics(club.topics),
            mode=club.mode.value,
            created_by=club.created_by,
            created_at=club.created_at,
            archived_at=None,
        )
    )
    return True


async def get_club(conn: AsyncConnection, club_id: str) -> Club | None:
    row = (await conn.execute(_clubs_query().where(clubs.c.id == club_id))).first()
    return _club(row) if row else None


async def update_club(conn: AsyncConnection, club_id: str, **values: object) -> None:
    if "topics" in values:
        values["topics"] = pack_topics(values["topics"])  # type: ignore[arg-type]
    await conn.execute(clubs.update().where(clubs.c.id == club_id).values(**values))


async def delete_club(conn: AsyncConnection, club_id: str) -> None:
    # Dependents first: PostgreSQL cascades, and so does SQLite with foreign keys on,
    # but saying it keeps the order plain.
    for table in (club_avatars, club_requests, club_members):
        await conn.execute(table.delete().where(table.c.club_id == club_id))
    # Its events stay, as their hosts' own.
    await conn.execute(events.update().where(events.c.club_id == club_id).values(club_id=None))
    await conn.execute(clubs.delete().where(clubs.c.id == club_id))


async def search(conn: AsyncConnection, q: str | None, topic: str | None, limit: int) -> list[tuple[Club, int]]:
    """Live (not archived) clubs whose name or one of its words starts with `q`, carrying
    `topic`; with their member counts; most members first."""
    members = (
        sa.select(sa.func.count())
        .where(club_members.c.club_id == clubs.c.id, club_members.c.role != ClubRole.FOLLOWER.value)
        .scalar_subquery()
    )
    query = _clubs_query().add_columns(members.label("members")).where(clubs.c.archived_at.is_(None))
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            sa.or_(clubs.c.name_key.like(f"{like}%", escape="\\"), clubs.c.name_key.like(f"% {like}%", escape="\\"))
        )
    if topic:
        query = query.where(clubs.c.topics.like(f"%,{topic},%"))
    query = query.order_by(sa.desc("members"), clubs.c.name_key).limit(limit)
    return [(_club(row), int(row.members)) for row in await conn.execute(query)]


# -- people -------------------------------------------------------------------------------------


async def role_of(conn: AsyncConnection, club_id: str, user_id: str) -> ClubRole | None:
    row = await conn.execute(
        sa.select(club_members.c.role).where(club_members.c.club_id == club_id, club_members.c.user_id == user_id)
    )
    role = row.scalar()
    return ClubRole(role) if role else None


async def roles_of(conn: AsyncConnection, user_id: str) -> dict[str, ClubRole]:
    """Every club `user_id` is in, with their role (the hallway reads it)."""
    rows = await conn.execute(
        sa.select(club_members.c.club_id, club_members.c.role).where(club_members.c.user_id == user_id)
    )
    return {row.club_id: ClubRole(row.role) for row in rows}


async def set_role(conn: AsyncConnection, club_id: str, user_id: str, role: ClubRole, now: float) -> None:
    """Give `user_id` a role (in the club from `now` if they were not)."""
    done = await conn.execute(
        club_members.update()
        .where(club_members.c.club_id == club_id, club_members.c.user_id == user_id)
        .values(role=role.value)
    )
    if done.rowcount == 0:
        await conn.execute(club_members.insert().values(club_id=club_id, user_id=user_id, role=role.value, since=now))


async def become_member(conn: AsyncConnection, club_id: str, user_id: str, role: ClubRole, now: float) -> None:
    """Join (a follower who joins is a member from now: `since` counts membership)."""
    await conn.execute(
        club_members.delete().where(club_members.c.club_id == club_id, club_members.c.user_id == user_id)
    )
    await conn.execute(club_members.insert().values(club_id=club_id, user_id=user_id, role=role.value, since=now))
    await delete_request_of(conn, club_id, user_id)


async def remove_person(conn: AsyncConnection, club_id: str, user_id: str) -> None:
    await conn.execute(
        club_members.delete().where(club_members.c.club_id == club_id, club_members.c.user_id == user_id)
    )


async def count_admins(conn: AsyncConnection, club_id: str) -> int:
    row = await conn.execute(
        sa.select(sa.func.count()).where(club_members.c.club_id == club_id, club_members.c.role == ClubRole.ADMIN.value)
    )
    return int(row.scalar() or 0)


async def people(conn: AsyncConnection, club_id: str, roles: Sequence[ClubRole], limit: int) -> list[Person]:
    """The club's people with these roles, longest-standing first."""
    rows = await conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, club_members.c.role, club_members.c.since)
        .select_from(club_members.join(users, users.c.id == club_members.c.user_id))
        .where(club_members.c.club_id == club_id, club_members.c.role.in_([r.value for r in roles]))
        .order_by(club_members.c.since, users.c.id)
        .limit(limit)
    )
    return [Person(r.id, r.username, r.display_name, ClubRole(r.role), r.since) for r in rows]


async def counts(conn: AsyncConnection, club_id: str) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(club_members.c.role, sa.func.count())
        .where(club_members.c.club_id == club_id)
        .group_by(club_members.c.role)
    )
    found = {role.value: 0 for role in ClubRole}
    for role, n in rows:
        found[role] = int(n)
    return found


async def standings(conn: AsyncConnection, club_id: str) -> list[Standing]:
    rows = await conn.execute(
        sa.select(club_members.c.user_id, club_members.c.role, club_members.c.since).where(
            club_members.c.club_id == club_id
        )
    )
    return [Standing(r.user_id, ClubRole(r.role), r.since) for r in rows]


async def clubs_of(conn: AsyncConnection, user_id: str) -> list[tuple[Club, ClubRole, float]]:
    """The clubs `user_id` is in (archived ones too), by name."""
    rows = await conn.execute(
        _clubs_query()
        .add_columns(club_members.c.role, club_members.c.since)
        .join(club_members, club_members.c.club_id == clubs.c.id)
        .where(club_members.c.user_id == user_id)
        .order_by(clubs.c.name_key)
    )
    return [(_club(row), ClubRole(row.role), row.since) for row in rows]


async def solely_administered(conn: AsyncConnection, user_id: str) -> list[str]:
    """Clubs where `user_id` is the only admin."""
    mine = sa.select(club_members.c.club_id).where(
        club_members.c.user_id == user_id, club_members.c.role == ClubRole.ADMIN.value
    )
    rows = await conn.execute(
        sa.select(club_members.c.club_id)
        .where(club_members.c.club_id.in_(mine), club_members.c.role == ClubRole.ADMIN.value)
        .group_by(club_members.c.club_id)
        .having(sa.func.count() == 1)
    )
    return [row.club_id for row in rows]


async def rooms_hosted(conn: AsyncConnection, user_id: str) -> int:
    row = await conn.execute(sa.select(sa.func.count()).where(rooms.c.created_by == user_id))
    return int(row.scalar() or 0)


# -- requests, nominations, invitations ------------------------------------------------------


def _request(row: sa.Row[tuple[object, ...]]) -> Request:
    m = row._mapping
    return Request(m["id"], m["club_id"], m["user_id"], Pending(m["kind"]), m["by_id"], m["created_at"])


async def pending_of(conn: AsyncConnection, club_id: str, user_id: str) -> Request | None:
    row = (
        await conn.execute(
            sa.select(club_requests).where(club_requests.c.club_id == club_id, club_requests.c.user_id == user_id)
        )
    ).first()
    return _request(row) if row else None


async def get_request(conn: AsyncConnection, club_id: str, request_id: str) -> Request | None:
    row = (
        await conn.execute(
            sa.select(club_requests).where(club_requests.c.club_id == club_id, club_requests.c.id == request_id)
        )
    ).first()
    return _request(row) if row else None


async def add_request(conn: AsyncConnection, request: Request) -> None:
    await conn.execute(
        club_requests.insert().values(
            id=request.id,
            club_id=request.club_id,
            user_id=request.user_id,
            kind=request.kind.value,
            by_id=request.by_id,
            created_at=request.created_at,
        )
    )


async def turn_into_invite(conn: AsyncConnection, request_id: str, now: float) -> None:
    await conn.execute(
        club_requests.update().where(club_requests.c.id == request_id).values(kind=Pending.INVITE.value, created_at=now)
    )


async def delete_request_of(conn: AsyncConnection, club_id: str, user_id: str) -> None:
    await conn.execute(
        club_requests.delete().where(club_requests.c.club_id == club_id, club_requests.c.user_id == user_id)
    )


async def waiting(
    conn: AsyncConnection, club_id: str, kinds: Sequence[Pending], limit: int
) -> list[tuple[Request, str, str]]:
    """Requests and nominations of these kinds, oldest first, with the person's names."""
    rows = await conn.execute(
        sa.select(club_requests, users.c.username, users.c.display_name)
        .join(users, users.c.id == club_requests.c.user_id)
        .where(club_requests.c.club_id == club_id, club_requests.c.kind.in_([k.value for k in kinds]))
        .order_by(club_requests.c.created_at, club_requests.c.id)
        .limit(limit)
    )
    return [(_request(row), row.username, row.display_name) for row in rows]


async def invitations_of(conn: AsyncConnection, user_id: str) -> list[tuple[Request, Club]]:
    rows = await conn.execute(
        _clubs_query()
        .add_columns(
            club_requests.c.id.label("request_id"),
            club_requests.c.kind,
            club_requests.c.by_id,
            club_requests.c.user_id,
            club_requests.c.club_id,
            club_requests.c.created_at.label("requested_at"),
        )
        .join(club_requests, club_requests.c.club_id == clubs.c.id)
        .where(club_requests.c.user_id == user_id, club_requests.c.kind == Pending.INVITE.value)
        .order_by(club_requests.c.created_at)
    )
    return [
        (Request(r.request_id, r.club_id, r.user_id, Pending(r.kind), r.by_id, r.requested_at), _club(r)) for r in rows
    ]


# -- avatars ------------------------------------------------------------------------------------


async def put_avatar(conn: AsyncConnection, club_id: str, sha256: str, image: bytes, now: float) -> None:
    await conn.execute(club_avatars.delete().where(club_avatars.c.club_id == club_id))
    await conn.execute(club_avatars.insert().values(club_id=club_id, sha256=sha256, image=image, created_at=now))


async def delete_avatar(conn: AsyncConnection, club_id: str) -> None:
    await conn.execute(club_avatars.delete().where(club_avatars.c.club_id == club_id))


async def avatar(conn: AsyncConnection, club_id: str) -> tuple[str, bytes] | None:
    row = (
        await conn.execute(
            sa.select(club_avatars.c.sha256, club_avatars.c.image).where(club_avatars.c.club_id == club_id)
        )
    ).first()
    return (row.sha256, bytes(row.image)) if row else None
