"""Clubs (DESIGN §5): found one, read one (its page), find them, change their settings
and avatar; admins of the instance remove one; a deleted account's clubs are handed over.

Who may do what is decided in domain/clubs.py from facts read here; membership itself
(join, follow, invitations, roles) is in actions/club_members.py. A club's page lists
its people by role, its live rooms the viewer may see, and its upcoming events.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import events, hallway, instance_settings, limits, rooms, sanctions
from parlor.actions.growth import check_admin
from parlor.actions.ids import looks_like_id, new_id
from parlor.actions.paging import check_limit
from parlor.actions.profiles import reencode_avatar
from parlor.actions.services import Services
from parlor.domain import clubs as domain
from parlor.domain.clubs import LEADING, ClubRole, Pending
from parlor.domain.text import clean_text
from parlor.domain.topics import check_topics
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import admin_audit
from parlor.storage import clubs as store
from parlor.storage import hallway as hallway_store
from parlor.storage.clubs import Club

logger = logging.getLogger(__name__)

PEOPLE_SHOWN = 200  # per role on a club's page
WAITING_SHOWN = 100
LIST_DEFAULT, LIST_MAX = 20, 100


def not_found() -> ParlorError:
    return ParlorError(404, Code.CLUB_NOT_FOUND, "There is no such club.")


async def check_club(conn: AsyncConnection, club_id: str) -> Club:
    club = await store.get_club(conn, club_id) if looks_like_id(club_id) else None
    if club is None:
        raise not_found()
    return club


def avatar_url(club_id: str, sha256: str) -> str:
    return f"/api/clubs/{club_id}/avatar?v={sha256[:16]}"


def summary(club: Club, members: int | None = None) -> dict[str, Any]:
    """A club as lists show it."""
    out: dict[str, Any] = {
        "id": club.id,
        "name": club.name,
        "description": club.description,
        "topics": list(club.topics),
        "mode": club.mode.value,
        "avatar_url": avatar_url(club.id, club.avatar_sha256) if club.avatar_sha256 else None,
        "archived": club.archived,
    }
    if members is not None:
        out["member_count"] = members
    return out


def _person(p: store.Person) -> dict[str, Any]:
    return {"id": p.user_id, "username": p.username, "display_name": p.display_name, "since": p.since}


async def page(s: Services, viewer: User, club_id: str) -> dict[str, Any]:
    """GET /api/clubs/{id}: the club's page as `viewer` sees it."""
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
        role = await store.role_of(conn, club.id, viewer.id)
        pending = await store.pending_of(conn, club.id, viewer.id)
        counts = await store.counts(conn, club.id)
        people = await store.people(conn, club.id, list(domain.ASSIGNABLE), PEOPLE_SHOWN * 3)
        kinds = [Pending.REQUEST, Pending.NOMINATION] if role is ClubRole.ADMIN else [Pending.REQUEST]
        waiting = await store.waiting(conn, club.id, kinds, WAITING_SHOWN) if role in LEADING else []
        invited = await store.waiting(conn, club.id, [Pending.INVITE], WAITING_SHOWN) if role in LEADING else []
        names = await _names(conn, {r.by_id for r, _, _ in [*waiting, *invited] if r.by_id})
        upcoming = await events.upcoming_of_club(s, conn, viewer, club.id)
        live = [r for r in s.live.rooms.values() if r.club_id == club.id and not r.guest_room]
        cards: list[dict[str, Any]] = []
        if live:
            followed, blocked = await hallway_store.viewer_graph(conn, viewer.id)
            followers = await hallway.moderators_following(conn, viewer.id, live)
            cards = hallway.cards(
                live,
                viewer.id,
                followed,
                blocked,
                s.live.profiles,
                followers=followers,
                avatars=s.live.avatars,
                clubs={club.id: role} if role else {},
            )
    by_role: dict[str, list[dict[str, Any]]] = {r.value: [] for r in domain.ASSIGNABLE}
    for p in people:
        if len(by_role[p.role.value]) < PEOPLE_SHOWN:
            by_role[p.role.value].append(_person(p))
    return {
        **summary(club),
        "rules": club.rules,
        "created_at": club.created_at,
        "counts": counts,
        "you": {"role": role.value if role else None, "pending": pending.kind.value if pending else None},
        "people": by_role,
        "live_rooms": cards,
        "upcoming_events": upcoming,
        "waiting": [_waiting(r, username, shown, names) for r, username, shown in waiting],
        "invited": [_waiting(r, username, shown, names) for r, username, shown in invited],
    }


