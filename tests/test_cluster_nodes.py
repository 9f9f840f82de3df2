"""Real `parlor serve` nodes on one PostgreSQL and one Redis: a node killed with -9 (its
rooms taken over by another node with the same stage, hands, mutes and moderators, within
5 s), and a node told to stop (its rooms handed to another node at once, not ended)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.nginx_front import start_nginx
from tests.people import setup_body, signup_body
from tests.redis_server import RedisServer

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One `parlor serve` process of the cluster."""

    def __init__(
        self,
        work: Path,
        name: str,
        database_url: str,
        redis_url: str,
        *,
        public_url: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / f"{name}.log"
        data = work / name
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLOR_")}
        env.update({"PYTHONPATH": SRC, "PARLOR_WORKERS": "1", **(extra_env or {})})
        args = ["serve", "--port", str(self.port), "--data-dir", str(data), "--public-url", public_url or self.url]
        args += ["--database-url", database_url, "--redis-url", redis_url, "--ice-host", "127.0.0.1"]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "parlor.cli", *args], stdout=out, stderr=out, env=env)
        deadline = time.monotonic() + 30
        while "serving at" not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def setup_token(self) -> str | None:
        found = re.search(r"setup\?token=(\S+)", self.log.read_text())
        return found.group(1) if found else None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # never leave a node behind; the caller sees -9
                self.proc.wait(10)
        return int(self.proc.returncode)


async def _people(node: Node) -> dict[str, httpx.AsyncClient]:
    """Ann, Bob and Cat signed in (sessions are in the shared database: any node knows them)."""
    admin = httpx.AsyncClient(base_url=node.url)
    r = await admin.post("/api/setup", json=setup_body(node.setup_token()))
    assert r.status_code == 201, r.text
    people = {}
    for name in ("ann", "bob", "cat"):
        code = (await admin.post("/api/invites")).json()["code"]
        client = httpx.AsyncClient()
        r = await client.post(f"{node.url}/api/signup", json=signup_body(code, name))
        assert r.status_code == 201, r.text
        people[name] = client
    await admin.aclose()
    return people


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), (response.request.url, response.text)
    return response.json()


