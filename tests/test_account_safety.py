"""Account safety over HTTP, on SQLite and PostgreSQL: tokens expire, a member lists and
revokes their sessions and tokens, changes their password (the others are signed out),
sees their own sign-in history; the session cookie is Secure over HTTPS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import BASE, Instance, Person, error_code, fresh_postgres, running_instance
from tests.people import MEMBER_PASSWORD, setup_body

from parlor.domain.sessions import SIGN_IN_KEEP_DAYS, TOUCH_INTERVAL_S, client_label
from parlor.storage.tables import audit_log, sessions, sign_ins

DAY = 86400.0
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def inst(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Instance]:
    if request.param == "sqlite":
        async with running_instance(tmp_path / "data") as i:
            yield i
    else:
        async with fresh_postgres() as url, running_instance(tmp_path / "data", database_url=url) as i:
            yield i


class Clock:
    """The instance's clock, moved forward by hand (Services.clock)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.offset = 0.0
        real = inst.services.clock
        inst.services.clock = lambda: real() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def login(inst: Instance, username: str, password: str = MEMBER_PASSWORD, agent: str = FIREFOX) -> Person:
    c = inst.client()
    c.headers["user-agent"] = agent
    r = await c.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Person(c, r.json())


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_with_token(inst: Instance, token: str) -> int:
    return (await inst.client().get("/api/me", headers=bearer(token))).status_code


async def rows(inst: Instance, table: sa.Table) -> list[dict[str, Any]]:
    async with inst.services.db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(table))).mappings()]


# -- the client label ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (FIREFOX, "Firefox on Windows"),
        (CHROME_ANDROID, "Chrome on Android"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
            "Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        ("parlor.client", "Parlor Python client"),
        ("python-httpx/0.27.0", "Python"),
        ("curl/8.5.0", "curl"),
        ("", None),
        (None, None),
        ("Something/1.0 (Linux)", "Linux"),
        ("\x00" * 10_000, None),
    ],
)
def test_client_label_is_coarse(agent: str | None, label: str | None) -> None:
    assert client_label(agent) == label
    # never any version, never the string itself
    assert label is None or not re.search(r"\d", label)


# -- tokens ---------------------------------------------------------------------------------


async def test_tokens_expire_when_chosen(inst: Instance) -> None:
    ann = await inst.member("ann")
    clock = Clock(inst)
    now = inst.services.clock()
    default = await ok(await ann.post("/api/tokens", json={"name": "default"}), 201)
    one_day = await ok(await ann.post("/api/tokens", json={"name": "a day", "expires_in_days": 1}), 201)
    never = await ok(await ann.post("/api/tokens", json={"name": "forever", "expires_in_days": None}), 201)
    assert default["expires_at"] == pytest.approx(now + 30 * DAY, abs=60)
    assert one_day["expires_at"] == pytest.approx(now + DAY, abs=60)
    assert never["expires_at"] is None
    assert default["token"].startswith("pt_") and default["id"] and default["name"] == "default"

    # bad expiries: refused, nothing made
    before = await rows(inst, sessions)
    for bad in (0, -1, 367, "soon", 1.5):
        r = await ann.post("/api/tokens", json={"name": "bad", "expires_in_days": bad})
        assert r.status_code == 400 and error_code(r) == "invalid_input", (bad, r.text)
    assert await rows(inst, sessions) == before

    for token in (default, one_day, never):
        assert await status_with_token(inst, token["token"]) == 200
    clock.advance(DAY + 1)
    assert await status_with_token(inst, one_day["token"]) == 401
    assert await status_with_token(inst, default["token"]) == 200
    listed = (await ok(await ann.http.get("/api/tokens")))["tokens"]
    assert {t["name"] for t in listed} == {"default", "forever"}
    clock.advance(30 * DAY)
    assert await status_with_token(inst, default["token"]) == 401
    assert await status_with_token(inst, never["token"]) == 200
    # ann's browser session has expired by now too (30 days); listing deletes the expired for good
    assert (await ann.http.get("/api/tokens")).status_code == 401
    listed = await ok(await inst.client().get("/api/tokens", headers=bearer(never["token"])))
    assert [t["name"] for t in listed["tokens"]] == ["forever"]
    assert [r["name"] for r in await rows(inst, sessions) if r["user_id"] == ann.id] == ["forever"]


