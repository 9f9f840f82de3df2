"""Who is asking: the session cookie or a bearer token; and the same-origin rule."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from parlor.actions import accounts
from parlor.actions.services import Services
from parlor.domain.sessions import Session
from parlor.domain.users import User
from parlor.errors import Code, ParlorError

COOKIE = "parlor_session"
# A session made by signing in inside an embed on another site (docs/API.md, Embedding):
# partitioned (CHIPS), so it is sent only inside embeds on that one site.
EMBED_COOKIE = "parlor_embed"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services(request: Request) -> Services:
    s: Services = request.app.state.services
    return s


ServicesDep = Annotated[Services, Depends(services)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request) -> None:
    """Cookie-authenticated writes must come from our own pages (CSRF)."""
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        # Browsers send Origin on every cross-origin write; a request without
        # Origin or Referer is not from another site's page.
        return
    own = {_origin_of(str(request.base_url))}
    host = request.headers.get("host")
    if host:
        own.add(f"{request.url.scheme}://{host}".lower())
    if _origin_of(origin) not in own:
        raise ParlorError(403, Code.CROSS_ORIGIN, "Cross-origin request refused.")


def current_secret(request: Request) -> str | None:
    """The session secret or token the request is authenticated with (as optional_user
    reads it): which of a member's sessions is "this one"."""
    return bearer(request) or request.cookies.get(COOKIE) or request.cookies.get(EMBED_COOKIE)


async def optional_user(request: Request, s: ServicesDep) -> User | None:
    agent = request.headers.get("user-agent")
    token = bearer(request)
    if token is not None:
        user = await accounts.authenticate(s, token, "bearer", agent)
        if user is None:
            raise ParlorError(401, Code.NOT_AUTHENTICATED, "This token is not valid.")
        return user
    # Both are cookies, so both are held to the same-origin rule for writes below.
    secret = request.cookies.get(COOKIE) or request.cookies.get(EMBED_COOKIE)
    if not secret:
        return None
    user = await accounts.authenticate(s, secret, "cookie", agent)
    if user is not None:
        check_same_origin(request)
    return user


async def current_session(request: Request, s: Services) -> Session | None:
    """The session or token this request is authenticated with (as optional_user finds it)."""
    token = bearer(request)
    secret = token or request.cookies.get(COOKIE) or request.cookies.get(EMBED_COOKIE)
    if not secret:
        return None
    found = await accounts.authenticate_session(s, secret, "bearer" if token else "cookie")
    return found[1] if found else None


async def require_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise ParlorError(401, Code.NOT_AUTHENTICATED, "Sign in first.")
    return user


CurrentUser = Annotated[User, Depends(require_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


def served_over_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS: the request itself (`X-Forwarded-Proto`
    is applied only from PARLOR_TRUSTED_PROXIES, in `parlor.app`), or an https public
    URL (then a plain-http hop is the proxy's, not the browser's)."""
    s = services(request)
    return request.url.scheme in ("https", "wss") or s.settings.base_url.startswith("https://")


def set_session_cookie(request: Request, response: Response, secret: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=served_over_https(request),
        path="/",
    )


def set_partitioned_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    """A cookie for frames on another site (embeds): SameSite=None so it is sent in a
    cross-site frame, Partitioned so only inside frames on the site where it was set,
    Secure (browsers require it for both; they accept it on http://localhost too).
    `max_age` None: gone with the browser session; 0: deleted."""
    age = "" if max_age is None else f"Max-Age={max_age}; "
    response.headers.append(
        "set-cookie", f"{name}={value}; {age}Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    )


def set_embed_cookie(response: Response, secret: str, max_age: int) -> None:
    """The embed's session cookie (a member signed in inside an embed)."""
    set_partitioned_cookie(response, EMBED_COOKIE, secret, max_age)


def clear_embed_cookie(response: Response) -> None:
    set_partitioned_cookie(response, EMBED_COOKIE, "", 0)
