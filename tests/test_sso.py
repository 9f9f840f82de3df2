"""Single sign-on with OpenID Connect, over real HTTP: the app on a loopback port, a
small OpenID provider of the tests' own on another (tests/oidc_provider.py), httpx
following the browser's redirects by hand."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import error_code, make_settings
from tests.live import LiveServer, live_server, make_member
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider
from tests.people import ADMIN, MEMBER_PASSWORD

from parlor.settings import SettingsError, load
from parlor.storage.tables import sso_identities, users

pytest.importorskip("authlib")

ADMINS = "parlor-admins"


@dataclass
class Sso:
    op: Provider
    server: LiveServer

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.url, follow_redirects=False, timeout=20)

    async def user_count(self) -> int:
        async with self.server.app.state.services.db.engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one())

    async def identities(self) -> list[Any]:
        async with self.server.app.state.services.db.engine.connect() as conn:
            return list((await conn.execute(sa.select(sso_identities))).all())


@pytest.fixture
def sso_extra() -> dict[str, Any]:
    return {}


@pytest.fixture
async def sso(tmp_path: Path, sso_extra: dict[str, Any]) -> AsyncIterator[Sso]:
    async with oidc_provider() as op:
        settings = make_settings(
            tmp_path / "data",
            oidc_issuer=op.url,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_admin_group=ADMINS,
            oidc_name="Acme",
            **sso_extra,
        )
        async with live_server(settings) as server:
            yield Sso(op, server)


async def go_to_provider(browser: httpx.AsyncClient, next_path: str | None = None) -> str:
    """Start a sign-in: the provider's authorization URL the app redirects to."""
    r = await browser.get("/auth/sso/start", params={"next": next_path} if next_path else None)
    assert r.status_code == 303, r.text
    return r.headers["location"]


async def back_from_provider(browser: httpx.AsyncClient, authorize_url: str) -> str:
    """The provider approves: the callback URL it sends the browser back to."""
    async with httpx.AsyncClient() as op_side:
        r = await op_side.get(authorize_url)
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def sign_in(browser: httpx.AsyncClient, next_path: str | None = None, **headers: str) -> httpx.Response:
    back = await back_from_provider(browser, await go_to_provider(browser, next_path))
    return await browser.get(back, headers=headers)


async def test_first_sign_in_makes_the_account_and_a_session_the_second_reuses_it(sso: Sso) -> None:
    sso.op.person = {"sub": "u-100", "preferred_username": "Zoë.Müller", "name": "Zoë Müller", "email": "z@x.org"}
    async with sso.browser() as browser:
        authorize = await go_to_provider(browser, "/settings")
        query = parse_qs(urlsplit(authorize).query)
        # PKCE S256, a nonce and a state, the scope asks for an ID token.
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["nonce"][0] and query["state"][0] and "openid" in query["scope"][0].split()
        assert query["redirect_uri"] == [f"{sso.server.url}/auth/sso/callback"]
        r = await browser.get(await back_from_provider(browser, authorize))
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/settings"
        me = (await browser.get("/api/me")).json()
        assert me["username"] == "zoe_muller" and me["display_name"] == "Zoë Müller" and not me["is_admin"]
        # A member page works: the sign-in history shows this sign-in.
        history = (await browser.get("/api/me/sign-ins")).json()["sign_ins"]
        assert [e["result"] for e in history] == ["ok"]
        # The session cookie is set as a password sign-in sets it.
        cookie = next(c for c in browser.cookies.jar if c.name == "parlor_session")
        assert cookie.path == "/" and cookie.has_nonstandard_attr("HttpOnly")
    assert await sso.user_count() == 1
    [link] = await sso.identities()
    assert (link.issuer, link.subject, link.user_id) == (sso.op.url, "u-100", me["id"])
    async with sso.browser() as again:
        r = await sign_in(again)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await again.get("/api/me")).json()["id"] == me["id"]
    assert await sso.user_count() == 1


async def test_a_taken_username_gets_a_suffix(sso: Sso) -> None:
    for sub in ("a", "b"):
        sso.op.person = {"sub": sub, "email": "sam@example.org"}
        async with sso.browser() as browser:
            assert (await sign_in(browser)).status_code == 303
            names = (await browser.get("/api/me")).json()["username"]
    assert names == "sam_2"


async def test_admin_comes_from_the_group_claim_and_goes_with_it(sso: Sso) -> None:
    sso.op.person = {"sub": "boss", "preferred_username": "boss", "groups": ["staff", ADMINS]}
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303
        assert (await browser.get("/api/me")).json()["is_admin"] is True
        assert (await browser.get("/api/admin/settings")).status_code == 200
    sso.op.person = {"sub": "boss", "preferred_username": "boss", "groups": ["staff"]}
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303
        assert (await browser.get("/api/me")).json()["is_admin"] is False
        assert error_code(await browser.get("/api/admin/settings")) == "not_admin"
    sso.op.person = {"sub": "boss", "preferred_username": "boss", "groups": ADMINS}  # one string
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303
        assert (await browser.get("/api/me")).json()["is_admin"] is True


