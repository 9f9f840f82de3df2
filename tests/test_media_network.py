"""Media network settings: the UDP port range (worker processes too) and TURN with
short-lived credentials (the TURN REST API scheme coturn's `use-auth-secret` checks).

The credentials are checked three ways: recomputed here from the secret, used by
Chromium's RTCPeerConnection, and accepted by a real coturn (Debian's package) that a
relay-only parlor.client listener goes through to hear a speaker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import Instance, make_settings, running_instance
from tests.live import LiveServer, live_server, make_member
from tests.media.media_helpers import write_tone

from parlor.client import ParlorClient
from parlor.settings import SettingsError, load

SECRET = "north-wind-7f3a9c"
TTL = 600


def expected_password(username: str, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- settings --------------------------------------------------------------------------


def test_media_network_settings_are_read_and_checked(tmp_path: Path) -> None:
    s = load({"PARLOR_UDP_PORTS": "50000-50199", "PARLOR_TURN_URLS": "turn:t.example:3478, turns:t.example:5349",
              "PARLOR_TURN_SECRET": SECRET}, data_dir=str(tmp_path))
    assert s.udp_ports == (50000, 50199)
    assert s.turn_urls == ("turn:t.example:3478", "turns:t.example:5349")
    assert SECRET not in repr(s)  # never in a log line that prints settings
    assert load({}, udp_ports="40000-40000", data_dir=str(tmp_path)).udp_ports == (40000, 40000)
    for bad in ({"PARLOR_UDP_PORTS": "50199-50000"}, {"PARLOR_UDP_PORTS": "80-90"}, {"PARLOR_UDP_PORTS": "lots"},
                {"PARLOR_TURN_URLS": "stun:t.example"}, {"PARLOR_TURN_URLS": "turn:t.example"},
                {"PARLOR_TURN_SECRET": SECRET}):
        with pytest.raises(SettingsError):
            load(bad, data_dir=str(tmp_path))


# -- credentials -----------------------------------------------------------------------


@pytest.fixture
async def turn_instance(tmp_path: Path) -> AsyncIterator[Instance]:
    overrides = {"turn_urls": "turn:127.0.0.1:3478?transport=udp", "turn_secret": SECRET, "turn_ttl_s": TTL}
    async with running_instance(tmp_path / "data", **overrides) as inst:
        yield inst


async def test_credentials_verify_with_the_hmac_and_expire(
    turn_instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ann, bob = await turn_instance.member("ann"), await turn_instance.member("bob")
    before = time.time()
    r = await ann.http.get("/api/media/ice-servers")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["ttl_s"] == TTL
    [server] = body["ice_servers"]
    assert server["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    expiry, user_id = server["username"].split(":")
    assert user_id == ann.id
    assert before + TTL - 1 <= int(expiry) <= time.time() + TTL
    assert server["credential"] == expected_password(server["username"])
    assert server["credential"] != expected_password(server["username"], "another secret")
    # expiry is in the signed username: moving it forward breaks the HMAC
    assert server["credential"] != expected_password(f"{int(expiry) + 86400}:{ann.id}")
    # later requests get later expiries; another member gets their own name
    turn_instance.services.clock = lambda: time.time() + 1000
    later = (await ann.http.get("/api/media/ice-servers")).json()["ice_servers"][0]
    assert int(later["username"].split(":")[0]) >= int(expiry) + 999
    theirs = (await bob.http.get("/api/media/ice-servers")).json()["ice_servers"][0]
    assert theirs["username"].endswith(f":{bob.id}") and theirs["credential"] == expected_password(theirs["username"])
    # signed-in members only; and neither the secret nor a credential is logged
    assert (await turn_instance.client().get("/api/media/ice-servers")).status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged and server["credential"] not in logged and later["credential"] not in logged


async def test_without_turn_there_are_no_ice_servers(instance: Instance) -> None:
    ann = await instance.member("ann")
    assert (await ann.http.get("/api/media/ice-servers")).json() == {"ice_servers": [], "ttl_s": None}


# -- the browser's RTCPeerConnection ------------------------------------------------------


@pytest.mark.media
@pytest.mark.browser
async def test_the_browsers_peer_connection_gets_the_configured_ice_servers(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright
    from tests.browser_helpers import expect_connected, launch, new_page, poll, sign_in

    settings = make_settings(
        tmp_path / "data", turn_urls="turn:127.0.0.1:9?transport=udp", turn_secret=SECRET, turn_ttl_s=TTL
    )
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        lena_id, _ = await make_member(server, http, "lena")
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                _, page = await new_page(browser)
                await sign_in(page, server.url, "lena")
                await page.get_by_role("textbox", name="Room title").fill("Behind a NAT")
                await page.get_by_role("button", name="Start a room").click()
                await page.wait_for_url("**/rooms/*")
                await expect_connected(page)
                script = "() => window.parlor && window.parlor.pc && window.parlor.pc.getConfiguration()"
                config = await poll(
                    lambda: page.evaluate(script),
                    lambda c: bool(c and c.get("iceServers")),
                    what="a peer connection with ICE servers",
                )
            finally:
                await browser.close()
    [ice] = config["iceServers"]
    assert ice["urls"] == ["turn:127.0.0.1:9?transport=udp"]
    assert ice["username"].endswith(f":{lena_id}")
    assert ice["credential"] == expected_password(ice["username"])


# -- UDP port range in the media worker processes -------------------------------------------


@pytest.mark.media
async def test_media_worker_processes_bind_inside_the_udp_port_range(tmp_path: Path) -> None:
    first = free_udp_port()
    settings = make_settings(tmp_path / "data", workers=2, udp_ports=f"{first}-{first + 9}")
    async with live_server(settings) as server:
        clients = [await bot(server, name) for name in ("ann", "bob", "carl")]
        try:
            room = await clients[0].create_room("Firewalled")
            sessions = [await c.join_room(room["id"]) for c in clients]
            pool = server.app.state.services.media
            assert {pool.worker_of(room["id"], c.user_id) for c in clients} == {0, 1}  # both workers in use
            for session in sessions:
                assert session.media is not None and session.media.connection_state == "connected"
                offer = session.media.pc.remoteDescription.sdp
                ports = [int(line.split()[5]) for line in offer.splitlines() if line.startswith("a=candidate:")]
                assert ports and all(first <= p <= first + 9 for p in ports), ports
        finally:
            for c in clients:
                await c.close()


async def bot(server: LiveServer, name: str, *, relay_only: bool = False) -> ParlorClient:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, name)
    client = ParlorClient(server.url, token, ice_hosts=("127.0.0.1",), relay_only=relay_only)
    await client.connect()
    return client


# -- a real coturn -------------------------------------------------------------------------


@pytest.fixture
def coturn(tmp_path: Path) -> tuple[int, subprocess.Popen[bytes]]:
    binary = shutil.which("turnserver")
    assert binary, "Debian's coturn is needed: apt-get install coturn (.ci/run installs it)"
    port = free_udp_port()
    relay_low = free_udp_port()
    proc = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         "--use-auth-secret", f"--static-auth-secret={SECRET}", "--realm=parlor.test", "--allow-loopback-peers",
         "--no-tls", "--no-dtls", "--no-tcp", "--no-cli", "--no-stdout-log", "--simple-log",
         f"--log-file={tmp_path / 'turn.log'}",
         f"--min-port={min(relay_low, 64000)}", f"--max-port={min(relay_low, 64000) + 100}",
         f"--pidfile={tmp_path / 'turn.pid'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield port, proc
    proc.terminate()
    proc.wait(10)


@pytest.mark.media
async def test_a_relay_only_listener_hears_the_speaker_through_coturn(
    tmp_path: Path, coturn: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, proc = coturn
    tone = write_tone(tmp_path / "ann.wav", seconds=3, freq=440)
    settings = make_settings(
        tmp_path / "data", turn_urls=f"turn:127.0.0.1:{port}?transport=udp", turn_secret=SECRET, turn_ttl_s=TTL
    )
    async with live_server(settings) as server:
        ann = await bot(server, "ann")
        bob = await bot(server, "bob", relay_only=True)
        try:
            room = await ann.create_room("Through the relay")
            ann_room = await ann.join_room(room["id"], send_wav=tone)
            await ann_room.post("mute", {"muted": False})  # the creator comes on stage muted
            bob_room = await bob.join_room(room["id"])
            assert proc.poll() is None
            media = bob_room.media
            assert media is not None
            async with asyncio.timeout(10):
                while media.packets_received < 50:
                    await asyncio.sleep(0.05)
            assert media.level() > 0.05  # the tone, decoded
            # bob's only way in is the relay: his nominated pair is a relayed candidate
            pair = media.pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1]
            assert pair.local_candidate.type == "relay"
        finally:
            await ann.close()
            await bob.close()
    log = (tmp_path / "turn.log").read_text(errors="replace") if (tmp_path / "turn.log").exists() else ""
    assert SECRET not in log
