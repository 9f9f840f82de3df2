"""A browser behind nginx in front of two active nodes (the README's "Several nodes"
configuration): the node its page talks to, which also runs its room, is killed with -9.
The page reconnects through nginx by itself, the other node takes the room over, and
the listener hears the speaker again, with no reload."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from tests.browser_helpers import expect_connected, inbound_delta, launch, new_page, sign_in
from tests.media.media_helpers import write_tone
from tests.nginx_front import start_nginx
from tests.people import setup_body, signup_body
from tests.redis_server import RedisServer
from tests.test_cluster_nodes import Node, _free_port

from parlor.client import ParlorClient

pytestmark = pytest.mark.browser


def _nginx(work: Path, port: int, nodes: list[Node]) -> subprocess.Popen[bytes]:
    """nginx with both nodes active. `ip_hash`: every request of one address goes to
    the same node while it is up (so the test knows the page's node), and to the other
    once it is down. The Host header keeps the port: the page's Origin has it."""
    servers = "\n".join(f"    server 127.0.0.1:{n.port} max_fails=1 fail_timeout=30s;" for n in nodes)
    return start_nginx(work, port, f"    ip_hash;\n{servers}", host_header="$http_host")


async def _node_of(url: str) -> str:
    async with httpx.AsyncClient() as http:
        return str((await http.get(f"{url}/healthz")).json()["node"])


async def test_behind_nginx_a_page_whose_node_is_killed_hears_the_room_again_without_a_reload(
    tmp_path: Path, postgres_url: str, redis: RedisServer
) -> None:
    port = _free_port()
    front = f"http://127.0.0.1:{port}"
    a = Node(tmp_path, "a", postgres_url, redis.url, public_url=front)
    nodes = [a]
    proxy: subprocess.Popen[bytes] | None = None
    speaker: ParlorClient | None = None
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=30.0) as admin:
            r = await admin.post("/api/setup", json=setup_body(a.setup_token()))
            assert r.status_code == 201, r.text
            tokens = {}
            for name in ("sam", "lou"):
                code = (await admin.post("/api/invites")).json()["code"]
                async with httpx.AsyncClient(base_url=a.url) as person:
                    r = await person.post("/api/signup", json=signup_body(code, name))
                    assert r.status_code == 201, r.text
                    tokens[name] = (await person.post("/api/tokens", json={"name": "bot"})).json()["token"]
        b = Node(tmp_path, "b", postgres_url, redis.url, public_url=front)
        nodes.append(b)
        proxy = _nginx(tmp_path, port, nodes)
        page_node = await _node_of(front)
        first = a if await _node_of(a.url) == page_node else b
        other = b if first is a else a

        # Sam speaks from a bot through nginx (so on the page's node, which runs the room).
        speaker = ParlorClient(front, tokens["sam"], ice_hosts=("127.0.0.1",))
        await speaker.connect()
        room = await speaker.create_room("Two nodes, one room")
        rid = room["id"]
        stage = await speaker.join_room(rid, send_wav=write_tone(tmp_path / "sam.wav", seconds=4, freq=440))
        await stage.post("mute", {"muted": False})
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{first.url}/healthz")).json()["live_rooms"] == 1

        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                _, page = await new_page(browser)
                await sign_in(page, front, "lou")
                await page.goto(f"{front}/rooms/{rid}")
                await expect_connected(page)
                await expect(page.get_by_role("list", name="Audience")).to_contain_text("Lou")

                async def heard() -> bool:
                    delta = await inbound_delta(page, 1.0)
                    return delta["packetsReceived"] > 20 and delta["totalAudioEnergy"] > 0

                deadline = time.monotonic() + 15
                while not await heard():
                    assert time.monotonic() < deadline, "the listener never heard the speaker"
                await page.evaluate("window.__sameDocument = true")

                first.kill()
                killed = time.monotonic()
                deadline = killed + 30
                while not await heard():
                    assert time.monotonic() < deadline, (other.log.read_text()[-3000:])
                heard_in = time.monotonic() - killed
                print(f"heard again {heard_in:.1f} s after the page's node was killed")
                assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
                await expect_connected(page)
                async with httpx.AsyncClient() as http:
                    assert (await http.get(f"{other.url}/healthz")).json()["live_rooms"] == 1
            finally:
                await browser.close()
    finally:
        if speaker is not None:
            await speaker.close()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for node in nodes:
            node.stop()
        await asyncio.sleep(0)
