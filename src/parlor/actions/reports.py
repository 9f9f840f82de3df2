"""Reports (docs/API.md, Reports): a member reports a person, a profile, a room, a
line of a live room's chat or a club; a guest reports what happens in the members' room
they are in; admins work through the queue; a member reporter is told the outcome.

Parlor records no audio, so a moderator works from the report, the room's audit
trail and what moderators saw. A report therefore captures, when it is made, the
context a moderator needs and nothing more: the reported person's profile text
(display name, bio), the room's title and kind, who was on stage, and the id
range of the room's audit entries of the last AUDIT_WINDOW_S (at most AUDIT_MAX),
and for a chat line its text (chat is otherwise never stored: the report is the one
place a line is kept, because a moderator cannot judge it without the words); for a
club, its name and description. A line written by a guest is kept as "a guest's", and
a report made by a guest as "by a guest": no guest id or name is stored. A guest room is
never stored, not even in a report: nothing in it can be reported.

Privacy: the reporter is told the outcome (`report_handled`), never who handled it
nor what happened to the other person; the reported person is never told who
reported them (the API names reporters to admins only). A guest reporter cannot be told:
nothing is kept to reach them by.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from parlor.actions import limits, notifications
from parlor.actions.growth import actor_id, check_admin
from parlor.actions.ids import looks_like_id, new_id
from parlor.actions.paging import check_limit, decode_cursor, encode_cursor
from parlor.actions.services import Services
from parlor.domain import reports as domain
from parlor.domain.reports import ABOUT_A_PERSON, State, TargetKind
from parlor.domain.rooms import is_guest
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import clubs as club_store
from parlor.storage import profiles as profile_store
from parlor.storage import reports as store
from parlor.storage import rooms as room_store
from parlor.storage.reports import ReportRow, StageRow

logger = logging.getLogger(__name__)

PAGE_DEFAULT, PAGE_MAX = 50, 100
# The room's audit trail a report keeps: entries of the last 15 minutes, at most 50.
AUDIT_WINDOW_S = 15 * 60
AUDIT_MAX = 50
FORMER_MEMBER: dict[str, Any] = {"id": None, "username": None, "display_name": "a former member"}
A_GUEST: dict[str, Any] = {"id": None, "username": None, "display_name": "a guest"}


def _target_not_found(kind: TargetKind) -> ParlorError:
    what = {TargetKind.ROOM: "room", TargetKind.MESSAGE: "chat message", TargetKind.CLUB: "club"}.get(kind, "person")
    return ParlorError(404, Code.REPORT_TARGET_NOT_FOUND, f"There is no such {what} to report.")


def _label(user: User) -> str:
    return f"{user.display_name} (@{user.username})"


# -- making a report -------------------------------------------------------------------------


async def _room_context(s: Services, conn: Any, room_id: str, now: float) -> tuple[dict[str, Any], list[StageRow]]:
    """The room's title and kind, who is on stage, the audit window — as of now. None of it if no such room."""
    live = s.live.get(room_id)
    stage: list[StageRow] = []
    kind: str | None = None
    if live is not None and live.guest_room:
        # Nothing of a guest room is stored (actions/guests.py), not even in a report.
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    if live is not None:
        title, kind = live.title, live.kind.value
        for p in live.participants.values():
            who = s.live.profiles.get(p.user_id)
            if p.on_stage and who is not None:
                stage.append(StageRow(p.user_id, who.username, who.display_name, p.role.value))
    else:
        stored = await room_store.room_title(conn, room_id)
        if stored is None:
            raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
        title = stored
    window = await store.audit_window(conn, room_id, now - AUDIT_WINDOW_S, AUDIT_MAX)
    values = {
        "room_id": room_id,
        "room_title": title,
        "room_kind": kind,
        "room_live": live is not None,
        "audit_from_id": window[0] if window else None,
        "audit_to_id": window[1] if window else None,
    }
    return values, stage


