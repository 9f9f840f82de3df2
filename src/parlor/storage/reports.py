"""Queries for reports: storing one with its context, the moderators' queue, resolving."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import audit_log, report_stage, reports, users

After = tuple[float, str]


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class ReportRow:
    """A stored report, with the people it names as they are now (None: account gone)."""

    id: str
    target_kind: str
    target_id: str
    reason: str
    note: str | None
    created_at: float
    state: str
    outcome: str | None
    handled_at: float | None
    resolution_note: str | None
    target_label: str
    profile_username: str | None
    profile_display_name: str | None
    profile_bio: str | None
    room_id: str | None
    room_title: str | None
    room_kind: str | None
    room_live: bool | None
    audit_from_id: int | None
    audit_to_id: int | None
    message_text: str | None
    club_name: str | None
    club_description: str | None
    by_guest: bool
    reporter_id: str | None
    reporter: Person | None
    reported: Person | None
    handler: Person | None


@dataclass(frozen=True)
class StageRow:
    user_id: str
    username: str
    display_name: str
    role: str


@dataclass(frozen=True)
class AuditRow:
    at: float
    action: str
    actor: Person | None
    target: Person | None


# -- writes ------------------------------------------------------------------------------


async def insert(conn: AsyncConnection, values: dict[str, Any], stage: list[StageRow]) -> None:
    await conn.execute(reports.insert().values(**values))
    if stage:
        await conn.execute(
            report_stage.insert(),
            [
                {
                    "report_id": values["id"],
                    "user_id": p.user_id,
                    "username": p.username,
                    "display_name": p.display_name,
                    "role": p.role,
                }
                for p in stage
            ],
        )


async def resolve(
    conn: AsyncConnection, report_id: str, *, outcome: str, by: str | None, at: float, note: str | None
) -> bool:
    """Mark an open report handled. False when it is not open (handled meanwhile, or none)."""
    result = await conn.execute(
        reports.update()
        .where(reports.c.id == report_id, reports.c.state == "open")
        .values(state="handled", outcome=outcome, handled_by=by, handled_at=at, resolution_note=note)
    )
    return result.rowcount == 1


# -- checks before writing ----------------------------------------------------------------


async def open_duplicate(conn: AsyncConnection, reporter_id: str, kind: str, target_id: str) -> bool:
    row = await conn.execute(
        sa.select(reports.c.id).where(
            reports.c.reporter_id == reporter_id,
            reports.c.target_kind == kind,
            reports.c.target_id == target_id,
            reports.c.state == "open",
        )
    )
    return row.first() is not None


async def audit_window(conn: AsyncConnection, room_id: str, since: float, most: int) -> tuple[int, int] | None:
    """The id range of the room's newest `most` audit entries made after `since`, or None."""
    newest = (
        sa.select(audit_log.c.id)
        .where(audit_log.c.room_id == room_id, audit_log.c.at >= since)
        .order_by(audit_log.c.id.desc())
        .limit(most)
        .subquery()
    )
    row = (await conn.execute(sa.select(sa.func.min(newest.c.id), sa.func.max(newest.c.id)))).one()
    return None if row[0] is None else (int(row[0]), int(row[1]))


# -- reads ---------------------------------------------------------------------------------

_reporter = users.alias("reporter")
_reported = users.alias("reported")
_handler = users.alias("handler")
_PLAIN = [f.name for f in fields(ReportRow) if f.name not in ("reporter", "reported", "handler")]


def _people(alias: Any, prefix: str) -> list[sa.Label[Any]]:
    return [
        alias.c.id.label(f"{prefix}_id_"),
        alias.c.username.label(f"{prefix}_username"),
        alias.c.display_name.label(f"{prefix}_display_name"),
    ]


def _query() -> sa.Select[Any]:
    return sa.select(
        *(reports.c[name] for name in _PLAIN),
        *_people(_reporter, "reporter"),
        *_people(_reported, "reported"),
        *_people(_handler, "handler"),
    ).select_from(
        reports.outerjoin(_reporter, _reporter.c.id == reports.c.reporter_id)
        .outerjoin(_reported, _reported.c.id == reports.c.reported_user_id)
        .outerjoin(_handler, _handler.c.id == reports.c.handled_by)
    )