async def test_last_use_is_recorded_at_most_hourly_with_a_coarse_client(inst: Instance) -> None:
    ann = await inst.member("ann")
    clock = Clock(inst)
    token = await ok(await ann.post("/api/tokens", json={"name": "bot"}), 201)
    listed = (await ok(await ann.http.get("/api/tokens")))["tokens"]
    assert listed[0]["last_used_at"] is None and listed[0]["client"] is None

    bot = inst.client()
    bot.headers.update({**bearer(token["token"]), "user-agent": "parlor.client"})
    assert (await bot.get("/api/me")).status_code == 200
    first = (await ok(await bot.get("/api/tokens")))["tokens"][0]
    assert first["client"] == "Parlor Python client" and first["last_used_at"] is not None
    assert first["current"] is True  # asked with that token

    # used again within the hour: no write
    clock.advance(TOUCH_INTERVAL_S / 2)
    bot.headers["user-agent"] = "curl/8.5.0"
    assert (await bot.get("/api/me")).status_code == 200
    again = (await ok(await ann.http.get("/api/tokens")))["tokens"][0]
    assert (again["last_used_at"], again["client"]) == (first["last_used_at"], "Parlor Python client")
    assert again["current"] is False  # asked with the cookie
    clock.advance(TOUCH_INTERVAL_S)
    assert (await bot.get("/api/me")).status_code == 200
    later = (await ok(await ann.http.get("/api/tokens")))["tokens"][0]
    assert later["last_used_at"] > first["last_used_at"] and later["client"] == "curl"
    # never the User-Agent itself
    assert not [r for r in await rows(inst, sessions) if r["client"] and "/" in r["client"]]


# -- sessions -------------------------------------------------------------------------------


async def test_list_and_revoke_sessions_and_tokens(inst: Instance) -> None:
    ann = await inst.member("ann")  # signed up: a session
    phone = await login(inst, "ann", agent=CHROME_ANDROID)
    token = await ok(await ann.post("/api/tokens", json={"name": "bot"}), 201)
    bob = await inst.member("bob")

    listed = await ok(await ann.http.get("/api/me/sessions"))
    mine = listed["sessions"]
    assert len(mine) == 2 and sum(s["current"] for s in mine) == 1
    other = next(s for s in mine if not s["current"])
    assert other["client"] == "Chrome on Android"
    assert set(other) == {"id", "client", "created_at", "last_used_at", "expires_at", "current"}
    # the secrets' hashes never leave the server
    text = (await ann.http.get("/api/me/sessions")).text + (await ann.http.get("/api/tokens")).text
    for row in await rows(inst, sessions):
        assert row["secret_hash"] not in text
    assert not re.search(r"[0-9a-f]{64}", text)

    # nobody else can see or end them
    assert other["id"] not in (await bob.http.get("/api/me/sessions")).text
    r = await bob.http.delete(f"/api/me/sessions/{other['id']}")
    assert r.status_code == 404 and error_code(r) == "session_not_found"
    r = await bob.http.delete(f"/api/tokens/{token['id']}")
    assert r.status_code == 404 and error_code(r) == "token_not_found"
    assert (await phone.http.get("/api/me")).status_code == 200
    assert await status_with_token(inst, token["token"]) == 200
    anon = inst.client()
    assert (await anon.get("/api/me/sessions")).status_code == 401
    assert (await anon.delete(f"/api/me/sessions/{other['id']}")).status_code == 401
    # a session is not a token, and ids are checked before any lookup
    r = await ann.http.delete(f"/api/tokens/{other['id']}")
    assert r.status_code == 404 and error_code(r) == "token_not_found"
    for bad in ("x" * 40, "a%00b", "%E2%80%AE"):
        r = await ann.http.delete(f"/api/me/sessions/{bad}")
        assert r.status_code == 404 and error_code(r) == "session_not_found", bad
    assert (await phone.http.get("/api/me")).status_code == 200

    # ann ends the phone's session, then revokes the token
    assert (await ann.http.delete(f"/api/me/sessions/{other['id']}")).status_code == 204
    assert (await phone.http.get("/api/me")).status_code == 401
    assert (await ann.http.delete(f"/api/tokens/{token['id']}")).status_code == 204
    assert await status_with_token(inst, token["token"]) == 401
    assert (await ok(await ann.http.get("/api/tokens")))["tokens"] == []
    again = await ann.http.delete(f"/api/tokens/{token['id']}")
    assert again.status_code == 404 and error_code(again) == "token_not_found"
    assert "token.revoke" in {r["action"] for r in await rows(inst, audit_log)}

    # ending this browser's own session signs it out
    me = (await ok(await ann.http.get("/api/me/sessions")))["sessions"]
    assert [s["current"] for s in me] == [True]
    r = await ann.http.delete(f"/api/me/sessions/{me[0]['id']}")
    assert r.status_code == 204 and "Max-Age=0" in r.headers["set-cookie"]
    assert (await ann.http.get("/api/me")).status_code == 401


