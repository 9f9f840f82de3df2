"""Shared fixtures: a real instance (SQLite in a temp dir) driven in-process,
and helpers that act as people (`Instance.member("ann")`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

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
            r = await c.post(
                "/api/setup",
                json={
                    "token": self.setup_token,
                    "username": "root",
                    "display_name": "Root",
                    "password": "correct horse",
                },
            )
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
        r = await c.post(
            "/api/signup",
            json={
                "invite_code": code,
                "username": username,
                "display_name": username.title(),
                "password": "hunter2hunter2",
            },
        )
        assert r.status_code == 201, r.text
        return Person(c, r.json())

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    return load({}, data_dir=str(data_dir), ice_hosts="127.0.0.1", **extra)


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    settings = make_settings(tmp_path / "data")
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