async def do_report(
    s: Services,
    reporter: User,
    *,
    kind: str,
    target_id: str,
    reason: str,
    note: str | None = None,
    room_id: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Report a person, a profile, a room, a chat line or a club. `room_id`: where a person
    was reported from (the room's context is kept with the report). `reporter` may be a
    guest (a person, the room or a chat line of the room they are in; kept as "a guest").
    Answers the report as its reporter sees it. Rate limited (policy `reports`, per account
    and per address; a guest per address) once the input is valid."""
    by_guest = is_guest(reporter.id)
    target_kind = domain.check_target_kind(kind)
    why = domain.check_reason(reason)
    text = domain.check_note(note)
    if by_guest:
        domain.check_guest_may_report(target_kind)
    await limits.check(s, "reports", account=None if by_guest else reporter.id, address=address)
    now = s.clock()
    if not looks_like_id(target_id):
        raise _target_not_found(target_kind)
    if target_kind is TargetKind.ROOM:
        room_id = target_id
    elif target_kind is TargetKind.MESSAGE and room_id is None:
        raise ParlorError(400, Code.INVALID_INPUT, "room_id names the room the chat message is in.")
    elif target_kind is TargetKind.CLUB and room_id is not None:
        raise ParlorError(400, Code.INVALID_INPUT, "A club is reported on its own: no room_id.")
    elif room_id is not None and not looks_like_id(room_id):
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    if by_guest:
        _check_in_guests_room(s, reporter, target_kind, target_id, room_id)
    report_id = new_id("rp")
    values: dict[str, Any] = {
        "id": report_id,
        "reporter_id": None if by_guest else reporter.id,
        "by_guest": by_guest,
        "target_kind": target_kind.value,
        "target_id": target_id,
        "reason": why.value,
        "note": text,
        "created_at": now,
        "state": State.OPEN.value,
    }
    stage: list[StageRow] = []
    try:
        async with s.db.engine.begin() as conn:
            if target_kind in ABOUT_A_PERSON:
                user = await account_store.user_by_id(conn, target_id)
                if user is None:
                    raise _target_not_found(target_kind)
                domain.check_not_self(reporter.id, user.id)
                bio = (await profile_store.profile_row(conn, user.id)).bio
                values |= {
                    "reported_user_id": user.id,
                    "target_label": _label(user),
                    "profile_username": user.username,
                    "profile_display_name": user.display_name,
                    "profile_bio": bio,
                }
            if target_kind is TargetKind.CLUB:
                club = await club_store.get_club(conn, target_id)
                if club is None:
                    raise _target_not_found(target_kind)
                values |= {"target_label": club.name, "club_name": club.name, "club_description": club.description}
            if room_id is not None:
                try:
                    room_values, stage = await _room_context(s, conn, room_id, now)
                except ParlorError as exc:
                    if target_kind is TargetKind.ROOM:
                        raise _target_not_found(target_kind) from exc
                    raise
                values |= room_values
                if target_kind is TargetKind.ROOM:
                    values["target_label"] = room_values["room_title"]
            if target_kind is TargetKind.MESSAGE:
                assert room_id is not None
                values |= await _message(s, conn, reporter, room_id, target_id)
            # A guest's reports cannot be told apart (nothing of them is kept): the limit bounds them.
            if not by_guest and await store.open_duplicate(conn, reporter.id, target_kind.value, target_id):
                raise _already_reported()
            await store.insert(conn, values, stage)
    except sa.exc.IntegrityError as exc:
        # Two identical reports at once: the unique index kept one (nothing else can clash).
        raise _already_reported() from exc
    logger.info("report %s made (%s, %s)", report_id, target_kind.value, why.value)
    return {
        "id": report_id,
        "target": {"kind": target_kind.value, "id": target_id, "label": values["target_label"]},
        "reason": why.value,
        "note": text,
        "created_at": now,
        "state": State.OPEN.value,
    }


def _check_in_guests_room(
    s: Services, guest: User, kind: TargetKind, target_id: str, room_id: str | None
) -> None:
    """A guest reports only in the room they are in, and a person only if they are in it too."""
    entry = s.live.guests.get(guest.id)
    live = s.live.get(entry.room_id) if entry is not None else None
    if live is None or room_id != live.id:
        if kind is TargetKind.ROOM:
            raise _target_not_found(kind)
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    if kind is TargetKind.PERSON and live.get(target_id) is None:
        raise _target_not_found(kind)


async def _message(s: Services, conn: Any, reporter: User, room_id: str, message_id: str) -> dict[str, Any]:
    """A line of the live room's chat, as the report keeps it: its text and its author
    (a member by id; a guest only as "a guest"). Gone (deleted, too old, the room
    ended): there is nothing to report."""
    found = next((m for m in s.chat.get(room_id).history if m.id == message_id), None)
    if s.live.get(room_id) is None or found is None:
        raise _target_not_found(TargetKind.MESSAGE)
    domain.check_not_self(reporter.id, found.user_id)
    values: dict[str, Any] = {"message_text": found.text, "target_label": "A chat message by a guest"}
    if not is_guest(found.user_id):
        author = await account_store.user_by_id(conn, found.user_id)
        if author is not None:
            values |= {"reported_user_id": author.id, "target_label": f"A chat message by {_label(author)}"}
    return values


def _already_reported() -> ParlorError:
    return ParlorError(
        409, Code.ALREADY_REPORTED, "You already reported this and it has not been handled yet: no need to again."
    )


# -- the moderators' queue -------------------------------------------------------------------


def _person(p: store.Person | None) -> dict[str, Any] | None:
    return None if p is None else {"id": p.id, "username": p.username, "display_name": p.display_name}


def _item(row: ReportRow, stage: list[StageRow], audit: list[store.AuditRow]) -> dict[str, Any]:
    """One report as admins see it (docs/API.md, Reports)."""
    profile = None
    if row.profile_username is not None:
        profile = {
            "username": row.profile_username,
            "display_name": row.profile_display_name,
            "bio": row.profile_bio or "",
        }
    room = None
    if row.room_id is not None:
        room = {
            "id": row.room_id,
            "title": row.room_title,
            "kind": row.room_kind,
            "live": bool(row.room_live),
            "stage": [
                {"user_id": p.user_id, "username": p.username, "display_name": p.display_name, "role": p.role}
                for p in stage
            ],
            "audit": [
                {"at": e.at, "action": e.action, "actor": _person(e.actor), "target": _person(e.target)} for e in audit
            ],
        }
    return {
        "id": row.id,
        "target": {"kind": row.target_kind, "id": row.target_id, "label": row.target_label},
        "reported_user": _person(row.reported),
        "reason": row.reason,
        "note": row.note,
        "reporter": dict(A_GUEST) if row.by_guest else _person(row.reporter) or dict(FORMER_MEMBER),
        "created_at": row.created_at,
        "state": row.state,
        "outcome": row.outcome,
        "handled_by": _person(row.handler),
        "handled_at": row.handled_at,
        "resolution_note": row.resolution_note,
        "context": {
            "profile": profile,
            "room": room,
            "message": None if row.message_text is None else {"text": row.message_text},
            "club": None if row.club_name is None else {"name": row.club_name, "description": row.club_description},
        },
    }


async def _items(conn: Any, rows: list[ReportRow]) -> list[dict[str, Any]]:
    """Items with their context: two queries for the whole page, not two per report."""
    ids = [row.id for row in rows]
    windows = {
        row.id: (row.room_id, row.audit_from_id, row.audit_to_id)
        for row in rows
        if row.room_id is not None and row.audit_from_id is not None and row.audit_to_id is not None
    }
    stages = await store.stages(conn, ids)
    audits = await store.audits(conn, windows)
    return [_item(row, stages.get(row.id, []), audits.get(row.id, [])) for row in rows]


def _after(cursor: str | None) -> store.After | None:
    return decode_cursor(cursor) if cursor else None


def _next(rows: list[ReportRow], limit: int, handled_order: bool) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    at = last.handled_at if handled_order and last.handled_at is not None else last.created_at
    return encode_cursor((at, last.id))


async def queue(s: Services, admin: User | None, state: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """GET /api/admin/reports: open reports oldest first, or handled ones newest first."""
    check_admin(admin)
    which = domain.check_state(state)
    check_limit(limit, PAGE_MAX)
    after = _after(cursor)
    async with s.db.engine.connect() as conn:
        rows = await store.page(conn, which.value, after, limit + 1)
        items = await _items(conn, rows[:limit])
    return {"items": items, "next": _next(rows, limit, which is State.HANDLED)}


async def reports_against(
    s: Services, admin: User, user_id: str, state: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """GET /api/admin/users/{id}/reports: person and profile reports about someone, newest first."""
    check_admin(admin)
    which = domain.check_state(state) if state else None
    check_limit(limit, PAGE_MAX)
    after = _after(cursor)
    async with s.db.engine.connect() as conn:
        user = await account_store.user_by_id(conn, user_id) if looks_like_id(user_id) else None
        if user is None:
            raise ParlorError(404, Code.USER_NOT_FOUND, "There is no such user.")
        rows = await store.page_against(conn, user.id, which.value if which else None, after, limit + 1)
        items = await _items(conn, rows[:limit])
    return {"items": items, "next": _next(rows, limit, False)}


async def _get(conn: Any, report_id: str) -> ReportRow:
    row = await store.get(conn, report_id) if looks_like_id(report_id) else None
    if row is None:
        raise ParlorError(404, Code.REPORT_NOT_FOUND, "There is no such report.")
    return row


async def report(s: Services, admin: User | None, report_id: str) -> dict[str, Any]:
    check_admin(admin)
    async with s.db.engine.connect() as conn:
        row = await _get(conn, report_id)
        [item] = await _items(conn, [row])
    return item


async def do_resolve(s: Services, admin: User | None, report_id: str, outcome: str, note: str | None) -> dict[str, Any]:
    """Handle an open report (audited); its reporter is told the outcome, not who or how."""
    check_admin(admin)
    result = domain.check_outcome(outcome)
    text = domain.check_note(note, "A resolution note")
    now = s.clock()
    async with s.db.engine.begin() as conn:
        row = await _get(conn, report_id)
        if not await store.resolve(conn, row.id, outcome=result.value, by=actor_id(admin), at=now, note=text):
            raise ParlorError(409, Code.REPORT_ALREADY_HANDLED, "This report was already handled.")
        await room_store.audit(
            conn,
            now=now,
            actor_id=actor_id(admin),
            action=f"report.{result.value}",
            room_id=row.room_id if row.target_kind == TargetKind.ROOM else None,
            target_id=row.reported.id if row.reported else None,
        )
        await admin_audit.record(
            conn,
            now=now,
            actor_id=actor_id(admin),
            action=f"report.{result.value}",
            target_id=row.reported.id if row.reported else None,
            detail=row.id,
        )
        fresh = await _get(conn, row.id)
        [item] = await _items(conn, [fresh])
    if row.reporter_id is not None:
        await notifications.notify(s, row.reporter_id, "report_handled", report_id=row.id)
    logger.info("report %s %s", row.id, result.value)
    return item
