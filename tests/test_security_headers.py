"""The page policy on every page and route: a strict Content-Security-Policy (no inline
script or style), frame-ancestors, nosniff and the referrer policy, each sent once;
and the session cookie `Secure` when the instance is served over HTTPS."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from tests.conftest import Instance, running_instance
from tests.live import live_server, make_member
from tests.people import ADMIN

from parlor.app import ADMIN_PAGES, PAGES, STATIC
from parlor.transport.http import headers

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
EMBEDDER = "https://blog.example.org"


def page_paths() -> list[str]:
    """Every page a browser navigates to: the app's pages (params filled in), the
    embed page, the static HTML files and the not-found page."""
    paths = [re.sub(r"\{[^}]+\}", "x1", p) for p in (*PAGES, *ADMIN_PAGES)]
    paths += [f"/static/{f.name}" for f in sorted(STATIC.glob("*.html"))]
    # /r/<name>: the guest room page (app.js routes it; the server answers the app shell)
    return [*paths, "/sw.js", "/no/such/page", "/embed/room/r_nope", "/r/team-standup"]


def route_paths(instance: Instance) -> list[str]:
    """Every GET route of the API (its OpenAPI document), path parameters filled with junk."""
    paths = ["/openapi.json"]
    for path, operations in instance.app.openapi()["paths"].items():
        if "get" in operations:
            paths.append(re.sub(r"\{[^}]+\}", "x1", path))
    return paths


def assert_policy(r: httpx.Response, path: str, framers: tuple[str, ...] = ("'none'",)) -> None:
    # Each header exactly once (a route that sets one itself must not make it twice).
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert len(r.headers.get_list(name)) == 1, (path, name, r.headers.get_list(name))
    assert r.headers["x-content-type-options"] == "nosniff", path
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    policy = headers.parse_csp(r.headers["content-security-policy"])
    assert policy["frame-ancestors"] == framers, (path, policy)
    if framers == ("'none'",):
        assert r.headers.get_list("x-frame-options") == ["DENY"], path
    else:
        assert "x-frame-options" not in r.headers, path
    # Strict: scripts and styles from this origin only; nothing inline, nothing eval'd.
    default = policy["default-src"]
    for directive in ("script-src", "style-src"):
        sources = policy.get(directive, default)
        assert set(sources) <= {"'self'", "'none'"}, (path, directive, sources)
    assert policy.get("object-src", default) == ("'none'",), path
    assert "base-uri" in policy, path


async def test_every_page_and_route_carries_the_policy_once(instance: Instance) -> None:
    admin = await instance.admin()
    anon = instance.client()
    paths = page_paths() + route_paths(instance)
    assert len(paths) > 50
    for path in paths:
        for who in (anon, admin.http):
            r = await who.get(path, headers=HTML)
            assert r.status_code < 500, (path, r.status_code)
            assert_policy(r, path)


async def test_the_embed_page_may_be_framed_only_by_the_listed_sites(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", embed_origins=EMBEDDER) as inst:
        admin = await inst.admin()
        room = (await admin.post("/api/rooms", json={"title": "Framed"})).json()
        r = await inst.client().get(f"/embed/room/{room['id']}", headers=HTML)
        assert r.status_code == 200
        assert_policy(r, "/embed/room", framers=(EMBEDDER,))


async def test_an_avatar_keeps_its_own_stricter_policy_and_says_nosniff_once(instance: Instance) -> None:
    from io import BytesIO

    from PIL import Image

    ann = await instance.member("ann")
    out = BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, "PNG")
    url = (await ann.http.put("/api/me/avatar", content=out.getvalue())).json()["avatar_url"]
    r = await ann.http.get(url)
    assert r.status_code == 200
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]
    policy = headers.parse_csp(r.headers["content-security-policy"])
    assert policy["default-src"] == ("'none'",) and "script-src" not in policy and "img-src" not in policy


def session_cookie(r: httpx.Response) -> str:
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("parlor_session="))
    return cookie.lower()


async def test_the_session_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "plain") as inst:
        await inst.admin()
        r = await inst.client().post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        assert "; secure" not in session_cookie(r)
    async with running_instance(tmp_path / "tls", public_url="https://rooms.example.org") as inst:
        r = await inst.client().post("/api/setup", json={"token": inst.setup_token, **ADMIN})
        assert r.status_code == 201
        assert "; secure" in session_cookie(r) and "httponly" in session_cookie(r)


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted proxy", "untrusted peer"])
async def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_https(tmp_path: Path, trusted: bool) -> None:
    """X-Forwarded-Proto counts only from PARLOR_TRUSTED_PROXIES."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", trusted_proxies="127.0.0.1" if trusted else None)
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        await make_member(server, http, "ann")
        login = {"username": "ann", "password": "hunter2hunter2"}
        r = await http.post("/api/login", json=login)
        assert r.status_code == 200 and "; secure" not in session_cookie(r)
        r = await http.post("/api/login", json=login, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200
        assert ("; secure" in session_cookie(r)) is trusted
