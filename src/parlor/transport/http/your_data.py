"""Your data routes: the export download and account deletion."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from parlor.actions import your_data
from parlor.transport.http.auth import COOKIE, CurrentUser, ServicesDep, current_session, served_over_https
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["your_data"])


@router.get("/me/export", response_class=Response)
async def export(user: CurrentUser, s: ServicesDep) -> Response:
    body = await your_data.export(s, user)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="parlor-{user.username}.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


class DeleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # empty for an account made by single sign-on: a recent sign-in confirms it instead
    password: str = Field(default="", max_length=1000)


@router.delete("/me", status_code=204, response_class=Response, responses=errors(403, 409))
async def delete_account(body: DeleteBody, request: Request, user: CurrentUser, s: ServicesDep) -> Response:
    await your_data.do_delete_account(s, user, body.password, await current_session(request, s))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=served_over_https(request))
    return response
