"""Accounts: the one-time admin setup, invites, sign-up, sign-in, sessions, tokens."""

from __future__ import annotations

import asyncio
import logging
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parlor.actions.ids import digest, new_id, new_secret
from parlor.actions.services import Services
from parlor.domain.text import bad_text, clean_text, has_bad_characters
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as store
from parlor.storage import rooms as room_store

logger = logging.getLogger(__name__)

SETUP_KEY = "setup_token_hash"
USERNAME = re.compile(r"^[a-z0-9_]{3,30}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 200
DISPLAY_NAME_MAX = 50

# argon2id with the library's (RFC 9106 "low memory") defaults.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing doesn't tell.
_DUMMY_HASH = _hasher.hash("parlor-no-such-user")


async def hash_password(password: str) -> str:
    # ~50 ms of CPU: off the event loop, which also carries the media fast path.
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_username(username: str) -> str:
    if has_bad_characters(username):
        raise bad_text("A username")
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise bad_input("A username is 3 to 30 letters, digits or underscores.")
    return name


def check_display_name(display_name: str) -> str:
    return clean_text(display_name, "A display name", min_len=1, max_len=DISPLAY_NAME_MAX)


def check_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise bad_input(f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters.")


# -- first run -------------------------------------------------------------------


async def setup_needed(s: Services) -> bool:
    async with s.db.engine.connect() as conn:
        return not await store.admin_exists(conn)


async def do_issue_setup_token(s: Services) -> str | None:
    """A fresh one-time setup token while no admin exists (a new one per start)."""
    async with s.db.engine.begin() as conn:
        if await store.admin_exists(conn):
            return None
        token = new_secret()
        await store.set_fact(conn, SETUP_KEY, digest(token))
    return token


async def do_setup(s: Services, token: str, username: str, display_name: str, password: str) -> User:
    name, shown = check_username(username), check_display_name(display_name)
    check_password(password)
    password_hash = await hash_password(password)
    async with s.db.engine.begin() as conn:
        if await store.admin_exists(conn):
            raise ParlorError(409, Code.SETUP_DONE, "This instance already has an admin.")
        if await store.get_fact(conn, SETUP_KEY) != digest(token):
            raise ParlorError(403, Code.INVALID_SETUP_TOKEN, "This setup link is not valid.")
        await store.delete_fact(conn, SETUP_KEY)
        user = await store.insert_user(
            conn,
            user_id=new_id("u"),
            username=name,
            display_name=shown,
            password_hash=password_hash,
            is_admin=True,
            invited_by=None,
            now=s.clock(),
        )
        await room_store.audit(conn, now=s.clock(), actor_id=user.id, action="setup")
    logger.info("admin account created: %s", user.id)
    return user


# -- invites and sign-up (the rules are in actions/growth.py) ------------------------------


async def do_create_invite(s: Services, actor: User | None) -> str:
    """An invite code. `actor` None is the operator's CLI."""
    from parlor.actions import growth  # growth builds on this module

    return str((await growth.do_create_invite(s, actor))["code"])


# -- sessions ------------------------------------------------------------------------


async def do_login(s: Services, username: str, password: str) -> User:
    name = username.strip().lower()
    async with s.db.engine.connect() as conn:
        found = await store.credentials(conn, name) if USERNAME.match(name) else None
    if found is None:
        await _verify(_DUMMY_HASH, password)
        raise ParlorError(401, Code.BAD_CREDENTIALS, "Wrong username or password.")
    user, password_hash = found
    if not await _verify(password_hash, password):
        raise ParlorError(401, Code.BAD_CREDENTIALS, "Wrong username or password.")
    if _hasher.check_needs_rehash(password_hash):
        async with s.db.engine.begin() as conn:
            await store.set_password_hash(conn, user.id, await hash_password(password))
    return user


async def do_start_session(s: Services, user: User) -> str:
    """A new browser session; returns the secret for the cookie."""
    secret = new_secret()
    now = s.clock()
    async with s.db.engine.begin() as conn:
        await store.insert_session(
            conn,
            secret_hash=digest(secret),
            user_id=user.id,
            kind="cookie",
            name=None,
            now=now,
            expires_at=now + s.settings.session_days * 86400,
        )
    return secret


async def do_end_session(s: Services, secret: str) -> None:
    async with s.db.engine.begin() as conn:
        await store.delete_session(conn, digest(secret))


async def do_create_token(s: Services, user: User, name: str) -> str:
    label = clean_text(name, "A token name", min_len=1, max_len=60)
    secret = "pt_" + new_secret()
    async with s.db.engine.begin() as conn:
        await store.insert_session(
            conn,
            secret_hash=digest(secret),
            user_id=user.id,
            kind="bearer",
            name=label,
            now=s.clock(),
            expires_at=None,
        )
        await room_store.audit(conn, now=s.clock(), actor_id=user.id, action="token.create")
    return secret


async def authenticate(s: Services, secret: str, kind: str) -> User | None:
    if not secret or len(secret) > 200:
        return None
    async with s.db.engine.connect() as conn:
        return await store.user_for_session(conn, digest(secret), kind, s.clock())


async def users_by_ids(s: Services, user_ids: list[str]) -> dict[str, User]:
    async with s.db.engine.connect() as conn:
        return await store.users_by_ids(conn, user_ids)
