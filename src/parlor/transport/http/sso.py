"""Single sign-on routes: what the sign-in page offers, and the two legs of an OpenID
Connect sign-in (browser navigations, not API calls: they answer with redirects).

A refused sign-in sends a browser back to the sign-in page with the error's code
(`/login?sso_error=…`), which says what went wrong; other clients get the JSON error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from parlor.actions import sign_in_methods, sso
from parlor.domain.sessions import client_label
from parlor.errors import ParlorError
from parlor.transport.http.accounts import sign_in
from parlor.transport.http.auth import ServicesDep, served_over_https
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.errors import error_response
from parlor.transport.http.openapi import errors
from parlor.transport.http.pages import wants_html

router = APIRouter(tags=["accounts"])

FLOW_COOKIE = "parlor_sso"
FLOW_PATH = "/auth/sso"
CALLBACK = "/auth/sso/callback"
_REDIRECT: dict[int | str, dict[str, Any]] = {303: {"description": "To the identity provider, or back into the app."}}


def _redirect_uri(request: Request, s: ServicesDep) -> str:
    # The public URL when the operator gave one (what the provider has registered),
    # else the address this request came to.
    if "public_url" in s.settings.explicit:
        return s.settings.base_url + CALLBACK
    return str(request.base_url).rstrip("/") + CALLBACK


def _refused(request: Request, exc: ParlorError) -> Response:
    if wants_html(request):
        response: Response = RedirectResponse("/login?" + urlencode({"sso_error": exc.code.value}), status_code=303)
    else:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        response = error_response(exc.status, exc.code, exc.message, headers)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get("/api/auth/methods")
async def methods(s: ServicesDep) -> dict[str, Any]:
    """How people sign in here: `password` (false in SSO-only mode) and `sso`
    (`{name, start}`, or null when single sign-on is not set up)."""
    return sign_in_methods.methods(s)


@router.get(sign_in_methods.START_PATH, responses={**_REDIRECT, **errors(404, 429, 502)})
async def start(
    request: Request,
    s: ServicesDep,
    address: ClientAddress,
    next_path: str | None = Query(default=None, alias="next", max_length=500),
) -> Response:
    """Start signing in with the identity provider: a redirect to it. `next`: a path
    of this site to land on afterwards."""
    try:
        started = await sso.do_start(s, _redirect_uri(request, s), next_path, address)
    except ParlorError as exc:
        return _refused(request, exc)
    response = RedirectResponse(started.url, status_code=303)
    # Lax: sent on the provider's top-level redirect back; scoped to these two routes.
    response.set_cookie(
        FLOW_COOKIE,
        started.sealed,
        max_age=sso.FLOW_S,
        httponly=True,
        samesite="lax",
        secure=served_over_https(request),
        path=FLOW_PATH,
    )
    return response


@router.get(CALLBACK, responses={**_REDIRECT, **errors(401, 403, 404, 409, 429, 502)})
async def callback(
    request: Request,
    s: ServicesDep,
    address: ClientAddress,
    state: str = Query(default="", max_length=500),
    code: str = Query(default="", max_length=2000),
    error: str | None = Query(default=None, max_length=200),
) -> Response:
    """Where the identity provider sends the browser back: signs in (the session cookie,
    as a password sign-in sets it) and redirects into the app."""
    sealed = request.cookies.get(FLOW_COOKIE)
    query = {"state": state, "code": code, **({"error": error} if error is not None else {})}
    try:
        user = await sso.do_finish(s, sealed, query, client_label(request.headers.get("user-agent")), address)
    except ParlorError as exc:
        return _refused(request, exc)
    response = RedirectResponse(sso.flow_next(s, sealed), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    await sign_in(request, response, s, user)
    return response
