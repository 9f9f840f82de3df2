"""Growth: the sign-up mode, invites with quotas, sign-up, the waitlist and let-in.

Rules (docs/API.md, Growth): the instance is `open` (no invite needed),
`invite_only` (the default) or `closed` (no sign-up, no new invites, no waitlist
joins, no let-ins). Each member may spend `invites_per_member` invites; admins
and the operator's CLI are unlimited. A revoked invite is given back; a let-in
spends one from the moment the person is admitted (given back if they leave the
waitlist before finishing). Members let people in by username only and never
browse the waitlist; admins list it and let anyone in.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from parlor.actions import accounts, limits, notifications
from parlor.actions.ids import digest, looks_like_id, new_id, new_secret
from parlor.actions.paging import check_limit, decode_cursor, encode_cursor
from parlor.actions.services import Services
from parlor.actions.sign_in_methods import check_passwords_on
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import contacts as contact_store
from parlor.storage import growth as store
from parlor.storage import rooms as room_store
from parlor.storage.growth import WaitlistEntry

logger = logging.getLogger(__name__)

MODES = ("open", "invite_only", "closed")
VIA = ("username", "admin", "contact")
PAGE_DEFAULT, PAGE_MAX = 50, 100
INVITE_CODE_MAX = 200

_CLOSED = "This instance is not taking new members."


def _closed() -> ParlorError:
    return ParlorError(403, Code.SIGNUPS_CLOSED, _CLOSED)


def _taken() -> ParlorError:
    return ParlorError(409, Code.USERNAME_TAKEN, "That username is taken.")


def _unknown_token() -> ParlorError:
    return ParlorError(
        401, Code.INVALID_WAITLIST_TOKEN, "This waitlist place is not known: it was used, left, or never existed."
    )


def _not_waiting() -> ParlorError:
    return ParlorError(404, Code.NOT_ON_WAITLIST, "Nobody by that name is on the waitlist.")


def check_admin(actor: User | None) -> None:
    """`None` is the operator (the `parlor admin` CLI), who may do what an admin may."""
    if actor is not None and not actor.is_admin:
        raise ParlorError(403, Code.NOT_ADMIN, "Only admins can do this.")


def actor_id(actor: User | None) -> str | None:
    """Who an audit entry names: an admin, or nobody for the operator."""
    return actor.id if actor is not None else None


def _person(user_id: str | None, username: str | None, display_name: str | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return {"id": user_id, "username": username, "display_name": display_name}


async def _mode(s: Services, conn: Any) -> str:
    return await store.signup_mode(conn) or s.settings.signup_mode


# -- sign-up mode ---------------------------------------------------------------------------


async def signup_mode(s: Services) -> dict[str, Any]:
    """Anyone may ask, so the sign-up page knows whether to ask for a code."""
    async with s.db.engine.connect() as conn:
        return {"mode": await _mode(s, conn)}


async def do_set_signup_mode(s: Services, actor: User | None, mode: str) -> dict[str, Any]:
    check_admin(actor)
    if mode not in MODES:
        raise bad_input("The sign-up mode is open, invite_only or closed.")
    by = actor_id(actor)
    async with s.db.engine.begin() as conn:
        await account_store.set_fact(conn, store.MODE_KEY, mode)
        await room_store.audit(conn, now=s.clock(), actor_id=by, action=f"signup_mode.{mode}")
        await admin_audit.record(conn, now=s.clock(), actor_id=by, action="signup_mode.set", detail=mode)
    logger.info("sign-up mode set to %s by %s", mode, by or "the operator")
    return {"mode": mode}


# -- invites ----------------------------------------------------------------------------------


async def _quota(s: Services, conn: Any, actor: User | None) -> int | None:
    """None: unlimited (admins, and the operator's CLI as `None`). An admin may have
    changed the PARLOR_INVITES_PER_MEMBER setting (actions/instance_settings.py)."""
    if actor is None or actor.is_admin:
        return None
    quota = await store.invite_quota(conn)
    return s.settings.invites_per_member if quota is None else quota


def _out_of_invites(quota: int) -> ParlorError:
    return ParlorError(403, Code.OUT_OF_INVITES, f"You have used all {quota} of your invites.")


async def _check_spend(s: Services, conn: Any, actor: User | None) -> int | None:
    """After writing what spends an invite: refuse (the transaction rolls back) if over quota.

    Returns what is left (None: unlimited). Callers take `store.lock_quota` first.
    """
    quota = await _quota(s, conn, actor)
    if quota is None or actor is None:
        return None
    left = quota - await store.spent(conn, actor.id)
    if left < 0:
        raise _out_of_invites(quota)
    return left


async def do_create_invite(s: Services, actor: User | None) -> dict[str, Any]:
    """A new invite: `{id, code, remaining}`. The code is shown only here (only its hash is kept)."""
    check_passwords_on(s.settings)
    if actor is not None:  # the operator's CLI is not limited
        await limits.check(s, "invites", account=actor.id)
    code = new_secret()[:22]
    now = s.clock()
    async with s.db.engine.begin() as conn:
        if await _mode(s, conn) == "closed":
            raise _closed()
        if actor is not None:
            await store.lock_quota(conn, actor.id)
        invite_id = await account_store.insert_invite(
            conn, digest(code), actor.id if actor else None, now, invite_id=new_id("i")
        )
        left = await _check_spend(s, conn, actor)
        await room_store.audit(conn, now=now, actor_id=actor.id if actor else None, action="invite")
    return {"id": invite_id, "code": code, "remaining": left}


async def allowance(s: Services, actor: User | None) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        quota = await _quota(s, conn, actor)
        if quota is None or actor is None:
            return {"quota": None, "remaining": None}
        return {"quota": quota, "remaining": max(0, quota - await store.spent(conn, actor.id))}


def _invite_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        # "code": made as a code or link; else how a waitlisted person was let in
        "kind": "code" if row.via is None else "waitlist",
        "created_at": row.created_at,
        "used_by": _person(row.user_id, row.username, row.display_name),
        "used_at": row.used_at,
        "revoked_at": row.revoked_at,
    }


async def list_invites(s: Services, actor: User, limit: int, cursor: str | None) -> dict[str, Any]:
    """The actor's invites, newest first; never their codes."""
    check_limit(limit, PAGE_MAX)
    after = decode_cursor(cursor) if cursor else None
    async with s.db.engine.connect() as conn:
        rows = await store.invites_page(conn, actor.id, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "invites": [_invite_view(row) for row in rows],
        "next_cursor": encode_cursor((rows[-1].created_at, rows[-1].id)) if more else None,
        **await allowance(s, actor),
    }


async def do_revoke_invite(s: Services, actor: User, invite_id: str) -> dict[str, Any]:
    """Revoke an unused invite of yours (admins: anyone's); idempotent. Gives it back."""
    missing = ParlorError(404, Code.INVITE_NOT_FOUND, "You have no such invite.")
    if not looks_like_id(invite_id):
        raise missing
    async with s.db.engine.begin() as conn:
        row = await store.invite_by_id(conn, invite_id)
        # Someone else's invite is "not found" to a member: ids are not to be probed.
        if row is None or (row.created_by != actor.id and not actor.is_admin):
            raise missing
        if not await store.revoke_invite(conn, invite_id, s.clock()):
            row = await store.invite_by_id(conn, invite_id)
            if row.used_by is not None:
                raise ParlorError(409, Code.INVITE_USED, "This invite was already used: it cannot be revoked.")
        else:
            await room_store.audit(conn, now=s.clock(), actor_id=actor.id, action="invite.revoke")
    return {"id": invite_id, **await allowance(s, actor)}


def _invite_refusal(state: str | None) -> ParlorError:
    if state == "used":
        return ParlorError(403, Code.INVITE_USED, "This invite was already used. Ask for a new one.")
    if state == "revoked":
        return ParlorError(403, Code.INVITE_REVOKED, "This invite was withdrawn by the person who made it.")
    return ParlorError(403, Code.INVALID_INVITE, "This invite code is not valid.")


# -- sign-up ----------------------------------------------------------------------------------


async def _insert_member(
    s: Services, conn: Any, name: str, shown: str, password_hash: str, invited_by: str | None
) -> User:
    """Create a member, keeping usernames unique across members and the waitlist.

    Write, then check the waitlist: on SQLite the write takes the database lock, so
    a waitlist join committed concurrently is seen here (PostgreSQL: `lock_username`).
    Raising rolls the whole transaction back.
    """
    await store.lock_username(conn, name)
    try:
        user = await account_store.insert_user(
            conn,
            user_id=new_id("u"),
            username=name,
            display_name=shown,
            password_hash=password_hash,
            is_admin=False,
            invited_by=invited_by,
            now=s.clock(),
        )
    except sa.exc.IntegrityError as exc:
        raise _taken() from exc
    if await store.username_waiting(conn, name):
        raise _taken()
    return user


async def do_signup(
    s: Services, invite_code: str, username: str, display_name: str, password: str, *, address: str | None = None
) -> User:
    """Sign up with an invite code, or without one when the instance is open."""
    check_passwords_on(s.settings)
    name, shown = accounts.check_username(username), accounts.check_display_name(display_name)
    accounts.check_password(password)
    await limits.check(s, "signup", address=address)
    code = invite_code.strip()
    if len(code) > INVITE_CODE_MAX:
        raise _invite_refusal(None)
    code_hash = digest(code)
    async with s.db.engine.connect() as conn:
        mode = await _mode(s, conn)
        if mode == "closed":
            raise _closed()
        if not code and mode == "invite_only":
            raise ParlorError(403, Code.INVITE_REQUIRED, "You need an invite to join this instance.")
        if code and (state := await store.invite_state(conn, code_hash)) != "ok":
            raise _invite_refusal(state)
        if await account_store.username_taken(conn, name) or await store.username_waiting(conn, name):
            raise _taken()
    password_hash = await accounts.hash_password(password)
    async with s.db.engine.begin() as conn:
        if await _mode(s, conn) == "closed":
            raise _closed()
        user = await _insert_member(s, conn, name, shown, password_hash, None)
        if code:
            inviter = await account_store.claim_invite(conn, code_hash, user.id, s.clock())
            if inviter is None:
                # Lost a race for the code: the transaction rolls back the new user.
                raise _invite_refusal(await store.invite_state(conn, code_hash))
            if inviter:
                await account_store.set_invited_by(conn, user.id, inviter)
        await room_store.audit(conn, now=s.clock(), actor_id=user.id, action="signup")
    logger.info("user signed up: %s", user.id)
    return user


# -- the waitlist -----------------------------------------------------------------------------


async def waitlist_entry_for_token(s: Services, token: str) -> WaitlistEntry | None:
    """The waitlist entry whose secret token this is, if any."""
    if not token or len(token) > 200:
        return None
    async with s.db.engine.connect() as conn:
        return await store.entry_by_token(conn, digest(token))


async def _entry_for_token(s: Services, token: str) -> WaitlistEntry:
    entry = await waitlist_entry_for_token(s, token)
    if entry is None:
        raise _unknown_token()
    return entry


def _entry_view(entry: WaitlistEntry, admitters: dict[str, User], *, admin: bool = False) -> dict[str, Any]:
    admitter = admitters.get(entry.admitted_by) if entry.admitted_by else None
    view: dict[str, Any] = {
        "id": entry.id,
        "username": entry.username,
        "display_name": entry.display_name,
        "status": "admitted" if entry.admitted else "waiting",
        "created_at": entry.created_at,
        "admitted_at": entry.admitted_at,
        "admitted_by": _person(admitter.id, admitter.username, admitter.display_name) if admitter else None,
    }
    if admin:
        view["via"] = entry.via
    return view


async def _entry_views(s: Services, entries: list[WaitlistEntry], *, admin: bool = False) -> list[dict[str, Any]]:
    async with s.db.engine.connect() as conn:
        admitters = await account_store.users_by_ids(conn, sorted({e.admitted_by for e in entries if e.admitted_by}))
    return [_entry_view(e, admitters, admin=admin) for e in entries]


async def do_join_waitlist(
    s: Services, username: str, display_name: str, *, address: str | None = None
) -> dict[str, Any]:
    """Join with a username and display name: `{token, entry}`. The token is shown only here."""
    check_passwords_on(s.settings)
    name, shown = accounts.check_username(username), accounts.check_display_name(display_name)
    # Names are kept for whoever holds the place: without a limit they can be squatted.
    await limits.check(s, "waitlist", address=address)
    token = "pw_" + new_secret()
    async with s.db.engine.begin() as conn:
        if await _mode(s, conn) == "closed":
            raise _closed()
        await store.lock_username(conn, name)
        try:
            entry = await store.insert_entry(
                conn, entry_id=new_id("w"), username=name, display_name=shown, token_hash=digest(token), now=s.clock()
            )
        except sa.exc.IntegrityError as exc:
            raise _taken() from exc
        # Written first, then checked: see _insert_member.
        if await account_store.username_taken(conn, name):
            raise _taken()
        await room_store.audit(conn, now=s.clock(), actor_id=None, action="waitlist.join", target_id=entry.id)
    return {"token": token, "entry": _entry_view(entry, {})}


async def waitlist_status(s: Services, token: str) -> dict[str, Any]:
    """What the holder of a waitlist token sees of their place (and who let them in)."""
    return (await _entry_views(s, [await _entry_for_token(s, token)]))[0]


async def do_leave_waitlist(s: Services, token: str) -> None:
    entry = await _entry_for_token(s, token)
    async with s.db.engine.begin() as conn:
        if await store.delete_entry(conn, entry.id):
            await room_store.audit(conn, now=s.clock(), actor_id=None, action="waitlist.leave", target_id=entry.id)


async def do_finish_signup(s: Services, token: str, password: str) -> User:
    """An admitted waitlisted person becomes a member, nominated by whoever let them in."""
    check_passwords_on(s.settings)
    entry = await _entry_for_token(s, token)
    accounts.check_password(password)
    if not entry.admitted:
        raise ParlorError(403, Code.NOT_ADMITTED, "You are still on the waitlist: nobody has let you in yet.")
    password_hash = await accounts.hash_password(password)
    now = s.clock()
    async with s.db.engine.begin() as conn:
        if await _mode(s, conn) == "closed":
            raise _closed()
        findable = await contact_store.take_from_waitlist(conn, entry.id)
        # Deleting first makes a second, concurrent finish find nothing.
        if not await store.delete_entry(conn, entry.id):
            raise _unknown_token()
        user = await _insert_member(s, conn, entry.username, entry.display_name, password_hash, entry.admitted_by)
        await contact_store.give_to_member(conn, findable, user.id)
        # The let-in stays spent, now as a used invite of the admitter's (their list shows it).
        code_hash = digest(new_secret())
        await account_store.insert_invite(
            conn, code_hash, entry.admitted_by, entry.admitted_at or now, invite_id=new_id("i"), via=entry.via
        )
        await account_store.claim_invite(conn, code_hash, user.id, now)
        await room_store.audit(conn, now=now, actor_id=user.id, action="waitlist.signup", target_id=entry.admitted_by)
    logger.info("waitlisted person signed up: %s", user.id)
    if entry.admitted_by is not None:
        await notifications.notify(s, entry.admitted_by, "waitlist_joined", actor_id=user.id)
    return user


async def admit_waitlisted(s: Services, actor: User | None, entry_id: str, via: str) -> dict[str, Any]:
    """Let a waitlisted person in: `{entry, remaining}`. Spends one of the actor's invites.

    Checks the sign-up mode and the actor's quota, marks the entry admitted by the
    actor, audits. Whether the actor may let *this* person in (knows their username,
    has them among matched contacts, or is an admin) is the caller's check.
    Letting in someone already admitted changes nothing and spends nothing.
    """
    if via not in VIA:
        raise ValueError(f"unknown let-in path {via!r}")
    check_passwords_on(s.settings)
    if len(entry_id) > 32:
        raise _not_waiting()
    now = s.clock()
    async with s.db.engine.begin() as conn:
        if await _mode(s, conn) == "closed":
            raise _closed()
        if actor is not None:
            await store.lock_quota(conn, actor.id)
        # Write, then check the quota (see _check_spend).
        admitted = await store.admit(conn, entry_id, actor_id(actor), via, now)
        if admitted:
            left = await _check_spend(s, conn, actor)
            await room_store.audit(
                conn, now=now, actor_id=actor_id(actor), action=f"waitlist.admit.{via}", target_id=entry_id
            )
            if via == "admin":
                await admin_audit.record(
                    conn, now=now, actor_id=actor_id(actor), action="waitlist.admit", detail=entry_id
                )
        entry = await store.entry_by_id(conn, entry_id)
        if entry is None:
            raise _not_waiting()
    if admitted:
        logger.info("waitlist entry %s let in by %s (%s)", entry.id, actor_id(actor) or "the operator", via)
    else:
        left = (await allowance(s, actor))["remaining"]
    as_admin = actor is None or actor.is_admin
    return {"entry": (await _entry_views(s, [entry], admin=as_admin))[0], "remaining": left}


async def do_admit(s: Services, actor: User | None, username: str | None, entry_id: str | None) -> dict[str, Any]:
    """Let in by username (any member who knows it) or by entry id (admins)."""
    if (username is None) == (entry_id is None):
        raise bad_input("Give a username or an entry id.")
    if entry_id is not None:
        check_admin(actor)
        return await admit_waitlisted(s, actor, entry_id, "admin")
    assert username is not None
    name = accounts.check_username(username)
    async with s.db.engine.connect() as conn:
        entry = await store.entry_by_username(conn, name)
    if entry is None:
        raise _not_waiting()
    return await admit_waitlisted(s, actor, entry.id, "admin" if actor is None or actor.is_admin else "username")


async def do_delete_waitlist_entry(s: Services, actor: User | None, entry_id: str) -> None:
    """Admins only: take a place off the waitlist (a squatted name, say). Its name is free
    again, its findable identifiers go with it, and a let-in it held is given back."""
    check_admin(actor)
    if not looks_like_id(entry_id):
        raise _not_waiting()
    async with s.db.engine.begin() as conn:
        if not await store.delete_entry(conn, entry_id):
            raise _not_waiting()
        by = actor_id(actor)
        await room_store.audit(conn, now=s.clock(), actor_id=by, action="waitlist.delete", target_id=entry_id)
        await admin_audit.record(conn, now=s.clock(), actor_id=by, action="waitlist.delete", detail=entry_id)
    logger.info("waitlist entry %s deleted by %s", entry_id, by or "the operator")


async def waitlist(s: Services, actor: User | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Admins only: everyone waiting or admitted, oldest first. Members never browse it (privacy)."""
    check_admin(actor)
    check_limit(limit, PAGE_MAX)
    after = decode_cursor(cursor) if cursor else None
    async with s.db.engine.connect() as conn:
        entries = await store.waitlist_page(conn, limit + 1, after)
    more = len(entries) > limit
    entries = entries[:limit]
    return {
        "entries": await _entry_views(s, entries, admin=True),
        "next_cursor": encode_cursor((entries[-1].created_at, entries[-1].id)) if more else None,
    }


# -- nominated by -------------------------------------------------------------------------------


async def nominated_by(conn: Any, user_id: str) -> dict[str, Any] | None:
    """Who invited or let this member in (`users.invited_by`), for the profile."""
    row = await store.nominator(conn, user_id)
    return _person(row.id, row.username, row.display_name) if row else None