@pytest.mark.parametrize(
    ("tamper", "status", "code"),
    [
        ("nonce", 401, "sso_invalid_token"),
        ("other_key", 401, "sso_invalid_token"),
        ("aud", 401, "sso_invalid_token"),
        ("expired", 401, "sso_invalid_token"),
    ],
)
async def test_an_id_token_that_does_not_verify_is_refused(sso: Sso, tamper: str, status: int, code: str) -> None:
    sso.op.tamper.add(tamper)
    async with sso.browser() as browser:
        r = await sign_in(browser)
        assert r.status_code == status and error_code(r) == code, r.text
        assert "parlor_session" not in browser.cookies
        assert (await browser.get("/api/me")).status_code == 401
    assert await sso.user_count() == 0 and await sso.identities() == []


async def test_a_wrong_or_missing_state_is_refused(sso: Sso) -> None:
    async with sso.browser() as browser:
        back = await back_from_provider(browser, await go_to_provider(browser))
        forged = back.replace("state=", "state=x")
        r = await browser.get(forged)
        assert r.status_code == 400 and error_code(r) == "sso_bad_state"
    async with sso.browser() as browser, sso.browser() as other:
        # A callback in a browser that did not start the sign-in (login CSRF).
        back = await back_from_provider(browser, await go_to_provider(browser))
        r = await other.get(back)
        assert r.status_code == 400 and error_code(r) == "sso_bad_state"
    assert await sso.user_count() == 0


async def test_the_providers_refusal_sends_a_browser_back_to_the_sign_in_page(sso: Sso) -> None:
    sso.op.error = "access_denied"
    async with sso.browser() as browser:
        r = await sign_in(browser, accept="text/html")
        assert r.status_code == 303 and r.headers["location"] == "/login?sso_error=sso_provider_error"
    sso.op.error = "access_denied"
    async with sso.browser() as browser:
        r = await sign_in(browser)
        assert r.status_code == 403 and error_code(r) == "sso_provider_error"
    assert await sso.user_count() == 0


@pytest.mark.parametrize("sso_extra", [{"limits": ("sso=3/600",)}])
async def test_sign_ins_started_from_one_address_are_limited(sso: Sso) -> None:
    """Each start and each return counts (a return asks the provider for a token): past
    the limit a browser is sent back to the sign-in page with why, and nothing is made."""
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303  # start and return: 2 of 3
        authorize = await go_to_provider(browser)  # 3 of 3
        back = await back_from_provider(browser, authorize)
        r = await browser.get(back, headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?sso_error=rate_limited"
    async with sso.browser() as other:
        r = await other.get("/auth/sso/start")
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        assert int(r.headers["retry-after"]) > 0
        assert "Max-Age=0" in r.headers["set-cookie"]  # no sign-in flow left to finish
    assert await sso.user_count() == 1  # the first sign-in's account, nothing more


async def test_an_account_made_by_sso_is_deleted_after_a_recent_sign_in(sso: Sso) -> None:
    """No password to confirm with: a sign-in in the last 10 minutes confirms instead; an
    older session is told to sign in again, and nothing is deleted until it has."""
    services = sso.server.app.state.services
    real = services.clock
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303
        me = (await browser.get("/api/me")).json()
        assert me["password"] is False
        services.clock = lambda: real() + 11 * 60  # that sign-in is 11 minutes old now
        try:
            r = await browser.request("DELETE", "/api/me", json={})
            assert r.status_code == 403 and error_code(r) == "sign_in_again"
            assert "Acme" in r.json()["error"]["message"]
            assert (await browser.get("/api/me")).json()["id"] == me["id"]  # nothing deleted
            assert await sso.user_count() == 1
            assert (await sign_in(browser)).status_code == 303  # again, with the provider
            r = await browser.request("DELETE", "/api/me", json={})
            assert r.status_code == 204, r.text
        finally:
            services.clock = real
        assert (await browser.get("/api/me")).status_code == 401
    assert await sso.user_count() == 0 and await sso.identities() == []


async def test_a_password_account_still_confirms_with_its_password(sso: Sso) -> None:
    async with sso.browser() as browser:
        _, token = await make_member(sso.server, browser, "pat")
        auth = {"Authorization": f"Bearer {token}"}
        assert (await browser.get("/api/me", headers=auth)).json()["password"] is True
        r = await browser.request("DELETE", "/api/me", json={}, headers=auth)  # a fresh token is not enough
        assert r.status_code == 400
        r = await browser.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD}, headers=auth)
        assert r.status_code == 204, r.text