def _person(row: Any, prefix: str) -> Person | None:
    m = row._mapping
    if m[f"{prefix}_id_"] is None:
        return None
    return Person(m[f"{prefix}_id_"], m[f"{prefix}_username"], m[f"{prefix}_display_name"])


def _row(row: Any) -> ReportRow:
    m = row._mapping
    plain = {name: m[name] for name in _PLAIN}
    plain["room_live"] = None if plain["room_live"] is None else bool(plain["room_live"])
    plain["by_guest"] = bool(plain["by_guest"])
    return ReportRow(
        **plain,
        reporter=_person(row, "reporter"),
        reported=_person(row, "reported"),
        handler=_person(row, "handler"),
    )


async def get(conn: AsyncConnection, report_id: str) -> ReportRow | None:
    row = (await conn.execute(_query().where(reports.c.id == report_id))).first()
    return _row(row) if row else None


def _keyset(time: Any, after: After | None, ascending: bool) -> sa.ColumnElement[bool]:
    if after is None:
        return sa.true()
    at, report_id = after
    if ascending:
        return sa.or_(time > at, sa.and_(time == at, reports.c.id > report_id))
    return sa.or_(time < at, sa.and_(time == at, reports.c.id < report_id))


async def page(conn: AsyncConnection, state: str, after: After | None, limit: int) -> list[ReportRow]:
    """Open reports oldest first (a queue); handled ones most recently handled first."""
    if state == "open":
        time, ascending = reports.c.created_at, True
    else:
        time, ascending = reports.c.handled_at, False
    order = (time.asc(), reports.c.id.asc()) if ascending else (time.desc(), reports.c.id.desc())
    query = _query().where(reports.c.state == state, _keyset(time, after, ascending)).order_by(*order).limit(limit)
    return [_row(row) for row in await conn.execute(query)]


async def page_against(
    conn: AsyncConnection, user_id: str, state: str | None, after: After | None, limit: int
) -> list[ReportRow]:
    """Reports about one person (their person and profile reports), newest first."""
    query = _query().where(reports.c.reported_user_id == user_id, _keyset(reports.c.created_at, after, False))
    if state is not None:
        query = query.where(reports.c.state == state)
    query = query.order_by(reports.c.created_at.desc(), reports.c.id.desc()).limit(limit)
    return [_row(row) for row in await conn.execute(query)]


async def stages(conn: AsyncConnection, report_ids: list[str]) -> dict[str, list[StageRow]]:
    out: dict[str, list[StageRow]] = {}
    if not report_ids:
        return out
    query = (
        sa.select(report_stage)
        .where(report_stage.c.report_id.in_(report_ids))
        .order_by(report_stage.c.report_id, report_stage.c.role, report_stage.c.display_name)
    )
    for row in await conn.execute(query):
        out.setdefault(row.report_id, []).append(StageRow(row.user_id, row.username, row.display_name, row.role))
    return out


async def audits(conn: AsyncConnection, windows: dict[str, tuple[str, int, int]]) -> dict[str, list[AuditRow]]:
    """Each report's audit entries: report id → (room id, first id, last id), oldest first."""
    out: dict[str, list[AuditRow]] = {}
    if not windows:
        return out
    actor, target = users.alias("actor"), users.alias("target")
    report_of: dict[tuple[str, int, int], list[str]] = {}
    for report_id, window in windows.items():
        report_of.setdefault(window, []).append(report_id)
    query = (
        sa.select(
            audit_log.c.id,
            audit_log.c.room_id,
            audit_log.c.at,
            audit_log.c.action,
            *_people(actor, "actor"),
            *_people(target, "target"),
        )
        .select_from(
            audit_log.outerjoin(actor, actor.c.id == audit_log.c.actor_id).outerjoin(
                target, target.c.id == audit_log.c.target_id
            )
        )
        .where(
            sa.or_(
                *(
                    sa.and_(audit_log.c.room_id == room, audit_log.c.id.between(first, last))
                    for room, first, last in sorted(report_of)
                )
            )
        )
        .order_by(audit_log.c.id)
    )
    for row in await conn.execute(query):
        entry = AuditRow(float(row.at), row.action, _person(row, "actor"), _person(row, "target"))
        for (room, first, last), report_ids in report_of.items():
            if row.room_id == room and first <= row.id <= last:
                for report_id in report_ids:
                    out.setdefault(report_id, []).append(entry)
    return out
