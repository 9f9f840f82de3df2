"""Accounts: the one-time admin setup, invites, sign-up, sign-in, sessions, tokens."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parlor.actions import limits
from parlor.actions.ids import digest, looks_like_id, new_id, new_secret
from parlor.actions.services import Services
from parlor.actions.sign_in_methods import check_passwords_on
from parlor.actions.standing import check_standing
from parlor.bus.base import user_channel
from parlor.domain.sessions import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX, Session, client_label
from parlor.domain.text import bad_text, clean_text, has_bad_characters
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as store
from parlor.storage import rooms as room_store
from parlor.storage import sessions as session_store

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
    """A fresh one-time setup token while no admin exists (a new one per start). None in
    SSO-only mode too: admins come from the provider's group claim there."""
    if s.settings.sso_only:
        return None
    async with s.db.engine.begin() as conn:
        if await store.admin_exists(conn):
            return None
        token = new_secret()
        await store.set_fact(conn, SETUP_KEY, digest(token))
    return token


async def do_setup(s: Services, token: str, username: str, display_name: str, password: str) -> User:
    check_passwords_on(s.settings)
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


# -- sessions ------------------------------------------------------------------------


async def do_login(s: Services, username: str, password: str, *, address: str | None = None) -> User:
    """Sign-in, throttled per username and per `address` (the client's) before any hashing:
    a loop of wrong passwords would otherwise hold the CPU (argon2) for everyone."""
    name = username.strip().lower()
    await limits.check_sign_in(s, name, address)
    async with s.db.engine.connect() as conn:
        found = await store.credentials(conn, name) if USERNAME.match(name) else None
    if found is None:
        await _verify(_DUMMY_HASH, password)
        raise ParlorError(401, Code.BAD_CREDENTIALS, "Wrong username or password.")
    user, password_hash = found
    if not await _verify(password_hash, password):
        raise ParlorError(401, Code.BAD_CREDENTIALS, "Wrong username or password.")
    await limits.signed_in(s, name, address)
    # Only once the password is right: a suspension is nobody else's business.
    await check_standing(s, user)
    if _hasher.check_needs_rehash(password_hash):
        async with s.db.engine.begin() as conn:
            await store.set_password_hash(conn, user.id, await hash_password(password))
    return user


async def do_start_session(s: Services, user: User, client: str | None = None) -> str:
    """A new browser session; returns the secret for the cookie. `client` is the coarse
    label of the browser (domain/sessions.py client_label)."""
    secret = new_secret()
    now = s.clock()
    async with s.db.engine.begin() as conn:
        await store.insert_session(
            conn,
            secret_hash=digest(secret),
            session_id=new_id("s"),
            user_id=user.id,
            kind="cookie",
            name=None,
            now=now,
            expires_at=now + s.settings.session_days * 86400,
            client=client,
            last_used_at=now,
        )
    return secret


async def do_end_session(s: Services, secret: str) -> None:
    secret_hash = digest(secret)
    async with s.db.engine.begin() as conn:
        user_id = await store.delete_session(conn, secret_hash)
    if user_id is not None:
        await _close_sockets(s, user_id, [secret_hash])


async def do_end_sessions(
    s: Services, user_id: str, *, keep_secret: str | None = None, kind: str | None = None
) -> int:
    """End every session and token of a user and close the sockets they opened. Keeps the
    one in use (`keep_secret`), if given; with `kind`, ends only those of that kind
    ("cookie": browser sessions). Returns how many ended."""
    keep_hash = digest(keep_secret) if keep_secret else None
    async with s.db.engine.begin() as conn:
        ended = await store.delete_sessions_of(conn, user_id, keep_hash=keep_hash, kind=kind)
    if ended:
        await _close_sockets(s, user_id, ended)
    return len(ended)


async def do_revoke_session(s: Services, user: User, session_id: str, kind: str) -> str | None:
    """End one of `user`'s own sessions (kind "cookie") or tokens ("bearer") by its public
    id and close the sockets it opened. Returns its secret's hash; None when they have
    none by that id."""
    if not looks_like_id(session_id):
        return None
    async with s.db.engine.begin() as conn:
        secret_hash = await session_store.delete_by_id(conn, user.id, session_id, kind)
        if secret_hash is not None and kind == "bearer":
            await room_store.audit(conn, now=s.clock(), actor_id=user.id, action="token.revoke")
    if secret_hash is not None:
        await _close_sockets(s, user.id, [secret_hash])
    return secret_hash


async def _close_sockets(s: Services, user_id: str, secret_hashes: list[str]) -> None:
    # Every node closes the sockets those sessions opened (transport/ws/endpoint.py).
    await s.bus.publish(user_channel(user_id), {"name": "account.signed_out", "data": {"sessions": secret_hashes}})


def check_token_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= TOKEN_DAYS_MAX:
        raise bad_input(f"A token lasts 1 to {TOKEN_DAYS_MAX} days, or has no expiration (null).")
    return days


async def do_create_token(
    s: Services, user: User, name: str, expires_in_days: int | None = TOKEN_DAYS_DEFAULT
) -> dict[str, Any]:
    """A bearer token for a bot or script; the secret is in the answer and nowhere else.
    It expires after `expires_in_days` (None: never, which the page warns about)."""
    label = clean_text(name, "A token name", min_len=1, max_len=60)
    days = check_token_days(expires_in_days)
    secret = "pt_" + new_secret()
    token_id = new_id("s")
    now = s.clock()
    expires_at = now + days * 86400 if days is not None else None
    async with s.db.engine.begin() as conn:
        await store.insert_session(
            conn,
            secret_hash=digest(secret),
            session_id=token_id,
            user_id=user.id,
            kind="bearer",
            name=label,
            now=now,
            expires_at=expires_at,
        )
        await room_store.audit(conn, now=now, actor_id=user.id, action="token.create")
    return {"token": secret, "id": token_id, "name": label, "created_at": now, "expires_at": expires_at}


async def authenticate_session(
    s: Services, secret: str, kind: str, user_agent: str | None = None
) -> tuple[User, Session] | None:
    """Who a session cookie or token stands for, and which session it is. Records its use,
    and the coarse label of the client (never the User-Agent itself), at most once per
    TOUCH_INTERVAL_S."""
    if not secret or len(secret) > 200:
        return None
    secret_hash = digest(secret)
    now = s.clock()
    async with s.db.engine.connect() as conn:
        found = await store.session_for(conn, secret_hash, kind, now)
    if found is not None and found[1].needs_touch(now):
        async with s.db.engine.begin() as conn:
            await session_store.touch(conn, secret_hash, now, client_label(user_agent))
    return found


async def authenticate(s: Services, secret: str, kind: str, user_agent: str | None = None) -> User | None:
    found = await authenticate_session(s, secret, kind, user_agent)
    return found[0] if found else None


async def session_alive(s: Services, secret_hash: str) -> bool:
    """Is this session or token still there and unexpired (an open socket asks now and then)?"""
    async with s.db.engine.connect() as conn:
        return await session_store.alive(conn, secret_hash, s.clock())


async def users_by_ids(s: Services, user_ids: list[str]) -> dict[str, User]:
    async with s.db.engine.connect() as conn:
        return await store.users_by_ids(conn, user_ids)