async def _names(conn: AsyncConnection, ids: set[str]) -> dict[str, tuple[str, str]]:
    return await admin_audit.people(conn, ids)


def _waiting(r: store.Request, username: str, shown: str, names: dict[str, tuple[str, str]]) -> dict[str, Any]:
    by = names.get(r.by_id) if r.by_id else None
    return {
        "id": r.id,
        "kind": r.kind.value,
        "person": {"id": r.user_id, "username": username, "display_name": shown},
        "by": {"id": r.by_id, "username": by[0], "display_name": by[1]} if by else None,
        "created_at": r.created_at,
    }


async def find(s: Services, viewer: User, q: str | None, topic: str | None, limit: int) -> dict[str, Any]:
    """GET /api/clubs?q=&topic=: clubs by a name (or word) prefix and/or a topic."""
    check_limit(limit, LIST_MAX)
    # Refused, not searched for: characters no name holds (a NUL would be a 500 on PostgreSQL).
    text = domain.name_key(clean_text(q, "A search", max_len=200))[: domain.NAME_MAX] if q else None
    wanted = hallway.check_topic(s, topic)
    async with s.db.engine.connect() as conn:
        found = await store.search(conn, text or None, wanted, limit)
    return {"clubs": [summary(club, members) for club, members in found]}


async def mine(s: Services, viewer: User) -> dict[str, Any]:
    """GET /api/me/clubs: your clubs, your invitations, and whether you may found one."""
    async with s.db.engine.connect() as conn:
        yours = await store.clubs_of(conn, viewer.id)
        invitations = await store.invitations_of(conn, viewer.id)
        try:
            await _check_can_found(conn, viewer)
            can_found, why_not = True, None
        except ParlorError as exc:
            can_found, why_not = False, exc.message
    return {
        "clubs": [{**summary(club), "role": role.value, "since": since} for club, role, since in yours],
        "invitations": [{**summary(club), "request_id": r.id, "invited_at": r.created_at} for r, club in invitations],
        "can_found": can_found,
        "cannot_found_because": why_not,
    }


async def _check_can_found(conn: AsyncConnection, user: User) -> None:
    rule, min_hosted = await instance_settings.clubs_rule(conn)
    hosted = await store.rooms_hosted(conn, user.id) if rule == "hosts" and not user.is_admin else 0
    domain.check_can_found(rule, is_admin=user.is_admin, hosted=hosted, min_hosted=min_hosted)


async def do_found(
    s: Services,
    user: User,
    *,
    name: str,
    description: str = "",
    rules: str = "",
    topics: object = None,
    mode: object = "open",
) -> dict[str, Any]:
    """Found a club: its founder is its first admin."""
    club = Club(
        id=new_id("c"),
        name=domain.clean_name(name),
        description=domain.clean_description(description),
        rules=domain.clean_rules(rules),
        topics=check_topics(topics if topics is not None else [], s.settings.topics),
        mode=domain.parse_mode(mode),
        created_by=user.id,
        created_at=s.clock(),
        archived_at=None,
    )
    async with s.db.engine.connect() as conn:
        await _check_can_found(conn, user)
    await limits.check(s, "club_found", account=user.id)
    try:
        async with s.db.engine.begin() as conn:
            if not await store.insert_club(conn, club, domain.name_key(club.name)):
                raise _name_taken()
            await store.set_role(conn, club.id, user.id, ClubRole.ADMIN, club.created_at)
    except sa.exc.IntegrityError as exc:  # two founders racing for one name
        raise _name_taken() from exc
    logger.info("club %s founded by %s", club.id, user.id)
    return await page(s, user, club.id)


def _name_taken() -> ParlorError:
    return ParlorError(409, Code.CLUB_NAME_TAKEN, "There is a club with that name already.")


