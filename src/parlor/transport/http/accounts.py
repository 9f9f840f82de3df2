"""Account routes: setup, sign-up, sign-in and out, tokens (invites: growth.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from parlor.actions import accounts, growth, sign_ins, your_data
from parlor.domain.sessions import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX, client_label
from parlor.domain.users import User
from parlor.transport.http.auth import (
    COOKIE,
    CurrentUser,
    MaybeUser,
    ServicesDep,
    bearer,
    check_same_origin,
    set_session_cookie,
)
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["accounts"])

_Text = Field(max_length=300)


class SetupBody(BaseModel):
    token: str = Field(max_length=200)
    username: str = _Text
    display_name: str = _Text
    password: str = _Text


class SignupBody(BaseModel):
    # May be empty when the instance is open (GET /api/signup-mode).
    invite_code: str = Field(default="", max_length=200)
    username: str = _Text
    display_name: str = _Text
    password: str = _Text


class LoginBody(BaseModel):
    username: str = _Text
    password: str = _Text


class TokenBody(BaseModel):
    name: str = Field(max_length=200)
    # Days until it expires (GitHub's default: 30); null: no expiration.
    expires_in_days: int | None = Field(default=TOKEN_DAYS_DEFAULT, ge=1, le=TOKEN_DAYS_MAX)


async def sign_in(request: Request, response: Response, s: ServicesDep, user: User) -> None:
    secret = await accounts.do_start_session(s, user, client_label(request.headers.get("user-agent")))
    set_session_cookie(request, response, secret, s.settings.session_days * 86400)


@router.get("/setup")
async def setup_status(s: ServicesDep) -> dict[str, bool]:
    return {"needed": await accounts.setup_needed(s)}


@router.post("/setup", status_code=201, responses=errors(403, 409))
async def setup(body: SetupBody, request: Request, response: Response, s: ServicesDep) -> dict[str, Any]:
    check_same_origin(request)
    user = await accounts.do_setup(s, body.token, body.username, body.display_name, body.password)
    await sign_in(request, response, s, user)
    return user.to_dict()


@router.post("/signup", status_code=201, responses=errors(403, 404, 409, 429))
async def signup(
    body: SignupBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    check_same_origin(request)
    user = await growth.do_signup(
        s, body.invite_code, body.username, body.display_name, body.password, address=address
    )
    await sign_in(request, response, s, user)
    return user.to_dict()


@router.post("/login", responses=errors(401, 403, 429))
async def login(
    body: LoginBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    check_same_origin(request)
    client = client_label(request.headers.get("user-agent"))
    user = await sign_ins.do_sign_in(s, body.username, body.password, client, address=address)
    await sign_in(request, response, s, user)
    return user.to_dict()


@router.post("/logout", status_code=204)
async def logout(request: Request, _user: MaybeUser, s: ServicesDep) -> Response:
    # Signing out ends what the request was made with: a bearer client's token, else the
    # cookie's session. Either way the sockets it opened close.
    secret = bearer(request) or request.cookies.get(COOKIE)
    if secret:
        await accounts.do_end_session(s, secret)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me")
async def me(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """You, and `password`: whether you sign in with one (false for an account made by
    single sign-on)."""
    return {**user.to_dict(), "password": await your_data.has_password(s, user)}


@router.post("/tokens", status_code=201)
async def create_token(body: TokenBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await accounts.do_create_token(s, user, body.name, body.expires_in_days)
