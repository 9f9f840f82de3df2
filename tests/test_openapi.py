"""The OpenAPI document says what the server answers: 400 (never 422) with the error
body, and 401/403/404/413 where they can happen; 405 answers carry `Allow`; an SDP
answer without a DTLS fingerprint is refused (`invalid_sdp`), not left to crash later."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from tests.conftest import Instance, error_code, make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.media.sdp import answer_problem

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


async def test_the_document_lists_400_not_422_and_the_error_body(instance: Instance) -> None:
    doc = (await instance.client().get("/openapi.json")).json()
    assert "422" not in json.dumps(doc["paths"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    ops = operations(doc)
    assert len(ops) > 70
    for method, path, op in ops:
        codes = set(op["responses"])
        if op.get("parameters") or op.get("requestBody"):
            assert "400" in codes, (method, path)
        if op.get("requestBody"):
            assert "413" in codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == ERROR_REF, (method, path, code)
    by_route = {(m, p): set(op["responses"]) for m, p, op in ops}
    # Signed-in routes say 401; writes, which may come with a cookie, 403 (cross-origin).
    assert {"401"} <= by_route[("GET", "/api/me")] and "403" not in by_route[("GET", "/api/me")]
    assert {"401", "403", "404"} <= by_route[("POST", "/api/rooms/{room_id}/join")]
    assert "401" not in by_route[("GET", "/api/signup-mode")]
    assert "401" not in by_route[("GET", "/healthz")]
    # Route-specific codes (errors() on the route).
    assert {"409", "410"} <= by_route[("POST", "/api/rooms/{room_id}/join")]
    assert "409" in by_route[("POST", "/api/signup")]


async def test_what_the_server_answers_is_documented(instance: Instance) -> None:
    doc = (await instance.client().get("/openapi.json")).json()
    anon = instance.client()
    ann = await instance.member("ann")
    cases = [
        (anon, "POST", "/api/rooms", {"title": "x"}, 401),
        (ann.http, "POST", "/api/rooms", {"title": 5}, 400),
        (ann.http, "POST", "/api/rooms", {"title": "x" * 70_000}, 413),
        (ann.http, "GET", "/api/rooms/r_nothing", None, 404),
        (ann.http, "POST", "/api/rooms", {"title": "x"}, 201),
    ]
    for client, method, path, body, status in cases:
        r = await client.request(method, path, json=body)
        assert r.status_code == status, (method, path, r.text)
        template = path if path != "/api/rooms/r_nothing" else "/api/rooms/{room_id}"
        assert str(status) in doc["paths"][template][method.lower()]["responses"], (method, path, status)
        if status >= 400:
            assert set(r.json()) == {"error"} and error_code(r)


async def test_405_says_which_methods_are_allowed(instance: Instance) -> None:
    c = instance.client()
    for method, path, allowed in (
        ("PATCH", "/api/me", "GET, DELETE"),  # two routes share the path
        ("PUT", "/api/rooms", "GET, POST"),
        ("DELETE", "/healthz", "GET"),
        ("POST", "/static/app.js", "GET, HEAD"),
        ("PUT", "/api/users/ann/follow", "POST, DELETE"),
    ):
        r = await c.request(method, path)
        assert r.status_code == 405, (method, path)
        assert r.headers["allow"] == allowed, (method, path)
        assert error_code(r) == "method_not_allowed"


def test_an_answer_must_carry_a_fingerprint_and_ice_credentials() -> None:
    good = "v=0\r\na=fingerprint:sha-256 AB:CD\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\n"
    assert answer_problem(good) is None
    assert answer_problem(good.replace("a=fingerprint:sha-256 AB:CD\r\n", "")) == "no DTLS fingerprint"
    assert answer_problem(good.replace("a=ice-pwd:y\r\n", "")) == "no ICE credentials"
    assert answer_problem("v=0\r\n") == "no media section"
    assert answer_problem("") == "no media section"
    # In every media section when not at session level.
    two = "v=0\r\nm=audio 9 X 111\r\na=fingerprint:sha-256 AB\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\nm=audio 9 X 111\r\n"
    assert answer_problem(two) == "no DTLS fingerprint"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


@pytest.mark.media
async def test_an_sdp_answer_without_a_fingerprint_is_refused(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, "ann")
        http.headers["Authorization"] = f"Bearer {token}"
        room = (await http.post("/api/rooms", json={"title": "Media"})).json()
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    pc = RTCPeerConnection()
    try:

        async def next_of(kind: str) -> dict[str, Any]:
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == kind:
                    return dict(msg)

        await ws.send(json.dumps({"type": "hello"}))
        await next_of("welcome")
        await ws.send(json.dumps({"type": "subscribe", "room_id": room["id"]}))
        for attempt in ("no fingerprint", "no ice"):
            await ws.send(json.dumps({"type": "media.start", "room_id": room["id"]}))
            offer = await next_of("media.offer")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            cut = "a=fingerprint" if attempt == "no fingerprint" else "a=ice-ufrag"
            sdp = "\r\n".join(x for x in pc.localDescription.sdp.splitlines() if not x.startswith(cut)) + "\r\n"
            await ws.send(json.dumps({"type": "media.answer", "room_id": room["id"], "sdp": sdp}))
            err = await next_of("error")
            assert (err["code"], err["ref"]) == ("invalid_sdp", "media.answer"), err
            await pc.close()
            pc = RTCPeerConnection()
        assert server.app.state.services.media.peer_count() == 0  # the half-made peer is closed
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_of("pong"))["type"] == "pong"
    finally:
        await pc.close()
        await ws.close()
