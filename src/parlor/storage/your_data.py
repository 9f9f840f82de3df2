"""Everything the database holds about one person: find it, export it, forget it.

Generic over `tables.metadata`: the rows about a person are those where a column
that references users (`ForeignKey("users.id")`, or one of SOFT_REFERENCES, which
hold user ids without a foreign key) names them, plus their own `users` row. A
new table is covered by the export as soon as it is declared; deletion needs a
POLICY entry for each such column, and tests/test_your_data.py fails until it has one.
"""

from __future__ import annotations

import base64
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage import profiles as profile_store
from parlor.storage.tables import metadata, sessions, users

HASH_MARKER = "(stored only as a hash)"

# Columns that hold a user id without a foreign key (the audit log outlives the people in it).
SOFT_REFERENCES = frozenset(
    {"audit_log.actor_id", "audit_log.target_id", "admin_audit.actor_id", "admin_audit.target_id"}
)


class Policy(Enum):
    """What deleting an account does to a row whose column names the account."""

    DELETE = "delete the row"
    NULL = "set the column NULL"


POLICY: dict[str, Policy] = {
    # users: the people they nominated stay, "nominated by a former member"
    "users.invited_by": Policy.NULL,
    "sessions.user_id": Policy.DELETE,
    # invites they made: unused ones are deleted (UNUSED_FIRST), used ones keep their history
    "invites.created_by": Policy.NULL,
    # their own invite: nothing is left to say once they are gone (and NULL would reopen it)
    "invites.used_by": Policy.DELETE,
    "rooms.created_by": Policy.NULL,
    "room_blocks.moderator_id": Policy.DELETE,
    "room_blocks.blocked_id": Policy.DELETE,
    "audit_log.actor_id": Policy.NULL,
    "audit_log.target_id": Policy.NULL,
    "follows.follower_id": Policy.DELETE,
    "follows.followee_id": Policy.DELETE,
    "user_blocks.blocker_id": Policy.DELETE,
    "user_blocks.blocked_id": Policy.DELETE,
    # growth: a waitlisted person they let in stays let in
    "waitlist.admitted_by": Policy.NULL,
    # profiles
    "profiles.user_id": Policy.DELETE,
    "avatars.user_id": Policy.DELETE,
    # contacts: their findable identifiers (keyed hashes) go
    "contact_identifiers.user_id": Policy.DELETE,
    # notifications: theirs, and those about them ("X followed you" would name no one)
    "notifications.user_id": Policy.DELETE,
    "notifications.actor_id": Policy.DELETE,
    "notification_mutes.user_id": Policy.DELETE,
    # sanctions: their own history goes with them; those they gave as an admin stay, by nobody
    "sanctions.user_id": Policy.DELETE,
    "sanctions.actor_id": Policy.NULL,
    # the admin audit log outlives the people in it, as audit_log does
    "admin_audit.actor_id": Policy.NULL,
    "admin_audit.target_id": Policy.NULL,
    # account safety: their sign-in history
    "sign_ins.user_id": Policy.DELETE,
    # single sign-on: the link to their provider's account (a new sign-in makes a new account)
    "sso_identities.user_id": Policy.DELETE,
    # reports: those they made stay for moderators, by "a former member"; those about them
    # go with them (with the profile text they captured); so do their places on a stage
    "reports.reporter_id": Policy.NULL,
    "reports.reported_user_id": Policy.DELETE,
    "reports.handled_by": Policy.NULL,
    "report_stage.user_id": Policy.DELETE,
    # events: those they host are deleted (with their co-hosts, "notify me" rows, reminders
    # and the notifications about them, by ON DELETE CASCADE); they leave others' events as
    # a co-host; their "notify me" rows, reminders sent and calendar feed go
    "events.host_id": Policy.DELETE,
    "event_cohosts.user_id": Policy.DELETE,
    "event_subscriptions.user_id": Policy.DELETE,
    "event_reminders.user_id": Policy.DELETE,
    "calendar_feeds.user_id": Policy.DELETE,
    # clubs: their places in clubs and what waited for them go; a club they founded stays
    # (a club they alone administered was handed over first: actions/clubs.py hand_over);
    # an invitation or nomination they made stays, by nobody
    "clubs.created_by": Policy.NULL,
    "club_members.user_id": Policy.DELETE,
    "club_requests.user_id": Policy.DELETE,
    "club_requests.by_id": Policy.NULL,
    "interests.user_id": Policy.DELETE,
}