def _stage(view: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What everyone in the room sees of each person: role, hand, mute, its lock."""
    return sorted(
        (p["username"], p["role"], p["hand_raised"], p["self_muted"], p["mute_locked"], p["speak_invite"])
        for p in view["participants"]
    )


async def _a_busy_room(node: Node | Front, people: dict[str, httpx.AsyncClient]) -> tuple[str, dict[str, Any]]:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    room = await _ok(await ann.post(f"{node.url}/api/rooms", json={"title": "Survives its node"}))
    rid = room["id"]
    await _ok(await bob.post(f"{node.url}/api/rooms/{rid}/join"))
    joined = await _ok(await cat.post(f"{node.url}/api/rooms/{rid}/join"))
    cat_id = next(p["user_id"] for p in joined["participants"] if p["username"] == "cat")
    await _ok(await bob.post(f"{node.url}/api/rooms/{rid}/hand", json={"raised": True}))
    await _ok(await ann.post(f"{node.url}/api/rooms/{rid}/speak-invites", json={"user_id": cat_id}))
    await _ok(await cat.post(f"{node.url}/api/rooms/{rid}/speak-invite/accept"))
    await _ok(await ann.post(f"{node.url}/api/rooms/{rid}/moderators", json={"user_id": cat_id}))
    await _ok(await ann.post(f"{node.url}/api/rooms/{rid}/mute-speaker", json={"user_id": cat_id, "lock": True}))
    before = await _ok(await ann.get(f"{node.url}/api/rooms/{rid}"))
    return rid, before


async def _wait_for_room(node: Node, client: httpx.AsyncClient, rid: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"{node.url}/api/rooms/{rid}")
        if r.status_code == 200 and not r.json().get("ended"):
            return dict(r.json())
        assert time.monotonic() < deadline, (r.status_code, r.text, node.log.read_text()[-3000:])
        await _sleep(0.1)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_killed_nodes_room_lives_on_with_its_stage_on_another_node(
    tmp_path: Path, postgres_url: str, redis: RedisServer
) -> None:
    a = Node(tmp_path, "a", postgres_url, redis.url)
    b: Node | None = None
    people: dict[str, httpx.AsyncClient] = {}
    try:
        people = await _people(a)
        rid, before = await _a_busy_room(a, people)
        b = Node(tmp_path, "b", postgres_url, redis.url)
        # b's start left a's room alone; b does not run it while a lives, but answers
        # for it (the request goes on to a)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{b.url}/healthz")).json()["live_rooms"] == 0
        assert _stage(await _ok(await people["ann"].get(f"{b.url}/api/rooms/{rid}"))) == _stage(before)
        a.kill()
        killed = time.monotonic()
        after = await _wait_for_room(b, people["ann"], rid, timeout=10)
        taken_in = time.monotonic() - killed
        assert taken_in <= 5.0, taken_in
        assert _stage(after) == _stage(before)
        assert after["title"] == before["title"]
        # and the room goes on there: a moderator acts in it on b
        await _ok(await people["bob"].post(f"{b.url}/api/rooms/{rid}/hand", json={"raised": False}))
    finally:
        for client in people.values():
            await client.aclose()
        a.stop()
        if b is not None:
            b.stop()


async def test_a_node_told_to_stop_hands_its_rooms_over_at_once(
    tmp_path: Path, postgres_url: str, redis: RedisServer
) -> None:
    a = Node(tmp_path, "a", postgres_url, redis.url)
    b: Node | None = None
    people: dict[str, httpx.AsyncClient] = {}
    try:
        people = await _people(a)
        rid, before = await _a_busy_room(a, people)
        b = Node(tmp_path, "b", postgres_url, redis.url)
        stopping = time.monotonic()
        assert a.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped cleanly
        after = await _wait_for_room(b, people["ann"], rid, timeout=10)
        # released, not lapsed: b's next housekeeping round (every second) takes it
        assert time.monotonic() - stopping <= 3.0
        assert _stage(after) == _stage(before)
        assert "handed 1 rooms to the other nodes" in a.log.read_text()
    finally:
        for client in people.values():
            await client.aclose()
        a.stop()
        if b is not None:
            b.stop()


def _nginx(work: Path, primary: Node, standby: Node) -> tuple[subprocess.Popen[bytes], str]:
    """One active node, one standby (`backup`), failing over when the active one cannot
    be reached."""
    port = _free_port()
    upstream = f"    server 127.0.0.1:{primary.port} max_fails=1 fail_timeout=5s;\n"
    upstream += f"    server 127.0.0.1:{standby.port} backup;"
    return start_nginx(work, port, upstream), f"http://127.0.0.1:{port}"


async def test_behind_nginx_the_standby_takes_a_killed_nodes_rooms_and_answers_for_them(
    tmp_path: Path, postgres_url: str, redis: RedisServer
) -> None:
    a = Node(tmp_path, "a", postgres_url, redis.url)
    people = await _people(a)  # before b starts: a node's start makes a new setup link
    b = Node(tmp_path, "b", postgres_url, redis.url)
    proxy, front = _nginx(tmp_path, a, b)
    try:
        front_node = Front(front)
        rid, before = await _a_busy_room(front_node, people)  # all through nginx, on a
        a.kill()
        killed = time.monotonic()
        seen: set[tuple[int, str]] = set()
        while True:
            r = await people["ann"].get(f"{front}/api/rooms/{rid}")
            if r.status_code == 200:
                break
            # meanwhile the standby says the room is moving, and when to ask again
            assert r.status_code == 503 and r.json()["error"]["code"] == "room_moving", r.text
            assert r.headers["Retry-After"] == "2"
            seen.add((r.status_code, r.json()["error"]["code"]))
            assert time.monotonic() - killed < 10, b.log.read_text()[-3000:]
            await _sleep(0.1)
        assert time.monotonic() - killed <= 5.0
        assert _stage(r.json()) == _stage(before)
        assert seen == {(503, "room_moving")}  # the standby answered before it had the room
        await _ok(await people["bob"].post(f"{front}/api/rooms/{rid}/hand", json={"raised": False}))
    finally:
        for client in people.values():
            await client.aclose()
        proxy.terminate()
        proxy.wait(10)
        a.stop()
        b.stop()


class Front:
    """The load balancer's address, where a test would use a node's."""

    def __init__(self, url: str) -> None:
        self.url = url
