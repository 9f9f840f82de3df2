"""Sanctions: an admin (or the operator's CLI, `actor` None) warns, suspends, bans, lifts.

Rules (docs/API.md, Admin):
- Nobody sanctions an admin, and an admin not themselves (`403 cannot_sanction_admin`,
  `403 cannot_sanction_self`).
- A warning is a notification `warned` carrying the admin's message; it cannot be muted.
- A suspension (for whole days) or a ban takes effect at once: sign-in is refused
  (`403 suspended` with `until`, `403 banned`), every session and token ends, the
  person's sockets close, they leave every live room (their media stops; a room they
  moderated alone passes to its longest-standing speaker, or ends), and their unused
  invite codes are revoked (people they already let in from the waitlist stay let in).
- A new suspension replaces one in force; a ban replaces a suspension; banning someone
  banned is `409 already_banned`, as is suspending them (lift first).
- Lifting ends what is in force (`409 not_sanctioned` when nothing is); revoked invites
  stay revoked.
Every one of them is written to the admin audit log in the same transaction.

The CLI runs in another process, which holds no live rooms or sockets: every node
looks for new suspensions and bans once a second (`do_enforce_recorded`) and applies
them to its own rooms and sockets.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import accounts, notifications, rooms
from parlor.actions.growth import check_admin
from parlor.actions.services import Services
from parlor.bus.base import user_channel
from parlor.domain.text import bad_text, has_bad_characters
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import sanctions as store
from parlor.storage.sanctions import Sanction
from parlor.storage.tables import users

logger = logging.getLogger(__name__)

TEXT_MAX = 500
DAYS_MAX = 3650
HISTORY_MAX = 100
# What an id can look like (actions/ids.py): anything else is nobody.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def clean_text(text: str, what: str, *, required: bool = True) -> str:
    """An admin's reason or message: whitespace runs become one space, no control
    characters, at most TEXT_MAX characters."""
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if required and not cleaned:
        raise bad_input(f"Give a {what}.")
    if len(cleaned) > TEXT_MAX:
        raise bad_input(f"A {what} is at most {TEXT_MAX} characters.")
    if has_bad_characters(text):  # the one text rule (domain/text.py)
        raise bad_text(f"A {what}")
    return cleaned


def check_days(days: int) -> int:
    if not 1 <= days <= DAYS_MAX:
        raise bad_input(f"A suspension lasts 1 to {DAYS_MAX} days.")
    return days


def _no_such_user() -> ParlorError:
    return ParlorError(404, Code.USER_NOT_FOUND, "There is no such user.")


async def find_user(s: Services, user_id: str) -> User:
    if not _ID.match(user_id):
        raise _no_such_user()
    async with s.db.engine.connect() as conn:
        user = await account_store.user_by_id(conn, user_id)
    if user is None:
        raise _no_such_user()
    return user


async def check_target(s: Services, actor: User | None, user_id: str) -> User:
    """Who may be sanctioned: an existing member who is not an admin, nor the actor."""
    if actor is not None:
        check_admin(actor)
    target = await find_user(s, user_id)
    if actor is not None and target.id == actor.id:
        raise ParlorError(403, Code.CANNOT_SANCTION_SELF, "You cannot sanction yourself.")
    if target.is_admin:
        raise ParlorError(403, Code.CANNOT_SANCTION_ADMIN, "Admins cannot be sanctioned.")
    return target


# -- views ----------------------------------------------------------------------------


def standing_view(sanction: Sanction | None) -> dict[str, Any]:
    """`{"state": "ok" | "suspended" | "banned", "until", "since"}`."""
    if sanction is None:
        return {"state": "ok", "until": None, "since": None}
    state = "banned" if sanction.kind == "ban" else "suspended"
    return {"state": state, "until": sanction.until, "since": sanction.created_at}


def sanction_view(sanction: Sanction, now: float) -> dict[str, Any]:
    by = None
    if sanction.actor_id is not None and sanction.actor_username is not None:
        by = {"id": sanction.actor_id, "username": sanction.actor_username, "display_name": sanction.actor_display_name}
    in_force = (
        sanction.kind in store.RESTRICTING
        and sanction.ended_at is None
        and (sanction.until is None or sanction.until > now)
    )
    return {
        "id": sanction.id,
        "kind": sanction.kind,
        "reason": sanction.reason,
        "by": by,
        "by_operator": sanction.by_operator,
        "created_at": sanction.created_at,
        "until": sanction.until,
        "ended_at": sanction.ended_at,
        "in_force": in_force,
    }


async def standing(s: Services, user_id: str) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        return standing_view(await store.current(conn, user_id, s.clock()))


async def history(s: Services, conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    now = s.clock()
    return [sanction_view(x, now) for x in await store.history(conn, user_id, HISTORY_MAX)]


# -- writing ----------------------------------------------------------------------------


async def _lock_person(conn: AsyncConnection, user_id: str) -> None:
    """Serialize sanctions of one person: a no-op write on their row takes its lock
    (PostgreSQL) or the database's write lock (SQLite) before anything is read."""
    await conn.execute(users.update().where(users.c.id == user_id).values(is_admin=users.c.is_admin))


