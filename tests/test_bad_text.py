"""Text and ids from outside, on SQLite and PostgreSQL: a NUL, a right-to-left override
(U+202E) and a bell (U+0007) in any string the API takes — body fields, query
parameters, path ids — never give a 5xx and never reach the database. Every text
field people see (titles, names, bios, usernames, token names, waitlist names…)
refuses them with 400 `invalid_input`, one rule (domain/text.py), and nothing is stored.

The sweep is driven by the OpenAPI document, so a new route or field is covered as
soon as it exists."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import Instance, error_code, fresh_postgres, running_instance
from tests.people import ADMIN, signup_body

from parlor.domain.text import clean_text, has_bad_characters
from parlor.storage import tables

BAD = {"nul": "ab\x00cd", "rlo": "ab\u202ecd", "bel": "ab\x07cd"}

# Fields people see: each must refuse every bad value with 400 invalid_input.
# (method, path, field) — a field in the JSON body, or "?name" for a query parameter.
TEXT_FIELDS = {
    ("POST", "/api/rooms", "title"),
    ("PATCH", "/api/rooms/{room_id}", "title"),
    ("POST", "/api/signup", "username"),
    ("POST", "/api/signup", "display_name"),
    ("POST", "/api/waitlist", "username"),
    ("POST", "/api/waitlist", "display_name"),
    ("PATCH", "/api/me/profile", "display_name"),
    ("PATCH", "/api/me/profile", "bio"),
    ("POST", "/api/tokens", "name"),
    ("GET", "/api/search", "?q"),
    ("GET", "/api/admin/users", "?q"),
    ("PUT", "/api/admin/embed-origins", "origins.0"),
    ("POST", "/api/reports", "note"),
    ("POST", "/api/admin/users/{user_id}/warn", "message"),
    ("POST", "/api/admin/users/{user_id}/suspend", "reason"),
    ("POST", "/api/admin/users/{user_id}/ban", "reason"),
    ("POST", "/api/admin/users/{user_id}/lift", "reason"),
    ("POST", "/api/admin/users/{user_id}/avatar/remove", "reason"),
    ("POST", "/api/admin/rooms/{room_id}/end", "reason"),
    ("POST", "/api/rooms/{room_id}/chat", "text"),
    ("POST", "/api/clubs", "name"),
    ("POST", "/api/clubs", "description"),
    ("POST", "/api/clubs", "rules"),
    ("PATCH", "/api/clubs/{club_id}", "description"),
    ("PATCH", "/api/clubs/{club_id}", "rules"),
    ("GET", "/api/clubs", "?q"),
    ("GET", "/api/admin/clubs", "?q"),
    ("POST", "/api/admin/clubs/{club_id}/remove", "reason"),
}
# Routes left out of the sweep: they would end the sweeping session.
SKIPPED = {("POST", "/api/logout"), ("POST", "/api/embed/logout")}


@pytest.fixture(params=["sqlite", "postgresql"])
async def instance_on(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Instance]:
    if request.param == "sqlite":
        async with running_instance(tmp_path / "data") as inst:
            yield inst
    else:
        async with fresh_postgres() as url, running_instance(tmp_path / "data", database_url=url) as inst:
            yield inst


class Sql:
    """Every parameter sent to the database, to prove garbage never gets there."""

    def __init__(self, instance: Instance) -> None:
        self.params: list[Any] = []
        self.engine = instance.services.db.engine.sync_engine
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        self.params.append((" ".join(statement.split())[:80], params))

    def bad_params(self) -> list[Any]:
        return [p for p in self.params if any(has_bad_characters(v) for v in _strings(p[1]))]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


# -- building requests from the OpenAPI document --------------------------------------------


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            schema = next(s for s in schema[key] if s.get("type") != "null")
            return _resolve(schema, doc)
    return schema


def sample(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A plausible value for `schema`: what a client might send."""
    schema = _resolve(schema, doc)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: sample(sub, doc) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema.get("items", {}), doc)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "number":
        return 1.0
    return "plain"


