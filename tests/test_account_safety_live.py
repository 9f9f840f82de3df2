"""Account safety against a real server: what ends a session closes the sockets it opened
(a password change, revoking a token, its expiry, `parlor admin reset-password` run
beside the server), and the operator's reset-password command."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import MEMBER_PASSWORD
from tests.test_socket import Sock, closed_signed_out, connect

from parlor.cli import main
from parlor.transport.ws.endpoint import SESSION_CHECK_S

SRC = str(Path(__file__).resolve().parent.parent / "src")
NEW_PASSWORD = "a much better password"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


def advance(server: LiveServer, seconds: float) -> None:
    s = server.app.state.services
    real = s.clock
    s.clock = lambda: real() + seconds


async def pongs(sock: Sock) -> bool:
    await sock.send({"type": "ping"})
    return (await sock.recv_until(lambda m: m["type"] == "pong"))["type"] == "pong"


async def connect_with_cookie(server: LiveServer, http: httpx.AsyncClient) -> Sock:
    cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    ws = await websockets.connect(server.ws_url, additional_headers={"Cookie": cookie})
    sock = Sock(ws)
    await sock.send({"type": "hello"})
    assert (await sock.recv())["type"] == "welcome"
    return sock


async def test_changing_the_password_closes_the_other_sessions_sockets(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http, httpx.AsyncClient(base_url=server.url) as phone:
        _, token = await make_member(server, http, "ann")
        r = await phone.post("/api/login", json={"username": "ann", "password": MEMBER_PASSWORD})
        assert r.status_code == 200
        here = await connect_with_cookie(server, http)
        on_phone = await connect_with_cookie(server, phone)
        bot, _ = await connect(server, token)

        r = await http.post(
            "/api/me/password", json={"current_password": MEMBER_PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert r.status_code == 200 and r.json() == {"ended": 2}
        await closed_signed_out(on_phone)
        await closed_signed_out(bot)
        assert await pongs(here)
        assert (await phone.get("/api/me")).status_code == 401
        with pytest.raises(websockets.InvalidStatus):
            await connect(server, token)


async def test_revoking_a_token_or_session_closes_its_sockets(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http, httpx.AsyncClient(base_url=server.url) as phone:
        _, token = await make_member(server, http, "ann")
        other = (await http.post("/api/tokens", json={"name": "other"})).json()
        r = await phone.post("/api/login", json={"username": "ann", "password": MEMBER_PASSWORD})
        assert r.status_code == 200
        bot, _ = await connect(server, token)
        other_bot, _ = await connect(server, other["token"])
        on_phone = await connect_with_cookie(server, phone)

        assert (await http.delete(f"/api/tokens/{other['id']}")).status_code == 204
        await closed_signed_out(other_bot)
        assert await pongs(bot) and await pongs(on_phone)

        phone_id = next(s["id"] for s in (await http.get("/api/me/sessions")).json()["sessions"] if not s["current"])
        assert (await http.delete(f"/api/me/sessions/{phone_id}")).status_code == 204
        await closed_signed_out(on_phone)
        assert await pongs(bot)


async def test_an_expired_tokens_socket_closes_at_its_next_ping(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        day = (await http.post("/api/tokens", json={"name": "a day", "expires_in_days": 1})).json()
    short, _ = await connect(server, day["token"])
    lasting, _ = await connect(server, token)
    assert await pongs(short)
    advance(server, 86400 + 1)
    await short.send({"type": "ping"})
    await closed_signed_out(short)
    assert await pongs(lasting)


# -- parlor admin reset-password ------------------------------------------------------------


def reset_password(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PARLOR_")}
    environ["PYTHONPATH"] = SRC
    return subprocess.run(
        [sys.executable, "-m", "parlor.cli", "admin", "reset-password", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )


async def test_reset_password_sets_it_and_ends_every_session_and_token(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = server.settings.data_dir
    async with httpx.AsyncClient(base_url=server.url) as http, httpx.AsyncClient(base_url=server.url) as bob:
        _, token = await make_member(server, http, "ann")
        await make_member(server, bob, "bob")

        # refusals change nothing (in this process: main() runs its own event loop, so in a thread)
        for username, typed, says in (
            ("nobody_here", NEW_PASSWORD, "no user named 'nobody_here'"),
            ("ann", "short", "8 to 200"),
        ):
            monkeypatch.setattr("sys.stdin", io.StringIO(typed + "\n"))
            args = ["admin", "reset-password", username, "--password-stdin", "--data-dir", str(data)]
            assert await asyncio.to_thread(main, args) == 2
            assert says in capsys.readouterr().err
        assert (await http.get("/api/me")).status_code == 200

        sock, _ = await connect(server, token)
        done = await asyncio.to_thread(reset_password, data, "Ann", "--password-stdin", stdin=NEW_PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Password reset for ann; 2 sessions and tokens ended."
        assert NEW_PASSWORD not in done.stdout + done.stderr

        # signed out everywhere, at once over HTTP; the open socket at its next check
        assert (await http.get("/api/me")).status_code == 401
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await bob.get("/api/me")).status_code == 200
        assert await pongs(sock)  # the CLI's process cannot reach this node's bus
        advance(server, SESSION_CHECK_S + 1)
        await sock.send({"type": "ping"})
        await closed_signed_out(sock)

        old = await http.post("/api/login", json={"username": "ann", "password": MEMBER_PASSWORD})
        assert old.status_code == 401
        new = await http.post("/api/login", json={"username": "ann", "password": NEW_PASSWORD})
        assert new.status_code == 200


def test_reset_password_asks_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["migrate", "--data-dir", str(data)]) == 0
    answers = iter([NEW_PASSWORD, NEW_PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["admin", "reset-password", "root", "--data-dir", str(data)]) == 2
    assert "differ" in capsys.readouterr().err
    # typed the same twice: on to the lookup (nobody is called root here yet)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    assert main(["admin", "reset-password", "root", "--data-dir", str(data)]) == 2
    assert "no user named 'root'" in capsys.readouterr().err