async def _record(
    s: Services,
    conn: AsyncConnection,
    actor: User | None,
    target: User,
    kind: str,
    reason: str,
    until: float | None = None,
) -> int:
    now = s.clock()
    actor_id = actor.id if actor else None
    sanction_id = await store.insert(
        conn,
        user_id=target.id,
        kind=kind,
        reason=reason,
        actor_id=actor_id,
        by_operator=actor is None,
        now=now,
        until=until,
    )
    await admin_audit.record(
        conn, now=now, actor_id=actor_id, action=f"user.{kind}", target_id=target.id, detail=reason
    )
    return sanction_id


async def _answer(s: Services, user_id: str, sanction_id: int) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        made = next(x for x in await store.history(conn, user_id, HISTORY_MAX) if x.id == sanction_id)
        current = await store.current(conn, user_id, s.clock())
    return {"sanction": sanction_view(made, s.clock()), "standing": standing_view(current)}


async def do_warn(s: Services, actor: User | None, user_id: str, message: str) -> dict[str, Any]:
    """Warn someone: their inbox gets `warned` with `message` (not who wrote it)."""
    text = clean_text(message, "message")
    target = await check_target(s, actor, user_id)
    async with s.db.engine.begin() as conn:
        sanction_id = await _record(s, conn, actor, target, "warn", text)
    await notifications.notify(s, target.id, "warned", text=text)
    logger.info("user %s warned by %s", target.id, actor.id if actor else "the operator")
    return await _answer(s, target.id, sanction_id)


async def _restrict(s: Services, actor: User | None, target: User, kind: str, reason: str, until: float | None) -> int:
    async with s.db.engine.begin() as conn:
        await _lock_person(conn, target.id)
        current = await store.current(conn, target.id, s.clock())
        if current is not None and current.kind == "ban":
            raise ParlorError(409, Code.ALREADY_BANNED, "This person is banned already: lift the ban first.")
        await store.end_in_force(conn, target.id, s.clock())
        sanction_id = await _record(s, conn, actor, target, kind, reason, until)
        await store.revoke_unused_invites(conn, target.id, s.clock())
    logger.info("user %s: %s by %s", target.id, kind, actor.id if actor else "the operator")
    await enforce(s, target.id, actor.id if actor else None)
    return sanction_id


async def do_suspend(s: Services, actor: User | None, user_id: str, days: int, reason: str) -> dict[str, Any]:
    check_days(days)
    text = clean_text(reason, "reason")
    target = await check_target(s, actor, user_id)
    sanction_id = await _restrict(s, actor, target, "suspend", text, s.clock() + days * 86400)
    return await _answer(s, target.id, sanction_id)


async def do_ban(s: Services, actor: User | None, user_id: str, reason: str) -> dict[str, Any]:
    text = clean_text(reason, "reason")
    target = await check_target(s, actor, user_id)
    sanction_id = await _restrict(s, actor, target, "ban", text, None)
    return await _answer(s, target.id, sanction_id)


async def do_lift(s: Services, actor: User | None, user_id: str, reason: str) -> dict[str, Any]:
    """End the suspension or ban in force: they may sign in again."""
    text = clean_text(reason, "reason", required=False)
    target = await check_target(s, actor, user_id)
    async with s.db.engine.begin() as conn:
        await _lock_person(conn, target.id)
        if not await store.end_in_force(conn, target.id, s.clock()):
            raise ParlorError(409, Code.NOT_SANCTIONED, "This person is neither suspended nor banned.")
        sanction_id = await _record(s, conn, actor, target, "lift", text)
    logger.info("user %s: sanction lifted by %s", target.id, actor.id if actor else "the operator")
    return await _answer(s, target.id, sanction_id)


# -- taking effect ------------------------------------------------------------------------


async def enforce(s: Services, user_id: str, actor_id: str | None) -> None:
    """Apply a suspension or ban on this node: out of every live room (media closes
    with it), every session and token ended, every socket of theirs closed."""
    for room in list(s.live.rooms.values()):
        if user_id in room.participants:
            try:
                await rooms.do_remove_sanctioned(s, actor_id, room.id, user_id)
            except ParlorError:
                pass  # left or ended meanwhile
    await accounts.do_end_sessions(s, user_id)
    # Sockets whose sessions another process ended (the CLI) close too (transport/ws/endpoint.py).
    await s.bus.publish(user_channel(user_id), {"name": "account.sanctioned", "data": {}})


async def do_enforce_recorded(s: Services) -> int:
    """Apply suspensions and bans recorded since the last look (by this process or
    another: the `parlor admin` CLI). The first look only notes where the log stands:
    a node that just started has no rooms or sockets from before."""
    async with s.db.engine.connect() as conn:
        if s.sanctions_seen is None:
            s.sanctions_seen = await store.last_id(conn)
            return 0
        fresh = await store.restricting_since(conn, s.sanctions_seen)
        in_force = {user_id for _, user_id in fresh if await store.current(conn, user_id, s.clock()) is not None}
    if fresh:
        s.sanctions_seen = fresh[-1][0]
    for user_id in sorted(in_force):
        await enforce(s, user_id, None)
    return len(in_force)
