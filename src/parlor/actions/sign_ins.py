"""Signing in with a password, and the member's own sign-in history.

Every attempt on an existing account is recorded for its owner: when, from what kind of
client ("Firefox on Linux"), and whether it worked (else the error code it got). No
address is kept. Attempts on unknown usernames record nothing: there is nobody to tell.
Entries are kept SIGN_IN_KEEP_DAYS.
"""

from __future__ import annotations

from typing import Any

from parlor.actions import accounts
from parlor.actions.services import Services
from parlor.actions.sign_in_methods import check_passwords_on
from parlor.domain.sessions import SIGN_IN_KEEP_DAYS, SIGN_IN_MERGE_S
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import accounts as account_store
from parlor.storage import sign_ins as store

HISTORY_LIMIT = 100
OK = "ok"


async def do_sign_in(
    s: Services, username: str, password: str, client: str | None, *, address: str | None = None
) -> User:
    """accounts.do_login, recorded in the account's history either way (but attempts
    refused by the back-off: a flood must not cost a write per request)."""
    check_passwords_on(s.settings)
    try:
        user = await accounts.do_login(s, username, password, address=address)
    except ParlorError as exc:
        if exc.code is not Code.RATE_LIMITED:
            await _record_failure(s, username, client, exc.code.value)
        raise
    await record(s, user.id, client, OK)
    return user


async def _record_failure(s: Services, username: str, client: str | None, code: str) -> None:
    name = username.strip().lower()
    if not accounts.USERNAME.match(name):
        return
    async with s.db.engine.connect() as conn:
        found = await account_store.credentials(conn, name)
    if found is not None:
        await record(s, found[0].id, client, code)


async def record(s: Services, user_id: str, client: str | None, result: str) -> None:
    """One attempt on `user_id`'s account: OK, or the code it was refused with (also
    for single sign-on, actions/sso.py)."""
    now = s.clock()
    # Failures merge: a burst of wrong passwords is one entry with a count (and one row).
    merge_after = now - SIGN_IN_MERGE_S if result != OK else None
    async with s.db.engine.begin() as conn:
        await store.record(conn, user_id, now, client, result, merge_after=merge_after)
        await store.prune(conn, now - SIGN_IN_KEEP_DAYS * 86400)


async def history(s: Services, user: User) -> dict[str, Any]:
    since = s.clock() - SIGN_IN_KEEP_DAYS * 86400
    async with s.db.engine.connect() as conn:
        rows = await store.recent(conn, user.id, since, HISTORY_LIMIT)
    entries = [{**row, "ok": row["result"] == OK} for row in rows]
    return {"sign_ins": entries, "kept_days": SIGN_IN_KEEP_DAYS}
