"""A member's own sessions and tokens: list them, revoke one, sign out everywhere else.

Sessions and tokens are named by a public id; the secret's hash never leaves the server.
Revoking one closes the sockets it opened (actions/accounts.py do_revoke_session).
"""

from __future__ import annotations

from typing import Any

from parlor.actions import accounts
from parlor.actions.ids import digest
from parlor.actions.services import Services
from parlor.domain.sessions import Session
from parlor.domain.users import User
from parlor.errors import Code, not_found
from parlor.storage import sessions as store

KINDS = {"sessions": "cookie", "tokens": "bearer"}


def view(session: Session, current: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": session.id,
        "client": session.client,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "expires_at": session.expires_at,
        "current": current,
    }
    if session.kind == "bearer":
        out["name"] = session.name
    return out


async def list_mine(s: Services, user: User, kind: str, current_secret: str | None) -> list[dict[str, Any]]:
    """`user`'s unexpired browser sessions (kind "cookie") or tokens ("bearer"), the one the
    request came with marked `current`. Expired ones are deleted on the way."""
    now = s.clock()
    async with s.db.engine.begin() as conn:
        await store.delete_expired_of(conn, user.id, now)
        found = await store.list_of(conn, user.id, kind, now, digest(current_secret) if current_secret else None)
    return [view(session, current) for session, current in found]


async def do_revoke(s: Services, user: User, session_id: str, kind: str, current_secret: str | None) -> bool:
    """Revoke one of `user`'s sessions or tokens; True if it was the one in use."""
    ended = await accounts.do_revoke_session(s, user, session_id, kind)
    if ended is None:
        if kind == "bearer":
            raise not_found(Code.TOKEN_NOT_FOUND, "You have no token with that id.")
        raise not_found(Code.SESSION_NOT_FOUND, "You have no session with that id.")
    return current_secret is not None and ended == digest(current_secret)


async def do_end_other_sessions(s: Services, user: User, current_secret: str | None) -> int:
    """Sign out every other browser session of `user` (tokens stay: they are revoked one by
    one, or all by a password change). Returns how many ended."""
    return await accounts.do_end_sessions(s, user.id, keep_secret=current_secret, kind="cookie")
