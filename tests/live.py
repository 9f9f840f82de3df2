"""A real server on an unused loopback port, in this test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI
from tests.people import ADMIN, setup_body, signup_body

from parlor.app import build_app
from parlor.settings import Settings


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    settings: Settings
    setup_token: str | None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"


@asynccontextmanager
async def live_server(settings: Settings, bind: str = "127.0.0.1") -> AsyncIterator[LiveServer]:
    """`bind` "0.0.0.0" also answers on 127.0.0.2 etc. (a network-drop test tells one
    browser's traffic from another's by that address)."""
    seen: dict[str, str | None] = {}
    app = build_app(settings, on_ready=lambda _s, token: seen.update(token=token))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, 0))
    port = sock.getsockname()[1]
    # As `parlor serve`: forwarded headers only through the app's PARLOR_TRUSTED_PROXIES.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws_max_size=64 * 1024, proxy_headers=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(15):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, settings, seen.get("token"))
    finally:
        server.should_exit = True
        await task
        sock.close()


async def make_member(server: LiveServer, http: httpx.AsyncClient, username: str) -> tuple[str, str]:
    """Sign up `username` through the admin; return (user id, bearer token)."""
    # 30 s, not httpx's 5: on the shared 2-core box, with argon2 hashing in the other
    # worker, setting people up was seen to take longer (this measures nothing).
    admin = httpx.AsyncClient(base_url=server.url, timeout=30.0)
    try:
        if server.setup_token:
            r = await admin.post("/api/setup", json=setup_body(server.setup_token))
            assert r.status_code == 201, r.text
            server.setup_token = None
        else:
            r = await admin.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
            assert r.status_code == 200, r.text
        code = (await admin.post("/api/invites")).json()["code"]
    finally:
        await admin.aclose()
    r = await http.post("/api/signup", json=signup_body(code, username))
    assert r.status_code == 201, r.text
    token = (await http.post("/api/tokens", json={"name": "tests"})).json()["token"]
    return str(r.json()["id"]), str(token)
