"""Render errors: ParlorError as its code; anything else as a 500, then re-raise to log it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from parlor.actions.room_owner import OWNER_HEADER, RoomElsewhere
from parlor.errors import Code, ParlorError
from parlor.transport.http.body_limit import BodyTooLarge, handle_too_large

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    401: Code.NOT_AUTHENTICATED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.BODY_TOO_LARGE,
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def error_response(status: int, code: Code | str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": str(code), "message": message}}, status_code=status, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this path (the 405's `Allow`). A route names
    only its own methods, and one path may have several routes (GET and DELETE /api/me)."""
    allowed = []
    for method in _METHODS:
        # From the top: inside a mount the scope's root_path is the mount's.
        probe = {**request.scope, "method": method, "root_path": request.scope.get("app_root_path", "")}
        for route in request.app.router.routes:
            match, _ = route.matches(probe)
            if match is Match.FULL:
                if isinstance(route, Mount):  # the static files
                    return ["GET", "HEAD"]
                allowed.append(method)
                break
    return allowed


async def _parlor_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParlorError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    if isinstance(exc, RoomElsewhere):
        headers[OWNER_HEADER] = exc.node_url  # forwarded there (node_hop.py), never sent
    # to_dict: some errors carry more than code and message (a suspension's `until`).
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return error_response(400, Code.INVALID_INPUT, "; ".join(problems) or "Invalid request.")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, Code.BAD_REQUEST)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, str(exc.detail), headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ParlorError, _parlor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(BodyTooLarge, handle_too_large)
