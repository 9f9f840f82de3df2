"""Accounts over HTTP: setup link, invites, sign-up, sign-in, sessions, tokens."""

from __future__ import annotations

import sqlite3

import pytest
from tests.conftest import Instance, error_code


async def test_setup_link_claims_admin_once(instance: Instance) -> None:
    c = instance.client()
    assert (await c.get("/api/setup")).json() == {"needed": True}
    admin = await instance.admin()
    assert admin.user["is_admin"] is True
    assert (await admin.http.get("/api/me")).json()["username"] == "root"
    again = await instance.client().post(
        "/api/setup",
        json={"token": instance.setup_token, "username": "evil", "display_name": "E", "password": "12345678"},
    )
    assert again.status_code == 409 and error_code(again) == "setup_done"
    assert (await c.get("/api/setup")).json() == {"needed": False}


async def test_wrong_setup_token_is_refused(instance: Instance) -> None:
    r = await instance.client().post(
        "/api/setup", json={"token": "nope", "username": "evil", "display_name": "E", "password": "12345678"}
    )
    assert r.status_code == 403 and error_code(r) == "invalid_setup_token"
    assert (await instance.client().get("/api/setup")).json() == {"needed": True}


async def test_signup_needs_a_valid_unused_invite(instance: Instance) -> None:
    code = await instance.invite_code()
    body = {"invite_code": code, "username": "ann", "display_name": "Ann", "password": "hunter2hunter2"}
    wrong = await instance.client().post("/api/signup", json={**body, "invite_code": "not-a-code"})
    assert wrong.status_code == 403 and error_code(wrong) == "invalid_invite"
    ok = await instance.client().post("/api/signup", json=body)
    assert ok.status_code == 201
    reused = await instance.client().post("/api/signup", json={**body, "username": "bob"})
    assert reused.status_code == 403 and error_code(reused) == "invite_used"
    # the refused sign-up created nobody
    login = await instance.client().post("/api/login", json={"username": "bob", "password": "hunter2hunter2"})
    assert login.status_code == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "a"),
        ("username", "has space"),
        ("username", "x" * 31),
        ("password", "short"),
        ("display_name", " "),
    ],
)
async def test_signup_bad_input_changes_nothing(instance: Instance, field: str, value: str) -> None:
    code = await instance.invite_code()
    body = {"invite_code": code, "username": "ann", "display_name": "Ann", "password": "hunter2hunter2"}
    r = await instance.client().post("/api/signup", json={**body, field: value})
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    # the invite is still good
    assert (await instance.client().post("/api/signup", json=body)).status_code == 201


async def test_username_taken(instance: Instance) -> None:
    await instance.member("ann")
    code = await instance.invite_code()
    r = await instance.client().post(
        "/api/signup", json={"invite_code": code, "username": "ANN", "display_name": "A", "password": "hunter2hunter2"}
    )
    assert r.status_code == 409 and error_code(r) == "username_taken"


async def test_login_logout_and_wrong_password(instance: Instance) -> None:
    await instance.member("ann")
    c = instance.client()
    bad = await c.post("/api/login", json={"username": "ann", "password": "wrong-password"})
    assert bad.status_code == 401 and error_code(bad) == "bad_credentials"
    unknown = await c.post("/api/login", json={"username": "nobody", "password": "wrong-password"})
    assert unknown.status_code == 401 and error_code(unknown) == "bad_credentials"
    assert (await c.get("/api/me")).status_code == 401
    ok = await c.post("/api/login", json={"username": "Ann", "password": "hunter2hunter2"})
    assert ok.status_code == 200
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert (await c.get("/api/me")).json()["username"] == "ann"
    assert (await c.post("/api/logout")).status_code == 204
    assert (await c.get("/api/me")).status_code == 401


async def test_cross_origin_cookie_writes_are_refused(instance: Instance) -> None:
    ann = await instance.member("ann")
    evil = await ann.http.post("/api/rooms", json={"title": "Hi"}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and error_code(evil) == "cross_origin"
    assert (await ann.http.get("/api/rooms")).json()["rooms"] == []
    same = await ann.http.post("/api/rooms", json={"title": "Hi"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201


async def test_bearer_tokens(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await ann.post("/api/tokens", json={"name": "my bot"})
    assert r.status_code == 201
    token = r.json()["token"]
    bot = instance.client()
    me = await bot.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "ann"
    bad = await bot.get("/api/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and error_code(bad) == "not_authenticated"
    anon = await instance.client().post("/api/tokens", json={"name": "x"})
    assert anon.status_code == 401


async def test_passwords_are_stored_only_as_argon2id(instance: Instance) -> None:
    await instance.member("ann")
    db = sqlite3.connect(instance.settings.sqlite_path)
    try:
        rows = db.execute("select username, password_hash from users").fetchall()
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert {name for name, _ in rows} == {"root", "ann"}
    for _, stored in rows:
        assert stored.startswith("$argon2id$")
    assert "hunter2hunter2" not in dump and "correct horse" not in dump


async def test_openapi_and_health(instance: Instance) -> None:
    c = instance.client()
    health = await c.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    spec = (await c.get("/openapi.json")).json()
    assert "/api/rooms/{room_id}/join" in spec["paths"]
