"""HTTP routes: the inbox, mute settings, pings (docs/API.md, Notifications and pings)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from parlor.actions import notifications
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["notifications"])

_Id = Field(min_length=1, max_length=64)
# Integer ids (a 32-bit column on PostgreSQL).
ID_MAX = 2**31 - 1
_NotificationId = Annotated[StrictInt, Field(ge=1, le=ID_MAX)]


class PingBody(BaseModel):
    room_id: str = _Id
    user_id: str = _Id


class ReadAllBody(BaseModel):
    up_to: _NotificationId | None = None


class MutesBody(BaseModel):
    muted: dict[Annotated[str, Field(max_length=40)], StrictBool] = Field(max_length=20)


@router.get("/notifications")
async def inbox(
    user: CurrentUser,
    s: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=notifications.PAGE_MAX)] = notifications.PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
) -> dict[str, Any]:
    return await notifications.inbox(s, user, limit, before)


@router.post("/notifications/read-all")
async def read_all(user: CurrentUser, s: ServicesDep, body: ReadAllBody | None = None) -> dict[str, Any]:
    return await notifications.do_mark_all_read(s, user, body.up_to if body else None)


@router.post("/notifications/{notification_id}/read")
async def read_one(
    notification_id: Annotated[int, Path(ge=1, le=ID_MAX)], user: CurrentUser, s: ServicesDep
) -> dict[str, Any]:
    return await notifications.do_mark_read(s, user, notification_id)


@router.get("/notifications/settings")
async def get_mutes(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await notifications.mutes(s, user)


@router.put("/notifications/settings")
async def put_mutes(body: MutesBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await notifications.do_set_mutes(s, user, body.muted)


@router.post("/pings", status_code=204, responses=errors(404, 409, 410, 429))
async def ping(body: PingBody, user: CurrentUser, s: ServicesDep) -> Response:
    await notifications.do_ping(s, user, body.room_id, body.user_id)
    return Response(status_code=204)