async def test_a_banned_account_is_refused_through_sso(sso: Sso) -> None:
    sso.op.person = {"sub": "boss", "preferred_username": "boss", "groups": [ADMINS]}
    async with sso.browser() as admin:
        assert (await sign_in(admin)).status_code == 303
        sso.op.person = {"sub": "troll", "preferred_username": "troll"}
        async with sso.browser() as troll:
            assert (await sign_in(troll)).status_code == 303
            troll_id = (await troll.get("/api/me")).json()["id"]
        r = await admin.post(f"/api/admin/users/{troll_id}/ban", json={"reason": "spam"})
        assert r.status_code == 201, r.text
    async with sso.browser() as troll:
        r = await sign_in(troll)
        assert r.status_code == 403 and error_code(r) == "banned"
        assert (await troll.get("/api/me")).status_code == 401
    async with sso.server.app.state.services.db.engine.connect() as conn:
        from parlor.storage import sign_ins

        rows = await sign_ins.recent(conn, troll_id, 0, 10)
    assert rows[0]["result"] == "banned"


async def test_password_sign_in_still_works_beside_sso(sso: Sso) -> None:
    async with httpx.AsyncClient(base_url=sso.server.url) as http:
        methods = (await http.get("/api/auth/methods")).json()
        assert methods == {"password": True, "sso": {"name": "Acme", "start": "/auth/sso/start"}}
        await make_member(sso.server, http, "pat")
        r = await http.post("/api/login", json={"username": "pat", "password": MEMBER_PASSWORD})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("sso_extra", [{"sso_only": True}])
async def test_sso_only_refuses_passwords_invites_and_the_waitlist(sso: Sso) -> None:
    assert sso.server.setup_token is None  # no password admin to claim
    sso.op.person = {"sub": "boss", "preferred_username": "boss", "groups": [ADMINS]}
    async with sso.browser() as admin:
        assert (await sign_in(admin)).status_code == 303
        assert (await admin.get("/api/me")).json()["is_admin"] is True
        refused = [
            await admin.post("/api/invites"),
            await admin.post("/api/me/password", json={"current_password": "x" * 8, "new_password": "y" * 8}),
        ]
    async with httpx.AsyncClient(base_url=sso.server.url) as anon:
        assert (await anon.get("/api/auth/methods")).json() == {
            "password": False,
            "sso": {"name": "Acme", "start": "/auth/sso/start"},
        }
        refused += [
            await anon.post("/api/login", json={"username": "boss", "password": "whatever-it-is"}),
            await anon.post("/api/signup", json={"username": "newbie", "display_name": "N", "password": "p" * 10}),
            await anon.post("/api/waitlist", json={"username": "newbie", "display_name": "N"}),
            await anon.post("/api/setup", json={"token": "t", **ADMIN}),
        ]
    for r in refused:
        assert r.status_code == 403 and error_code(r) == "sso_only", (r.request.url, r.text)


async def test_sso_off_answers_not_found(tmp_path: Path) -> None:
    async with live_server(make_settings(tmp_path / "data")) as server, httpx.AsyncClient(base_url=server.url) as c:
        assert (await c.get("/api/auth/methods")).json() == {"password": True, "sso": None}
        for path in ("/auth/sso/start", "/auth/sso/callback?state=a&code=b"):
            r = await c.get(path)
            assert r.status_code == 404 and error_code(r) == "sso_off"


async def test_no_token_or_secret_reaches_the_logs(sso: Sso, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sso.op.person = {"sub": "u-1", "preferred_username": "lou", "groups": [ADMINS]}
    async with sso.browser() as browser:
        assert (await sign_in(browser)).status_code == 303
        sso.op.tamper.add("other_key")
        assert (await sign_in(browser)).status_code == 401
    assert sso.op.issued_tokens and "OIDC ID token refused" in caplog.text
    text = caplog.text + repr(sso.server.settings)
    for secret in [CLIENT_SECRET, *sso.op.issued_tokens]:
        assert secret not in text
    # The codes ride in the browser's URLs (which this test's own httpx logs), not in the app's lines.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("parlor", "authlib", "uvicorn")))
    for code in sso.op.issued_codes:
        assert code not in ours


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"PARLOR_SSO_ONLY": "1"}, "PARLOR_SSO_ONLY needs PARLOR_OIDC_ISSUER"),
        ({"PARLOR_OIDC_CLIENT_ID": "c"}, "PARLOR_OIDC_ISSUER is empty"),
        ({"PARLOR_OIDC_ISSUER": "http://idp.example.org"}, "https://"),
        ({"PARLOR_OIDC_ISSUER": "https://idp.example.org"}, "PARLOR_OIDC_CLIENT_ID"),
        ({"PARLOR_OIDC_ISSUER": "https://idp.example.org", "PARLOR_OIDC_CLIENT_ID": "c"}, "CLIENT_SECRET"),
    ],
)
def test_settings_say_what_is_missing(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        load(env)


def test_settings_keep_the_client_secret_out_of_their_repr() -> None:
    s = load({"PARLOR_OIDC_ISSUER": "https://idp.example.org", "PARLOR_OIDC_CLIENT_ID": "c",
              "PARLOR_OIDC_CLIENT_SECRET": "hush-hush"})  # fmt: skip
    assert s.sso_enabled and "hush-hush" not in repr(s)