async def do_update(
    s: Services,
    user: User,
    club_id: str,
    *,
    description: str | None = None,
    rules: str | None = None,
    topics: object = None,
    mode: object = None,
) -> dict[str, Any]:
    """An admin of the club changes its description, rules, topics or membership mode."""
    changes: dict[str, object] = {}
    if description is not None:
        changes["description"] = domain.clean_description(description)
    if rules is not None:
        changes["rules"] = domain.clean_rules(rules)
    if topics is not None:
        changes["topics"] = check_topics(topics, s.settings.topics)
    if mode is not None:
        changes["mode"] = domain.parse_mode(mode).value
    if not changes:
        raise ParlorError(400, Code.INVALID_INPUT, "Send a description, rules, topics or mode to change.")
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        domain.check_manage(await store.role_of(conn, club.id, user.id), archived=club.archived)
        await store.update_club(conn, club.id, **changes)
    return await page(s, user, club_id)


# -- avatars --------------------------------------------------------------------------------------


async def do_set_avatar(s: Services, user: User, club_id: str, data: bytes) -> dict[str, Any]:
    """The same pipeline as people's avatars (actions/profiles.py): sniffed, bounded, re-encoded."""
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
        domain.check_manage(await store.role_of(conn, club.id, user.id), archived=club.archived)
    limit = s.settings.avatar_max_bytes
    if len(data) > limit:
        raise ParlorError(413, Code.IMAGE_TOO_LARGE, f"A club avatar is at most {limit:,} bytes.")
    if not data:
        raise ParlorError(400, Code.NOT_AN_IMAGE, "This is not a PNG, JPEG, WebP or GIF image that can be read.")
    encoded = await asyncio.to_thread(reencode_avatar, data)
    async with s.db.engine.begin() as conn:
        await store.put_avatar(conn, club.id, hashlib.sha256(encoded).hexdigest(), encoded, s.clock())
    return await page(s, user, club.id)


async def do_delete_avatar(s: Services, user: User, club_id: str) -> dict[str, Any]:
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        domain.check_manage(await store.role_of(conn, club.id, user.id), archived=club.archived)
        await store.delete_avatar(conn, club.id)
    return await page(s, user, club.id)


async def avatar(s: Services, club_id: str) -> tuple[str, bytes]:
    async with s.db.engine.connect() as conn:
        found = await store.avatar(conn, club_id) if looks_like_id(club_id) else None
    if found is None:
        raise ParlorError(404, Code.NO_AVATAR, "This club has no avatar.")
    return found


# -- the instance's admins ----------------------------------------------------------------------


async def admin_list(s: Services, actor: User, q: str | None, limit: int) -> dict[str, Any]:
    """The admin console's clubs (archived ones too are found by the search: not here)."""
    check_admin(actor)
    return await find(s, actor, q, None, limit)


async def do_remove(s: Services, actor: User | None, club_id: str, reason: str) -> dict[str, Any]:
    """An admin of the instance removes a club: its live rooms end, everything of it goes;
    the admin audit log keeps its name, id and the reason."""
    if actor is not None:
        check_admin(actor)
    text = sanctions.clean_text(reason, "reason")
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
    actor_id = actor.id if actor else None
    for room in [r for r in s.live.rooms.values() if r.club_id == club.id]:
        try:
            await rooms.do_admin_end(s, actor_id, room.id)
        except ParlorError:
            pass  # it ended meanwhile
    async with s.db.engine.begin() as conn:
        await store.delete_club(conn, club.id)
        await admin_audit.record(
            conn, now=s.clock(), actor_id=actor_id, action="club.remove", detail=f"{club.name} ({club.id}): {text}"
        )
    logger.info("club %s removed by admin %s", club.id, actor_id or "the operator")
    return {"id": club.id, "name": club.name, "removed": True}


# -- your data ------------------------------------------------------------------------------------


async def export(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """The clubs someone is in, as their data export names them (with the club's name)."""
    return [
        {"id": club.id, "name": club.name, "role": role.value, "since": since, "archived": club.archived}
        for club, role, since in await store.clubs_of(conn, user_id)
    ]


async def hand_over(conn: AsyncConnection, user_id: str, now: float) -> None:
    """Before an account goes: each club it alone administers passes to the longest-standing
    leader, else the longest-standing member; with neither, the club is archived."""
    for club_id in await store.solely_administered(conn, user_id):
        heir = domain.successor(await store.standings(conn, club_id), user_id)
        if heir is None:
            await store.update_club(conn, club_id, archived_at=now)
        else:
            await store.set_role(conn, club_id, heir, ClubRole.ADMIN, now)
