"""A small OpenID provider of the tests' own, served by uvicorn on a loopback port.

It speaks the real protocol an SSO sign-in uses: a discovery document, a JWKS with an
RSA key made here, /authorize that approves at once (the person is whoever the test
says signs in next) and redirects back with a code, /token that checks the client's
credentials, the code, the redirect URI and the PKCE verifier, and answers with an ID
token signed by that key. `tamper` makes the next ID token wrong in one way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "parlor-test"
CLIENT_SECRET = "op-client-secret-" + "x" * 16


@dataclass
class Provider:
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "op-key"}))
    # Who signs in next: the ID token's claims besides iss/aud/exp/iat/nonce.
    person: dict[str, Any] = field(default_factory=lambda: {"sub": "alice-1", "preferred_username": "alice"})
    # One-shot changes to the next ID token: "nonce", "aud", "expired", "other_key"; or
    # "error" to refuse at /authorize with that OAuth error.
    tamper: set[str] = field(default_factory=set)
    error: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The codes and the tokens it handed out, so a test can look for them where they
    # must not be.
    issued_codes: list[str] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            **grant["person"],
            "iss": self.url,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
        }
        key = self.key
        if "nonce" in self.tamper:
            claims["nonce"] = "not-the-nonce"
        if "aud" in self.tamper:
            claims["aud"] = "some-other-client"
        if "expired" in self.tamper:
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        if "other_key" in self.tamper:
            key = RSAKey.generate_key(2048, parameters={"kid": "op-key"})
        self.tamper.clear()
        return jwt.encode({"alg": "RS256", "kid": "op-key"}, claims, key)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def provider_app(op: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": op.url,
            "authorization_endpoint": f"{op.url}/authorize",
            "token_endpoint": f"{op.url}/token",
            "jwks_uri": f"{op.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return KeySet([op.key]).as_dict(private=False)

    @app.get("/authorize")
    async def authorize(request: Request) -> Response:
        q = dict(request.query_params)
        op.authorize_requests.append(q)
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge") or not q.get("nonce"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE and nonce"}, status_code=400)
        back = q["redirect_uri"]
        if op.error:
            error, op.error = op.error, None
            return RedirectResponse(f"{back}?{urlencode({'error': error, 'state': q['state']})}", status_code=302)
        code = secrets.token_urlsafe(24)
        op.issued_codes.append(code)
        op.codes[code] = {
            "person": dict(op.person),
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": back,
        }
        return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': q['state']})}", status_code=302)

    @app.post("/token")
    async def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(),
    ) -> Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = op.codes.pop(code, None)
        if (
            grant_type != "authorization_code"
            or grant is None
            or grant["redirect_uri"] != redirect_uri
            or _s256(code_verifier) != grant["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access_token = "op-access-" + secrets.token_urlsafe(24)
        id_token = op.id_token(grant)
        op.issued_tokens += [access_token, id_token]
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token},
            headers={"Cache-Control": "no-store"},
        )

    return app


@asynccontextmanager
async def oidc_provider() -> AsyncIterator[Provider]:
    op = Provider()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    op.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(provider_app(op), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(15):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield op
    finally:
        server.should_exit = True
        await task
        sock.close()
