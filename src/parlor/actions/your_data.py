"""Your data: export everything the instance holds about you; delete your account.

Deletion order: check the password; end every session (so nothing new starts);
leave every live room (their media ends with it); then one transaction removes or
anonymises every row that names the account (storage/your_data.py POLICY), after
handing each club they alone administered to its longest-standing leader or member
(or archiving it: actions/clubs.py hand_over).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from parlor.actions import accounts, clubs, rooms
from parlor.actions.services import Services
from parlor.actions.sso import NO_PASSWORD
from parlor.bus.base import user_channel
from parlor.domain.sessions import Session
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as account_store
from parlor.storage import rooms as room_store
from parlor.storage import your_data as store

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "parlor.export.v1"


async def export(s: Services, user: User) -> dict[str, Any]:
    """Everything held about `user`, table by table (docs/API.md, Your data)."""
    async with s.db.engine.connect() as conn:
        tables = await store.export(conn, user.id)
        your_clubs = await clubs.export(conn, user.id)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": s.clock(),
        "user_id": user.id,
        "username": user.username,
        "notes": {
            "hashes": f"Columns holding one-way hashes (or parts of them) read {store.HASH_MARKER!r}.",
            "binary": "Binary columns (the avatar image, a 256×256 WebP) are base64.",
            "tables": "Every row that names you: your own, and other people's rows that refer to you.",
        },
        # The clubs you are in (member, leader, admin or follower), by name: the
        # club_members rows in `tables` name them by id only.
        "clubs": your_clubs,
        "tables": tables,
    }


# An account made by single sign-on has no password to confirm its deletion with: a
# sign-in this recent confirms it instead (the identity provider asked who it is).
RECENT_SIGN_IN_S = 600.0


async def has_password(s: Services, user: User) -> bool:
    """Whether the account signs in with a password (not one made by single sign-on)."""
    async with s.db.engine.connect() as conn:
        password_hash = await account_store.password_hash_of(conn, user.id)
    return password_hash is not None and password_hash != NO_PASSWORD


async def _check_can_delete(s: Services, user: User, password: str, session: Session | None) -> None:
    if not await has_password(s, user):
        if session is None or s.clock() - session.created_at > RECENT_SIGN_IN_S:
            raise ParlorError(
                403,
                Code.SIGN_IN_AGAIN,
                f"Sign in again with {s.settings.oidc_name}, then delete your account within "
                f"{int(RECENT_SIGN_IN_S // 60)} minutes: nothing was deleted.",
            )
    elif not password or len(password) > accounts.PASSWORD_MAX:
        raise bad_input("Enter your password to delete your account.")
    else:
        try:
            await accounts.do_login(s, user.username, password)
        except ParlorError as exc:
            if exc.status == 429:  # the sign-in back-off holds here too
                raise
            raise ParlorError(403, Code.WRONG_PASSWORD, "That is not your password: nothing was deleted.") from exc
    if user.is_admin:
        async with s.db.engine.connect() as conn:
            others = await store.other_admin_exists(conn, user.id)
        if not others:
            raise ParlorError(409, Code.LAST_ADMIN, "You are the only admin: make someone else admin first.")


async def do_delete_account(s: Services, user: User, password: str, session: Session | None = None) -> None:
    """Delete `user` for good. Rooms they were in go on; history shows "a former member".
    Confirmed by the password, or for an account without one by `session` (the one asking)
    being a recent sign-in."""
    await _check_can_delete(s, user, password, session)
    async with s.db.engine.begin() as conn:
        await store.end_sessions(conn, user.id)
    for room in list(s.live.rooms.values()):
        if user.id in room.participants:
            try:
                await rooms.do_leave(s, user.id, room.id)
            except ParlorError:
                pass  # the room ended meanwhile
    async with s.db.engine.begin() as conn:
        await clubs.hand_over(conn, user.id, s.clock())
        await store.forget(conn, user.id)
        await room_store.audit(conn, now=s.clock(), actor_id=None, action="account.delete")
    s.live.profiles.pop(user.id, None)
    # open sockets close (transport/ws): their sessions no longer exist
    await s.bus.publish(user_channel(user.id), {"name": "account.deleted", "data": {}})
    for room_id in [r.id for r in s.live.rooms.values() if r.created_by == user.id]:
        # Live rooms they started go on; their snapshots no longer name them ("" = a former member).
        async with s.live.lock(room_id):
            live = s.live.get(room_id)
            if live is not None and live.created_by == user.id:
                s.live.put(dataclasses.replace(live, created_by=""))
    logger.info("account deleted")
