"""The OpenAPI document (`/openapi.json`) as the server really answers.

FastAPI documents a 422 for every route with parameters; this server answers bad input
with 400 and its error body (`{"error": {"code", "message"}}`, transport/http/errors.py),
so the 422 goes and the codes every route can give are listed, with that body:

- 400 where there is anything to validate (parameters or a body);
- 413 where there is a body (the body-size limit, transport/http/body_limit.py);
- 401 where a session or token is read (a bad token is refused even where signing
  in is optional), 403 where a write may come with a cookie (the same-origin rule);
- 404 where the path names something.

What only some routes answer (a 409, a 410, a 403 for a moderator's action, a 429)
the route says itself, with `errors(...)` from here as its `responses=`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable: clients match on it (docs/API.md, Errors)."},
                "message": {"type": "string", "description": "For people; may change."},
            },
        }
    },
}
_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTIONS = {
    400: "Bad input (`invalid_input`, `bad_request`, or a more precise code).",
    401: "Not signed in, or the session or token is not valid (`not_authenticated`).",
    403: "Not allowed (`forbidden`, `cross_origin`, or a more precise code).",
    404: "No such thing (`not_found` or a more precise code).",
    405: "This method is not allowed here (`method_not_allowed`); `Allow` lists those that are.",
    409: "Conflicts with the current state.",
    410: "Gone (`room_ended`).",
    413: "The request body is too large (`body_too_large`, `image_too_large`).",
    429: "Too many requests (`rate_limited` or a more precise code); see `Retry-After`.",
    502: "The identity provider failed or could not be reached (`sso_provider_error`).",
    503: "Unavailable for now.",
}
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these error statuses, with the error body."""
    return {status: _response(status) for status in statuses}


def _response(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS.get(status, "Error."), "content": {"application/json": {"schema": _REF}}}


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def _calls(route: APIRoute) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            found.add(dep.call)
        stack.extend(dep.dependencies)
    return found


def _derived(route: APIRoute, method: str, operation: dict[str, Any], auth: Callable[..., Any]) -> set[int]:
    statuses = set()
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(400)
    if operation.get("requestBody"):
        statuses.add(413)
    if auth in _calls(route):
        statuses.add(401)
        if method not in _SAFE:
            statuses.add(403)
    if "{" in route.path:
        statuses.add(404)
    return statuses


def document(app: FastAPI, generate: Callable[[], dict[str, Any]], auth: Callable[..., Any]) -> dict[str, Any]:
    """The document FastAPI generates, with the error responses as above. `auth` is the
    dependency that reads a session or token (every route needing one depends on it)."""
    doc = copy.deepcopy(generate())
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    routes = {(m, r.path): r for r in api_routes(app.routes) for m in (r.methods or ())}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            route = routes.get((method.upper(), path))
            derived = _derived(route, method.upper(), operation, auth) if route is not None else set()
            for status in sorted(derived):
                responses.setdefault(str(status), _response(status))
            # Route-given errors without a body schema get the error body.
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" not in response:
                    response["content"] = {"application/json": {"schema": _REF}}
            operation["responses"] = dict(sorted(responses.items()))
    return doc


def install(app: FastAPI, auth: Callable[..., Any]) -> None:
    generate = app.openapi
    made: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI caches (and may regenerate) its own document; ours follows it.
        base = generate()
        if not made or made[0][0] is not base:
            made[:] = [(base, document(app, lambda: base, auth))]
        return made[0][1]

    app.openapi = openapi  # type: ignore[method-assign]