def string_leaves(value: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every string in a sampled body."""
    if isinstance(value, str):
        yield prefix
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from string_leaves(sub, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from string_leaves(sub, f"{prefix}.{i}" if prefix else str(i))


def put_leaf(body: Any, path: str, value: str) -> Any:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


async def world(instance: Instance) -> tuple[httpx.AsyncClient, dict[str, str], dict[str, Any]]:
    """The admin's client (a bearer token: the sweep cannot sign it out), and real values
    for path parameters, so that a bad body field reaches its action."""
    admin = await instance.admin()
    ann = await instance.member("ann")
    token = (await admin.post("/api/tokens", {"name": "sweep"})).json()["token"]
    # raise_app_exceptions=False: a crash is a 500 to count, not an exception here.
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance.app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )
    instance._clients.append(client)
    room = (await client.post("/api/rooms", json={"title": "Sweep"})).json()
    await ann.post(f"/api/rooms/{room['id']}/join")
    invite = (await client.post("/api/invites")).json()
    values = {
        "room_id": room["id"],
        "target_id": ann.id,
        "user_id": ann.id,
        "invite_id": invite["id"],
        "identifier_id": "ci_nothing",
        "notification_id": "1",
        # a real report, so that a bad resolution note reaches its action
        "report_id": (
            await client.post("/api/reports", json={"target": {"kind": "person", "id": ann.id}, "reason": "spam"})
        ).json()["id"],
        # ids nothing has: what these routes read from a body or a query is checked first
        "session_id": "s_nothing",
        "token_id": "s_nothing",
        "entry_id": "w_nothing",
    }
    return client, values, {"ann": ann, "invite_code": (await client.post("/api/invites")).json()["code"]}


def fill_path(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "who":
            name = "who_id" if path.startswith("/api/users/id/") else "who_name"
        # An id this sweep has no real one for: well-formed, naming nothing.
        return quote(values.get(name, "x_nothing"), safe="")

    return re.sub(r"\{([^}]+)\}", one, path)


async def test_no_bad_string_reaches_the_database_or_gives_a_5xx(instance_on: Instance) -> None:
    instance = instance_on
    # Claiming the instance: the setup form's names are text fields too.
    anon = instance.client()
    for field in ("username", "display_name"):
        for bad in BAD.values():
            r = await anon.post("/api/setup", json={"token": instance.setup_token, **ADMIN, field: bad})
            assert r.status_code == 400 and error_code(r) == "invalid_input", (field, bad, r.text)
    client, values, extra = await world(instance)
    values |= {"who_id": extra["ann"].id, "who_name": "ann"}
    sql = Sql(instance)
    doc = instance.app.openapi()
    refused: set[tuple[str, str, str]] = set()
    problems: list[Any] = []
    tried = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            method = method.upper()
            if (method, path) in SKIPPED:
                continue
            body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body = sample(body_schema, doc) if body_schema else None
            if (method, path) == ("POST", "/api/signup"):
                body = signup_body(extra["invite_code"], "newbie")
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
            query = {
                p["name"]: "plain"
                for p in params
                if p["in"] == "query" and _resolve(p["schema"], doc).get("type") == "string"
            }
            cases: list[tuple[str, str, Any, dict[str, str]]] = []
            for bad in BAD.values():
                for leaf in string_leaves(body):
                    cases.append((leaf, fill_path(path, values), put_leaf(body, leaf, bad), query))
                for name in query:
                    cases.append((f"?{name}", fill_path(path, values), body, {**query, name: bad}))
                for p in params:
                    if p["in"] == "path":
                        garbage = {"who_id": bad, "who_name": bad} if p["name"] == "who" else {p["name"]: bad}
                        cases.append((f"/{p['name']}", fill_path(path, {**values, **garbage}), body, query))
            for where, url, sent, q in cases:
                tried += 1
                r = await client.request(method, url, params=q, json=sent)
                if not 400 <= r.status_code < 500:
                    problems.append((method, path, where, repr(sent), r.status_code, r.text[:200]))
                elif (method, path, where) in TEXT_FIELDS:
                    assert r.status_code == 400 and error_code(r) == "invalid_input", (method, path, where, r.text)
                    refused.add((method, path, where))
    assert problems == []
    assert tried > 250
    assert refused == TEXT_FIELDS - {("POST", "/api/setup", f) for f in ("username", "display_name")}
    assert sql.bad_params() == []
    # Nothing stored: no text column of any table holds a bad character.
    async with instance.services.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                assert not any(has_bad_characters(v) for v in _strings(list(row))), (table.name, row)


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "\u202e",
        "\u202a",
        "\u2066",
        "\u200b",
        "\x07",
        "\x1b[31m",
        "\x1f",
        "\x85",
        "\ud800",
        "\ue000",
        "\ufeff",
    ],
)
def test_the_one_text_rule_refuses_controls_overrides_and_invisibles(text: str) -> None:
    from parlor.errors import ParlorError

    with pytest.raises(ParlorError) as refused:
        clean_text(f"ok{text}ok", "A field", max_len=100)
    assert (refused.value.status, refused.value.code.value) == (400, "invalid_input")


def test_the_one_text_rule_keeps_what_people_write() -> None:
    assert clean_text("  Café\tnight \n\r with   friends ", "A title", max_len=100) == "Café night with friends"
    assert clean_text("👩\u200d💻 coder", "A name", max_len=100) == "👩\u200d💻 coder"  # ZWJ emoji
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # Scotland: tags
    assert clean_text(flag, "A name", max_len=100) == flag
    assert clean_text("مرحبا بالعالم", "A title", max_len=100) == "مرحبا بالعالم"  # RTL text itself is fine
    assert clean_text("e\u0301", "A name", max_len=10) == "é"  # NFC
