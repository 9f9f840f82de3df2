"""Report routes: a member or a guest reports; admins list, read and resolve (docs/API.md, Reports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from parlor.actions import reports
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.guest_auth import AnyPrincipal
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["reports"])

_Id = Field(max_length=64)
# Generous: the actions say what is wrong with a long one (and store nothing).
_Note = Field(default=None, max_length=2000)
Limit = Annotated[int, Query(ge=1, le=reports.PAGE_MAX)]
Cursor = Annotated[str | None, Query(max_length=200)]
ReportId = Annotated[str, Path(max_length=64)]


class TargetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=20)
    id: str = _Id


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: TargetBody
    reason: str = Field(max_length=40)
    note: str | None = _Note
    # where a reported person was reported from: the report keeps that room's context
    room_id: str | None = Field(default=None, max_length=64)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(max_length=20)
    note: str | None = _Note


@router.post("/reports", status_code=201, responses=errors(401, 404, 409, 429))
async def make_report(body: ReportBody, user: AnyPrincipal, s: ServicesDep, address: ClientAddress) -> dict[str, Any]:
    return await reports.do_report(
        s,
        user,
        kind=body.target.kind,
        target_id=body.target.id,
        reason=body.reason,
        note=body.note,
        room_id=body.room_id,
        address=address,
    )


@router.get("/admin/reports", responses=errors(403))
async def report_queue(
    user: CurrentUser,
    s: ServicesDep,
    state: Annotated[str, Query(max_length=20)] = "open",
    cursor: Cursor = None,
    limit: Limit = reports.PAGE_DEFAULT,
) -> dict[str, Any]:
    return await reports.queue(s, user, state, cursor, limit)


@router.get("/admin/reports/{report_id}", responses=errors(403, 404))
async def get_report(report_id: ReportId, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await reports.report(s, user, report_id)


@router.post("/admin/reports/{report_id}/resolve", responses=errors(403, 404, 409))
async def resolve_report(report_id: ReportId, body: ResolveBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await reports.do_resolve(s, user, report_id, body.outcome, body.note)


@router.get("/admin/users/{user_id}/reports", responses=errors(403, 404))
async def reports_against(
    user_id: Annotated[str, Path(max_length=64)],
    user: CurrentUser,
    s: ServicesDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Cursor = None,
    limit: Limit = reports.PAGE_DEFAULT,
) -> dict[str, Any]:
    return await reports.reports_against(s, user, user_id, state, cursor, limit)
