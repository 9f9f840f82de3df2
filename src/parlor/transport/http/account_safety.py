"""A member's account safety: their sessions and tokens, changing the password, and
their sign-in history (docs/API.md, Account safety)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from parlor.actions import passwords, sessions, sign_ins
from parlor.transport.http.auth import COOKIE, CurrentUser, ServicesDep, current_secret
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["account safety"])


class PasswordBody(BaseModel):
    current_password: str = Field(max_length=300)
    new_password: str = Field(max_length=300)


@router.get("/me/sessions")
async def my_sessions(request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return {"sessions": await sessions.list_mine(s, user, "cookie", current_secret(request))}


@router.delete("/me/sessions/{session_id}", status_code=204, responses=errors(404))
async def end_session(session_id: str, request: Request, user: CurrentUser, s: ServicesDep) -> Response:
    response = Response(status_code=204)
    if await sessions.do_revoke(s, user, session_id, "cookie", current_secret(request)):
        response.delete_cookie(COOKIE, path="/")  # this browser's own session: signed out
    return response


@router.post("/me/sessions/end-others")
async def end_other_sessions(request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, int]:
    return {"ended": await sessions.do_end_other_sessions(s, user, current_secret(request))}


@router.get("/tokens")
async def my_tokens(request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return {"tokens": await sessions.list_mine(s, user, "bearer", current_secret(request))}


@router.delete("/tokens/{token_id}", status_code=204, responses=errors(404))
async def revoke_token(token_id: str, request: Request, user: CurrentUser, s: ServicesDep) -> Response:
    await sessions.do_revoke(s, user, token_id, "bearer", current_secret(request))
    return Response(status_code=204)


@router.post("/me/password", responses=errors(403, 429))
async def change_password(body: PasswordBody, request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, int]:
    ended = await passwords.do_change_password(
        s, user, body.current_password, body.new_password, current_secret(request)
    )
    return {"ended": ended}


@router.get("/me/sign-ins")
async def my_sign_ins(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await sign_ins.history(s, user)