async def test_sign_out_everywhere_else_keeps_this_browser_and_the_tokens(inst: Instance) -> None:
    ann = await inst.member("ann")
    others = [await login(inst, "ann"), await login(inst, "ann", agent=CHROME_ANDROID)]
    token = await ok(await ann.post("/api/tokens", json={"name": "bot"}), 201)
    bob = await inst.member("bob")

    assert await ok(await ann.post("/api/me/sessions/end-others")) == {"ended": 2}
    assert (await ann.http.get("/api/me")).status_code == 200
    for other in others:
        assert (await other.http.get("/api/me")).status_code == 401
    assert await status_with_token(inst, token["token"]) == 200
    assert (await bob.http.get("/api/me")).status_code == 200
    assert await ok(await ann.post("/api/me/sessions/end-others")) == {"ended": 0}
    # a cross-site page cannot do it for a signed-in browser
    r = await ann.http.post("/api/me/sessions/end-others", headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and error_code(r) == "cross_origin"


# -- password -------------------------------------------------------------------------------

NEW_PASSWORD = "a much better password"


async def test_change_password_signs_out_the_other_sessions_and_tokens(inst: Instance) -> None:
    ann = await inst.member("ann")
    phone = await login(inst, "ann", agent=CHROME_ANDROID)
    token = await ok(await ann.post("/api/tokens", json={"name": "bot"}), 201)
    bob = await inst.member("bob")
    body = {"current_password": MEMBER_PASSWORD, "new_password": NEW_PASSWORD}

    # refused: nothing changes
    before = await rows(inst, sessions)
    for bad, status, code in (
        ({**body, "current_password": "not my password"}, 403, "wrong_password"),
        ({**body, "current_password": ""}, 400, "invalid_input"),
        ({**body, "new_password": "short"}, 400, "invalid_input"),
        ({"new_password": NEW_PASSWORD}, 400, "invalid_input"),
        ({**body, "new_password": 12345678}, 400, "invalid_input"),
    ):
        r = await ann.post("/api/me/password", json=bad)
        assert r.status_code == status and error_code(r) == code, (bad, r.text)
    assert (await inst.client().post("/api/me/password", json=body)).status_code == 401
    r = await ann.http.post("/api/me/password", json=body, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and error_code(r) == "cross_origin"
    assert await rows(inst, sessions) == before
    await login(inst, "ann")  # the old password still works (and this one session is one more)

    # changed: only the browser that changed it stays signed in
    assert await ok(await ann.post("/api/me/password", json=body)) == {"ended": 3}
    assert (await ann.http.get("/api/me")).status_code == 200
    assert (await phone.http.get("/api/me")).status_code == 401
    assert await status_with_token(inst, token["token"]) == 401
    assert (await bob.http.get("/api/me")).status_code == 200
    old = await inst.client().post("/api/login", json={"username": "ann", "password": MEMBER_PASSWORD})
    assert old.status_code == 401
    await login(inst, "ann", NEW_PASSWORD)
    assert ("password.change", ann.id) in {(r["action"], r["target_id"]) for r in await rows(inst, audit_log)}


async def test_a_token_changing_the_password_keeps_itself(inst: Instance) -> None:
    ann = await inst.member("ann")
    token = await ok(await ann.post("/api/tokens", json={"name": "bot"}), 201)
    bot = inst.client()
    r = await bot.post(
        "/api/me/password",
        json={"current_password": MEMBER_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token["token"]),
    )
    assert r.status_code == 200 and r.json() == {"ended": 1}
    assert await status_with_token(inst, token["token"]) == 200
    assert (await ann.http.get("/api/me")).status_code == 401


# -- sign-in history ------------------------------------------------------------------------


async def test_sign_in_history_records_successes_and_failures_for_the_owner_only(inst: Instance) -> None:
    ann, bob = await inst.member("ann"), await inst.member("bob")
    # for reading the history after ann's browser session has expired
    keeps = (await ok(await ann.post("/api/tokens", json={"name": "reader", "expires_in_days": None}), 201))["token"]
    clock = Clock(inst)
    anon = inst.client()
    anon.headers["user-agent"] = CHROME_ANDROID
    for _ in range(3):
        r = await anon.post("/api/login", json={"username": "ann", "password": "guessing"})
        assert r.status_code == 401
    await anon.post("/api/login", json={"username": "nobody_here", "password": "guessing"})
    clock.advance(60)
    await login(inst, "ann", agent=FIREFOX)

    history = await ok(await ann.http.get("/api/me/sign-ins"))
    assert history["kept_days"] == SIGN_IN_KEEP_DAYS
    got = [(e["client"], e["result"], e["ok"], e["count"]) for e in history["sign_ins"]]
    # newest first; the three wrong passwords in a row are one entry
    assert got == [("Firefox on Windows", "ok", True, 1), ("Chrome on Android", "bad_credentials", False, 3)]
    assert set(history["sign_ins"][0]) == {"at", "client", "result", "ok", "count"}
    # bob sees only his own (none), the anonymous nothing; nobody's address is kept
    assert (await ok(await bob.http.get("/api/me/sign-ins")))["sign_ins"] == []
    assert (await inst.client().get("/api/me/sign-ins")).status_code == 401
    stored = await rows(inst, sign_ins)
    assert {r["user_id"] for r in stored} == {ann.id}
    assert set(stored[0]) == {"id", "user_id", "at", "client", "result", "count"}
    assert "127.0.0.1" not in repr(stored) and "testclient" not in repr(stored)

    # a failure after the merge window is a new entry; after SIGN_IN_KEEP_DAYS all are gone
    clock.advance(3600)
    await anon.post("/api/login", json={"username": "ann", "password": "guessing"})
    assert [e["count"] for e in (await ok(await ann.http.get("/api/me/sign-ins")))["sign_ins"]] == [1, 1, 3]
    clock.advance(SIGN_IN_KEEP_DAYS * DAY + 1)
    await login(inst, "bob")  # any attempt prunes the table
    later = await ok(await inst.client().get("/api/me/sign-ins", headers=bearer(keeps)))
    assert later["sign_ins"] == []
    assert {r["user_id"] for r in await rows(inst, sign_ins)} == {bob.id}


# -- the session cookie over HTTPS ----------------------------------------------------------


async def cookie_of(inst: Instance, base_url: str = BASE) -> str:
    """The cookie the admin's setup sets (an http:// client would not send a Secure one back)."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=inst.app), base_url=base_url)
    async with c:
        r = await c.post("/api/setup", json=setup_body(inst.setup_token))
        assert r.status_code == 201, r.text
        return r.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("public_url", "base_url", "secure"),
    [
        ("", "http://testserver", False),
        ("http://rooms.example.org", "http://testserver", False),
        ("https://rooms.example.org", "http://testserver", True),  # behind a TLS proxy
        ("", "https://testserver", True),  # the request itself came over HTTPS
    ],
)
async def test_the_session_cookie_is_secure_over_https(
    tmp_path: Path, public_url: str, base_url: str, secure: bool
) -> None:
    async with running_instance(tmp_path / "data", public_url=public_url or None) as inst:
        cookie = await cookie_of(inst, base_url)
    assert cookie.startswith("parlor_session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert ("; secure" in cookie) is secure, cookie