# Columns an export withholds from the person it is for, by the column that names them:
# a report's reporter never learns who handled it nor the moderators' note, and the
# reported person never learns who reported them nor what was said. A column is shown
# when any of the columns naming the person allows it (an admin handling their own report).
WITHHELD_MARKER = "(withheld to protect others)"
WITHHELD: dict[str, frozenset[str]] = {
    "reports.reporter_id": frozenset({"handled_by", "resolution_note"}),
    "reports.reported_user_id": frozenset({"reporter_id", "note", "handled_by", "resolution_note"}),
}

# Rows deleted before POLICY applies, although their column's policy is NULL.
UNUSED_FIRST: dict[str, Any] = {
    "invites.created_by": lambda table: table.c.used_by.is_(None),
}


def _references_users(column: sa.Column[Any]) -> bool:
    return any(fk.target_fullname == "users.id" for fk in column.foreign_keys)


def reference_columns() -> list[sa.Column[Any]]:
    """Every column that may hold a user id, in table dependency order."""
    found: list[sa.Column[Any]] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if _references_users(column) or f"{table.name}.{column.name}" in SOFT_REFERENCES:
                found.append(column)
    return found


def is_secret_hash(column: sa.Column[Any]) -> bool:
    """A one-way hash (of a password, session, token, invite code, contact identifier…): never exported."""
    return column.name == "hash" or column.name.endswith("_hash") or bool(column.info.get("secret"))


def export_value(column: sa.Column[Any], value: Any) -> Any:
    """How one stored value appears in an export (docs/API.md, Your data)."""
    if value is None:
        return None
    if is_secret_hash(column):
        return HASH_MARKER
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


async def export(conn: AsyncConnection, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about `user_id`, per table, exported (secret hashes replaced by a marker)."""
    by_table: dict[str, list[sa.Column[Any]]] = {}
    for column in reference_columns():
        by_table.setdefault(column.table.name, []).append(column)
    by_table.setdefault(users.name, []).insert(0, users.c.id)
    out: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        columns = by_table.get(table.name)
        if not columns:
            continue
        query = sa.select(table).where(sa.or_(*(c == user_id for c in columns)))
        if table.primary_key.columns:
            query = query.order_by(*table.primary_key.columns)
        rows = (await conn.execute(query)).mappings().all()
        out[table.name] = [_exported_row(table, columns, row, user_id) for row in rows]
    return out


def _exported_row(
    table: sa.Table, naming: list[sa.Column[Any]], row: Any, user_id: str
) -> dict[str, Any]:
    withheld: frozenset[str] | None = None
    for column in naming:
        if row[column.name] == user_id:
            hidden = WITHHELD.get(f"{table.name}.{column.name}", frozenset())
            withheld = hidden if withheld is None else withheld & hidden
    out = {}
    for c in table.columns:
        value = export_value(c, row[c.name])
        if withheld and c.name in withheld and value is not None:
            value = WITHHELD_MARKER
        out[c.name] = value
    return out


async def forget(conn: AsyncConnection, user_id: str) -> None:
    """Delete the account and everything that names it, by POLICY; the rest is left anonymous.

    Raises KeyError for a referencing column without a policy (before changing anything).
    """
    columns = reference_columns()
    policies = [(column, POLICY[f"{column.table.name}.{column.name}"]) for column in columns]
    await profile_store.mark_nominated_by_former(conn, user_id)
    for column, _ in policies:
        first = UNUSED_FIRST.get(f"{column.table.name}.{column.name}")
        if first is not None:
            await conn.execute(column.table.delete().where(column == user_id, first(column.table)))
    # Dependents first (reverse dependency order), so no foreign key is left dangling.
    for column, policy in reversed(policies):
        table = column.table
        if policy is Policy.DELETE:
            await conn.execute(table.delete().where(column == user_id))
        else:
            await conn.execute(table.update().where(column == user_id).values({column.name: None}))
    await conn.execute(users.delete().where(users.c.id == user_id))


async def end_sessions(conn: AsyncConnection, user_id: str) -> None:
    """Every browser session and bearer token of `user_id`."""
    await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))


async def other_admin_exists(conn: AsyncConnection, user_id: str) -> bool:
    row = await conn.execute(sa.select(users.c.id).where(users.c.is_admin.is_(True), users.c.id != user_id).limit(1))
    return row.first() is not None
