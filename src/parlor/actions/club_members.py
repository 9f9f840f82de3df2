"""Club membership (docs/API.md, Clubs): join (open), ask to join (approval), accept or
decline an invitation (invite-only), follow, leave; admins and leaders invite, members
nominate, admins approve nominations; admins change roles and remove people.

Each action reads the facts, asks domain/clubs.py, then writes in the same transaction:
a refusal changes nothing. Every answer is the club's page as the actor now sees it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import limits, notifications
from parlor.actions.accounts import USERNAME
from parlor.actions.clubs import check_club, page
from parlor.actions.ids import looks_like_id, new_id
from parlor.actions.services import Services
from parlor.domain import clubs as domain
from parlor.domain.clubs import ClubRole, Pending
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import clubs as store
from parlor.storage import social as social_store

logger = logging.getLogger(__name__)


async def do_join(s: Services, user: User, club_id: str) -> dict[str, Any]:
    """Open: a member now. By approval: a request. Invite-only: only with an invitation."""
    now = s.clock()
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        role = await store.role_of(conn, club.id, user.id)
        pending = await store.pending_of(conn, club.id, user.id)
        outcome = domain.join_outcome(club.mode, role, pending.kind if pending else None, archived=club.archived)
        if outcome == "member":
            await store.become_member(conn, club.id, user.id, ClubRole.MEMBER, now)
        else:
            await store.add_request(conn, store.Request(new_id("cq"), club.id, user.id, Pending.REQUEST, None, now))
    return await page(s, user, club.id)


async def do_accept_invite(s: Services, user: User, club_id: str) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
        pending = await store.pending_of(conn, club.id, user.id)
    if pending is None or pending.kind is not Pending.INVITE:
        raise ParlorError(404, Code.NO_CLUB_INVITE, "You have no invitation to this club.")
    return await do_join(s, user, club.id)


async def do_decline_invite(s: Services, user: User, club_id: str) -> dict[str, Any]:
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        pending = await store.pending_of(conn, club.id, user.id)
        if pending is None or pending.kind is not Pending.INVITE:
            raise ParlorError(404, Code.NO_CLUB_INVITE, "You have no invitation to this club.")
        await store.delete_request_of(conn, club.id, user.id)
    return await page(s, user, club.id)


async def do_follow(s: Services, user: User, club_id: str) -> dict[str, Any]:
    """Anyone may follow a club: its open rooms show in their hallway."""
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        domain.check_follow(await store.role_of(conn, club.id, user.id), archived=club.archived)
        await store.set_role(conn, club.id, user.id, ClubRole.FOLLOWER, s.clock())
    return await page(s, user, club.id)


async def do_leave(s: Services, user: User, club_id: str) -> dict[str, Any]:
    """Leave (a member) or unfollow (a follower); withdraws your own join request too.
    The club's only admin is refused: make someone else admin first."""
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        role = await store.role_of(conn, club.id, user.id)
        pending = await store.pending_of(conn, club.id, user.id)
        if role is None and pending is not None and pending.kind is Pending.REQUEST:
            await store.delete_request_of(conn, club.id, user.id)
        else:
            domain.check_leave(role, await store.count_admins(conn, club.id))
            await store.remove_person(conn, club.id, user.id)
    return await page(s, user, club.id)


async def _target(conn: AsyncConnection, actor: User, username: str) -> User:
    """The member named by `username`, unless they and the actor are blocked either way."""
    name = username.strip().lower().removeprefix("@")
    target = await social_store.user_by_username(conn, name) if USERNAME.match(name) else None
    if target is None:
        raise ParlorError(404, Code.USER_NOT_FOUND, "There is no member with that username.")
    if target.id == actor.id:
        raise ParlorError(409, Code.INVALID_TARGET, "You are in this club already, or can join it yourself.")
    rel = await social_store.relation(conn, actor.id, target.id)
    if rel["blocks_you"]:
        raise ParlorError(403, Code.BLOCKED_BY_USER, "This person has blocked you.")
    if rel["blocked_by_you"]:
        raise ParlorError(403, Code.USER_BLOCKED, "You blocked this person: unblock them first.")
    return target


