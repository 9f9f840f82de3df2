"""The request-body limit: a huge body is refused with 413 `body_too_large` before it is
read (by its Content-Length) or as soon as the bytes counted pass the limit (chunked),
on a real server, with the sender cut off; the avatar upload has its own larger limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import Instance, error_code, make_settings
from tests.live import live_server

from parlor.transport.http.body_limit import DRAIN_BYTES

HUGE = 300 * 1024 * 1024  # the finding: a 300 MB sign-in body
CHUNK = 64 * 1024
# What may have left the client before the server cut it off: the limit plus the
# kernel's socket buffers on loopback (a few MB), far below the 300 MB offered.
SENT_AT_MOST = 24 * 1024 * 1024


class Counted:
    """A request body of `total` bytes, made on demand; counts what the client sent."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        head = b'{"username": "ann", "password": "'
        self.sent += len(head)
        yield head
        while self.sent < self.total:
            block = b"x" * min(CHUNK, self.total - self.sent)
            self.sent += len(block)
            yield block


async def post_while_reading(url: str, path: str, body: Counted, declared: bool) -> tuple[int, dict[str, str], bytes]:
    """POST `body` over a raw socket, reading the answer while sending (as browsers and
    curl do): stop sending once the server has answered. Returns (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = f"Content-Length: {body.total}" if declared else "Transfer-Encoding: chunked"
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    writer.write(head.encode())
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    try:
        async for chunk in body.chunks():
            if answer.done():
                break
            writer.write(chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk))
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait([answer, drained], return_when=asyncio.FIRST_COMPLETED)
            if not drained.done():
                drained.cancel()
            elif drained.exception() is not None:
                break  # cut off: the answer is already on its way
    except ConnectionError:
        pass
    lines = (await asyncio.wait_for(answer, 10)).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    content = await reader.readexactly(int(headers["content-length"]))
    writer.close()
    return int(lines[0].split()[1]), headers, content


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_sign_in_body_is_refused_before_it_is_read(tmp_path: Path, declared: bool) -> None:
    async with live_server(make_settings(tmp_path / "data")) as server:
        body = Counted(HUGE)
        status, headers, content = await post_while_reading(server.url, "/api/login", body, declared)
        assert status == 413, content
        assert json.loads(content)["error"]["code"] == "body_too_large"
        assert headers["connection"] == "close"
        assert headers["x-content-type-options"] == "nosniff"  # the policy headers too
        # Refused long before the 300 MB were sent (let alone read).
        assert body.sent < SENT_AT_MOST, body.sent
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/healthz")).status_code == 200


async def test_a_client_that_sends_everything_first_still_reads_its_413(tmp_path: Path) -> None:
    """Lingering close: a body a little over the limit is drained, so a client that
    only reads once it has sent everything (httpx) gets the answer, not a reset."""
    async with live_server(make_settings(tmp_path / "data")) as server, httpx.AsyncClient(base_url=server.url) as http:
        for declared in (True, False):
            body = Counted(server.settings.body_max_bytes * 4)
            headers = {"Content-Type": "application/json"}
            if declared:
                headers["Content-Length"] = str(body.total)
            r = await http.post("/api/login", content=body.chunks(), headers=headers)
            assert r.status_code == 413 and error_code(r) == "body_too_large", declared
            assert r.headers["connection"] == "close"


async def test_every_route_has_the_default_limit_and_the_avatar_its_own(instance: Instance) -> None:
    ann = await instance.member("ann")
    limit = instance.settings.body_max_bytes
    padding = "x" * limit
    for method, path in (
        ("POST", "/api/login"),
        ("POST", "/api/rooms"),
        ("PATCH", "/api/me/profile"),
        ("POST", "/api/contacts/match"),
        ("GET", "/api/me"),  # even a route that reads no body
        ("POST", "/api/no/such/route"),
    ):
        r = await ann.http.request(method, path, content=json.dumps({"title": padding}).encode())
        assert r.status_code == 413 and error_code(r) == "body_too_large", (method, path, r.status_code)
    # At the limit, the body is read and judged on what it says.
    at_limit = json.dumps({"title": "x" * (limit - 20)}).encode()
    assert len(at_limit) <= limit
    r = await ann.http.post("/api/rooms", content=at_limit, headers={"content-type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    # The avatar may be far bigger than the default (its own limit and code).
    big = b"\x89PNG" + b"\0" * (limit * 4)
    r = await ann.http.put("/api/me/avatar", content=big)
    assert r.status_code == 400 and error_code(r) == "not_an_image"
    r = await ann.http.put("/api/me/avatar", content=b"\0" * (instance.settings.avatar_max_bytes + 1))
    assert r.status_code == 413 and error_code(r) == "image_too_large"


async def test_a_chunked_body_past_the_limit_is_refused_in_process(instance: Instance) -> None:
    """Without Content-Length the middleware counts what the route reads: past the limit
    it stops, lingers over at most DRAIN_BYTES more, and answers."""
    admin = await instance.admin()
    body = Counted(100 * 1024 * 1024)
    r = await admin.http.post("/api/rooms", content=body.chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "body_too_large"
    assert body.sent <= instance.settings.body_max_bytes + DRAIN_BYTES + 2 * CHUNK
    assert (await admin.http.get("/api/rooms")).json()["rooms"] == []
