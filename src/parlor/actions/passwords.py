"""Changing a password (the member, who knows the current one) and resetting it (the
operator, `parlor admin reset-password`). Either way the sessions and tokens that were
signed in with the old password end, and their sockets close."""

from __future__ import annotations

import logging

from parlor.actions import accounts
from parlor.actions.services import Services
from parlor.actions.sign_in_methods import check_passwords_on
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input, not_found
from parlor.storage import accounts as store
from parlor.storage import rooms as room_store

logger = logging.getLogger(__name__)


async def do_change_password(
    s: Services, user: User, current_password: str, new_password: str, current_secret: str | None
) -> int:
    """Set a new password; every other session and token of `user` ends (the one this
    request came with stays signed in). Returns how many ended."""
    check_passwords_on(s.settings)
    if not current_password or len(current_password) > accounts.PASSWORD_MAX:
        raise bad_input("Enter your current password.")
    accounts.check_password(new_password)
    try:
        await accounts.do_login(s, user.username, current_password)
    except ParlorError as exc:
        if exc.code is not Code.BAD_CREDENTIALS:
            raise  # e.g. too many attempts: say so, not "wrong password"
        raise ParlorError(403, Code.WRONG_PASSWORD, "That is not your current password: nothing changed.") from exc
    password_hash = await accounts.hash_password(new_password)
    async with s.db.engine.begin() as conn:
        await store.set_password_hash(conn, user.id, password_hash)
        await room_store.audit(conn, now=s.clock(), actor_id=user.id, action="password.change", target_id=user.id)
    return await accounts.do_end_sessions(s, user.id, keep_secret=current_secret)


async def do_reset_password(s: Services, username: str, new_password: str) -> int:
    """The operator sets `username`'s password; all their sessions and tokens end.
    Returns how many ended."""
    check_passwords_on(s.settings)
    accounts.check_password(new_password)
    name = username.strip().lower()
    async with s.db.engine.connect() as conn:
        found = await store.credentials(conn, name) if accounts.USERNAME.match(name) else None
    if found is None:
        raise not_found(Code.USER_NOT_FOUND, f"There is no user named {name!r}.")
    user = found[0]
    password_hash = await accounts.hash_password(new_password)
    async with s.db.engine.begin() as conn:
        await store.set_password_hash(conn, user.id, password_hash)
        await room_store.audit(conn, now=s.clock(), actor_id=None, action="password.reset", target_id=user.id)
    ended = await accounts.do_end_sessions(s, user.id)
    logger.info("password reset by the operator for %s; %d sessions and tokens ended", user.id, ended)
    return ended
