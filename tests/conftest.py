"""Shared fixtures: a real instance (SQLite in a temp dir) driven in-process,
and helpers that act as people (`Instance.member("ann")`)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.people import setup_body, signup_body
from tests.redis_server import RedisServer, redis_process

from parlor.app import build_app
from parlor.settings import Settings, load

BASE = "http://testserver"


@dataclass
class Person:
    """A signed-in member with their own cookie jar."""

    http: httpx.AsyncClient
    user: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.user["id"])

    async def post(self, path: str, json: Any = None) -> httpx.Response:
        return await self.http.post(path, json=json)


class Instance:
    def __init__(self, app: FastAPI, settings: Settings, setup_token: str | None) -> None:
        self.app = app
        self.settings = settings
        self.setup_token = setup_token
        self._admin: Person | None = None
        self._clients: list[httpx.AsyncClient] = []

    @property
    def services(self) -> Any:
        return self.app.state.services

    def client(self) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE)
        self._clients.append(c)
        return c

    async def admin(self) -> Person:
        if self._admin is None:
            c = self.client()
            r = await c.post("/api/setup", json=setup_body(self.setup_token))
            assert r.status_code == 201, r.text
            self._admin = Person(c, r.json())
        return self._admin

    async def invite_code(self) -> str:
        admin = await self.admin()
        r = await admin.post("/api/invites")
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    async def member(self, username: str) -> Person:
        code = await self.invite_code()
        c = self.client()
        r = await c.post("/api/signup", json=signup_body(code, username))
        assert r.status_code == 201, r.text
        return Person(c, r.json())

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    """Test settings: loopback media; media in-process (workers=1) unless a test asks
    for worker processes (the default outside tests is one per core)."""
    extra.setdefault("workers", 1)
    return load({}, data_dir=str(data_dir), ice_hosts="127.0.0.1", **extra)


# -- PostgreSQL ----------------------------------------------------------------------------
# Tests run in a private network namespace, so the server is reached over its unix
# socket. PARLOR_TEST_POSTGRES: unset = use it when reachable, "1" = required (fail
# when unreachable; CI), "0" = don't. PARLOR_TEST_DATABASE=postgresql also runs the
# `instance` fixture (account, room, social tests) on PostgreSQL.
POSTGRES_URL = os.environ.get(
    "PARLOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@/test?host=/var/run/postgresql"
)
_postgres_reachable: dict[str, str | None] = {}


async def _postgres_admin() -> Any:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    return await asyncpg.connect(
        host=url.query.get("host") or url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        timeout=5,
    )


async def _check_postgres() -> None:
    mode = os.environ.get("PARLOR_TEST_POSTGRES", "")
    if mode == "0":
        pytest.skip("PostgreSQL tests off (PARLOR_TEST_POSTGRES=0)")
    if POSTGRES_URL not in _postgres_reachable:
        try:
            conn = await _postgres_admin()
            await conn.close()
            _postgres_reachable[POSTGRES_URL] = None
        except Exception as exc:
            _postgres_reachable[POSTGRES_URL] = f"{type(exc).__name__}: {exc}"
    problem = _postgres_reachable[POSTGRES_URL]
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
        if mode == "1":
            pytest.fail(message + " and PARLOR_TEST_POSTGRES=1 requires it", pytrace=False)
        pytest.skip(message)


@contextlib.asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test; dropped after it."""
    from sqlalchemy.engine import make_url

    await _check_postgres()
    name = f"parlor_test_{secrets.token_hex(6)}"
    admin = await _postgres_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each back end (DESIGN §6: one contract suite for both)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
    else:
        async with fresh_postgres() as url:
            yield url


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (tests/redis_server.py), stopped afterwards."""
    with redis_process(tmp_path / "redis") as server:
        yield server


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database, for nodes of a cluster to share."""
    async with fresh_postgres() as url:
        yield url


@contextlib.asynccontextmanager
async def instance_database(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Settings overrides for the `instance` fixture's database (PARLOR_TEST_DATABASE)."""
    if os.environ.get("PARLOR_TEST_DATABASE", "sqlite") == "postgresql":
        async with fresh_postgres() as url:
            yield {"database_url": url}
    else:
        yield {}


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with instance_database(tmp_path) as overrides, running_instance(tmp_path / "data", **overrides) as inst:
        yield inst


@contextlib.asynccontextmanager
async def running_instance(data_dir: Path, **overrides: Any) -> AsyncIterator[Instance]:
    """A started instance (lifespan run) with its own data directory."""
    settings = make_settings(data_dir, **overrides)
    seen: dict[str, str | None] = {}
    app = build_app(settings, on_ready=lambda _s, token: seen.update(token=token))
    async with app.router.lifespan_context(app):
        inst = Instance(app, settings, seen["token"])
        try:
            yield inst
        finally:
            await inst.close()


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert re.fullmatch(r"[a-z_]+", body["error"]["code"]), body
    assert body["error"]["message"], body
    return str(body["error"]["code"])