async def do_invite(s: Services, user: User, club_id: str, username: str) -> dict[str, Any]:
    """An admin or a leader invites a member by username; they accept or decline. Someone
    who had asked to join is let in at once (the invitation is the approval)."""
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
        actor_role = await store.role_of(conn, club.id, user.id)
        if actor_role not in domain.LEADING:
            domain.check_invite(actor_role, None, None, archived=club.archived)
        target = await _target(conn, user, username)
    await limits.check(s, "club_invite", account=user.id)
    now = s.clock()
    async with s.db.engine.begin() as conn:
        role = await store.role_of(conn, club.id, target.id)
        pending = await store.pending_of(conn, club.id, target.id)
        actor_role = await store.role_of(conn, club.id, user.id)
        outcome = domain.check_invite(actor_role, role, pending.kind if pending else None, archived=club.archived)
        if outcome == "member":
            await store.become_member(conn, club.id, target.id, ClubRole.MEMBER, now)
        else:
            await store.add_request(conn, store.Request(new_id("cq"), club.id, target.id, Pending.INVITE, user.id, now))
    if outcome != "member":  # an invitation waits for them: their inbox says so
        await notifications.notify(s, target.id, "club_invite", actor_id=user.id, club_id=club.id)
    return await page(s, user, club.id)


async def do_nominate(s: Services, user: User, club_id: str, username: str) -> dict[str, Any]:
    """A member puts someone forward; an admin of the club approves (then they are invited)."""
    async with s.db.engine.connect() as conn:
        club = await check_club(conn, club_id)
        actor_role = await store.role_of(conn, club.id, user.id)
        if not domain.is_member(actor_role):
            domain.check_nominate(actor_role, None, None, archived=club.archived)
        target = await _target(conn, user, username)
    await limits.check(s, "club_invite", account=user.id)
    now = s.clock()
    async with s.db.engine.begin() as conn:
        role = await store.role_of(conn, club.id, target.id)
        pending = await store.pending_of(conn, club.id, target.id)
        actor_role = await store.role_of(conn, club.id, user.id)
        domain.check_nominate(actor_role, role, pending.kind if pending else None, archived=club.archived)
        await store.add_request(conn, store.Request(new_id("cq"), club.id, target.id, Pending.NOMINATION, user.id, now))
    return await page(s, user, club.id)


async def do_answer(s: Services, user: User, club_id: str, request_id: str, approve: bool) -> dict[str, Any]:
    """Approve or decline a join request (admins, leaders) or a nomination (admins)."""
    now = s.clock()
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        request = await store.get_request(conn, club.id, request_id) if looks_like_id(request_id) else None
        if request is None:
            raise ParlorError(404, Code.CLUB_REQUEST_NOT_FOUND, "There is no such request.")
        domain.check_answer(await store.role_of(conn, club.id, user.id), request.kind)
        if not approve:
            await store.delete_request_of(conn, club.id, request.user_id)
        elif request.kind is Pending.REQUEST:
            await store.become_member(conn, club.id, request.user_id, ClubRole.MEMBER, now)
        else:
            await store.turn_into_invite(conn, request.id, now)
    if approve and request.kind is Pending.NOMINATION:  # now an invitation: their inbox says so
        await notifications.notify(s, request.user_id, "club_invite", actor_id=user.id, club_id=club.id)
    return await page(s, user, club.id)


async def do_set_role(s: Services, user: User, club_id: str, target_id: str, role: object) -> dict[str, Any]:
    """An admin makes a member admin, leader or member (the only admin cannot step down)."""
    new = domain.parse_role(role)
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        actor = await store.role_of(conn, club.id, user.id)
        target = await store.role_of(conn, club.id, target_id) if looks_like_id(target_id) else None
        admins = await store.count_admins(conn, club.id)
        domain.check_role_change(actor, target, new, admins, self=target_id == user.id)
        await store.set_role(conn, club.id, target_id, new, s.clock())
    return await page(s, user, club.id)


async def do_remove(s: Services, user: User, club_id: str, target_id: str) -> dict[str, Any]:
    """An admin removes a member or a follower from the club."""
    async with s.db.engine.begin() as conn:
        club = await check_club(conn, club_id)
        actor = await store.role_of(conn, club.id, user.id)
        target = await store.role_of(conn, club.id, target_id) if looks_like_id(target_id) else None
        domain.check_remove(actor, target, self=target_id == user.id)
        await store.remove_person(conn, club.id, target_id)
    return await page(s, user, club.id)
