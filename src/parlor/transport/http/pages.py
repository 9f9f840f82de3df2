"""What a browser navigates to besides the app's routes: the not-found page and the
service worker (its shell list and version are made here, from the static files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException

from parlor.errors import Code
from parlor.transport.http.auth import MaybeUser
from parlor.transport.http.errors import error_response

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
NO_CACHE = {"Cache-Control": "no-cache"}

# Cached by the service worker: the shell a page needs to start offline. Never the
# API, the socket or media (the service worker does not even look at those).
_SHELL_SUFFIXES = (".js", ".css", ".png", ".svg", ".webmanifest")
_NOT_SHELL = {"sw.js", "embed.html", "not-found.html", "index.html"}


def wants_html(request: Request) -> bool:
    """A browser navigating (it asks for HTML), outside the API."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def not_found(request: Request, exc: Exception) -> Response:
    """404: the not-found page for a browser, the usual JSON error for everything else."""
    if wants_html(request):
        return FileResponse(STATIC / "not-found.html", status_code=404, headers=NO_CACHE)
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    return error_response(404, Code.NOT_FOUND, str(detail))


def shell_urls(static: Path = STATIC) -> list[str]:
    urls = ["/", "/static/offline.html"]
    for path in sorted(static.rglob("*")):
        rel = path.relative_to(static).as_posix()
        if path.is_file() and path.suffix in _SHELL_SUFFIXES and rel not in _NOT_SHELL:
            urls.append(f"/static/{rel}")
    return urls


def service_worker(static: Path = STATIC) -> bytes:
    """sw.js with the shell's file list and a version that changes with any shell
    file, so a new release installs a new cache and the old one is dropped."""
    urls = shell_urls(static)
    digest = hashlib.sha256()
    for url in urls:
        file = static / ("index.html" if url == "/" else url.removeprefix("/static/"))
        digest.update(url.encode() + b"\0" + file.read_bytes())
    head = f"const VERSION = {json.dumps(digest.hexdigest()[:16])};\nconst SHELL = {json.dumps(urls)};\n"
    return head.encode() + (static / "sw.js").read_bytes()


def service_worker_response(body: bytes) -> Response:
    return Response(body, media_type="text/javascript", headers=NO_CACHE)


async def admin_page(user: MaybeUser) -> FileResponse:
    """The admin console's pages: the app for an admin, or for someone signed out (it
    asks them to sign in); for any other member the not-found page, as for a page that
    does not exist (the console's API refuses them anyway)."""
    if user is not None and not user.is_admin:
        return FileResponse(STATIC / "not-found.html", status_code=404, headers=NO_CACHE)
    return FileResponse(STATIC / "index.html", headers=NO_CACHE)

