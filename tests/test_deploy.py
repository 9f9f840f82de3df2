"""docs/DEPLOY.md's proxy configurations, checked by Debian's nginx and Caddy and run in
front of a real node: pages over HTTPS (nginx) or HTTP (Caddy), the client socket through
the proxy, /metrics kept private.

What the test changes in the examples, and only that: ports (free ones instead of 80,
443 and 8080), the certificate paths (a self-signed certificate made here), and for Caddy
the site address (plain HTTP on loopback: no certificate authority to ask here).
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN

from parlor import protocol as p

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = (ROOT / "docs" / "DEPLOY.md").read_text()


def block(kind: str) -> str:
    [found] = re.findall(rf"```{kind}\n(.*?)```", DEPLOY, flags=re.S)
    return str(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def no_verify() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    # As docs/DEPLOY.md's parlor.env: the proxy on this machine is trusted.
    async with live_server(make_settings(tmp_path / "data", trusted_proxies="127.0.0.1")) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            _, token = await make_member(server, http, "ann")
        yield server, token


async def socket_works(url: str, **kwargs: object) -> None:
    """hello → welcome, ping → pong, through the proxy."""
    async with websockets.connect(url, **kwargs) as ws:  # type: ignore[arg-type]
        await ws.send(p.Hello().to_json())
        assert isinstance(p.parse_server(await ws.recv()), p.Welcome)
        await ws.send(p.Ping().to_json())
        assert isinstance(p.parse_server(await ws.recv()), p.Pong)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kwargs)  # type: ignore[call-overload]


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def server_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.terminate()
        proc.wait(10)


async def wait_listening(port: int) -> None:
    import asyncio

    async with asyncio.timeout(15):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)


# -- nginx ------------------------------------------------------------------------------------


async def test_the_nginx_example_proxies_pages_and_the_socket_over_tls(
    tmp_path: Path, node: tuple[LiveServer, str], server_process: list[subprocess.Popen[bytes]]
) -> None:
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    assert nginx, "Debian's nginx is needed: apt-get install nginx-light (.ci/run installs it)"
    server, token = node
    upstream = server.url.rsplit(":", 1)[1]
    http_port, https_port = free_port(), free_port()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                "/CN=rooms.example.org", "-keyout", str(key), "-out", str(cert)])
    assert made.returncode == 0, made.stderr

    site = block("nginx")
    site = site.replace("/etc/letsencrypt/live/rooms.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/rooms.example.org/privkey.pem", str(key))
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};")
    site = re.sub(r"listen (\[::\]:)?80;", lambda m: f"listen {m.group(1) or ''}{http_port};", site)
    site = re.sub(r"listen (\[::\]:)?443 ", lambda m: f"listen {m.group(1) or ''}{https_port} ", site)
    assert "8080" not in site and "letsencrypt" not in site
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "nginx-tmp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n    client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n    scgi_temp_path {temp}/scgi;\n"
        f"    include {tmp_path}/site.conf;\n}}\n"
    )
    checked = run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    assert checked.returncode == 0, checked.stderr

    server_process.append(start([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"]))
    await wait_listening(https_port)
    async with httpx.AsyncClient(verify=no_verify(), headers={"Host": "rooms.example.org"}) as http:
        redirect = await http.get(f"http://127.0.0.1:{http_port}/healthz")
        assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://rooms.example.org/")
        health = await http.get(f"https://127.0.0.1:{https_port}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        page = await http.get(f"https://127.0.0.1:{https_port}/login")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert (await http.get(f"https://127.0.0.1:{https_port}/metrics")).status_code == 404
        # a sign-in from the site's own page: the node sees https (X-Forwarded-Proto, trusted
        # through PARLOR_TRUSTED_PROXIES), so the write is same-origin and the cookie Secure
        signed_in = await http.post(
            f"https://127.0.0.1:{https_port}/api/login",
            json={"username": ADMIN["username"], "password": ADMIN["password"]},
            headers={"Origin": "https://rooms.example.org"},
        )
        assert signed_in.status_code == 200, signed_in.text
        assert "secure" in signed_in.headers["set-cookie"].lower()
    await socket_works(
        f"wss://127.0.0.1:{https_port}/ws", ssl=no_verify(), additional_headers={"Authorization": f"Bearer {token}"}
    )


# -- Caddy --------------------------------------------------------------------------------------


async def test_the_caddy_example_is_valid_and_proxies_pages_and_the_socket(
    tmp_path: Path, node: tuple[LiveServer, str], server_process: list[subprocess.Popen[bytes]]
) -> None:
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is needed: apt-get install caddy (.ci/run installs it)"
    server, token = node
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PATH": "/usr/bin:/bin"}
    written = tmp_path / "Caddyfile"
    written.write_text(block("caddyfile"))
    valid = run([caddy, "validate", "--config", str(written), "--adapter", "caddyfile"], env=env)
    assert valid.returncode == 0, valid.stderr[-2000:]

    port = free_port()
    local = block("caddyfile").replace("rooms.example.org {", f"http://127.0.0.1:{port} {{", 1)
    local = local.replace("127.0.0.1:8080", server.url.removeprefix("http://"))
    local = "{\n\tadmin off\n\tauto_https off\n}\n\n" + local
    (tmp_path / "Caddyfile.local").write_text(local)
    local_file = str(tmp_path / "Caddyfile.local")
    server_process.append(start([caddy, "run", "--config", local_file, "--adapter", "caddyfile"], env))
    await wait_listening(port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert (await http.get("/metrics")).status_code == 404
    await socket_works(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": f"Bearer {token}"})
