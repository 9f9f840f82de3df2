"""Private contact matching over HTTP (docs/API.md, "Contact matching").

The lookups go through the Python client (`parlor.client.contacts`), as a user's
would. Runs on SQLite, and on PostgreSQL with PARLOR_TEST_DATABASE=postgresql.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Instance, Person, error_code, instance_database, make_settings, running_instance
from tests.live import live_server, make_member

from parlor.actions import contacts as contact_actions
from parlor.actions import growth
from parlor.client import ClientError, ParlorClient
from parlor.client import contacts as cc
from parlor.storage import accounts as account_store
from parlor.storage import contacts as store
from parlor.storage import tables
from parlor.storage.db import Database

DATA = Path(__file__).parent / "data"
VECTORS = json.loads((DATA / "contact_vectors.json").read_text())
STATIC_CONTACTS = Path(cc.__file__).parents[1] / "web" / "static" / "contacts.js"


class Caller:
    """`ParlorClient.call` over a test's httpx client (cookie, bearer or waitlist token)."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.http = http
        self.headers = headers or {}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.http.request(method, path, json=body, headers=self.headers)
        if r.status_code >= 400:
            err = r.json()["error"]
            raise ClientError(r.status_code, err["code"], err["message"])
        return {} if r.status_code == 204 else dict(r.json())


def caller(person: Person) -> Caller:
    return Caller(person.http)


async def opt_in(person: Person, kind: str, raw: str, country: str | None = None) -> dict[str, Any]:
    return await cc.add_findable(caller(person), kind, raw, default_country=country)


async def listed(person: Person) -> list[dict[str, Any]]:
    r = await person.http.get("/api/contacts/identifiers")
    assert r.status_code == 200, r.text
    return list(r.json()["identifiers"])


async def find(person: Person, entries: list[str], country: str | None = "+44") -> cc.Matches:
    return await cc.find_contacts(caller(person), entries, default_country=country)


def usernames(found: cc.Matches) -> set[str]:
    return {m["username"] for m in found.members}


async def join_waitlist(inst: Instance, username: str) -> tuple[str, str, Caller]:
    """(entry id, token, a caller that sends the token)."""
    joined = await growth.do_join_waitlist(inst.services, username, username.title())
    token = joined["token"]
    return joined["entry"]["id"], token, Caller(inst.client(), {"X-Waitlist-Token": token})


@pytest.fixture
async def small_buckets(tmp_path: Path) -> AsyncIterator[Instance]:
    """An instance whose buckets need only 2 identifiers on average, so a handful
    of findable identifiers already gives prefixes of a few bits."""
    async with (
        instance_database(tmp_path) as overrides,
        running_instance(tmp_path / "data", contact_bucket_min=2, **overrides) as inst,
    ):
        yield inst


# -- normalising and hashing: Python and the browser agree ----------------------------------


def test_python_normaliser_matches_the_shared_vectors() -> None:
    for p in VECTORS["phones"]:
        assert cc.normalize_phone(p["raw"], p["country"]) == p["e164"], p
    for e in VECTORS["emails"]:
        assert cc.normalize_email(e["raw"]) == e["normalized"], e
    for k in VECTORS["kinds"]:
        got = cc.normalize(k["raw"], k["country"])
        assert (list(got) if got else None) == k["expected"], k
    key = bytes.fromhex(VECTORS["key"])
    for h in VECTORS["hashes"]:
        assert cc.keyed_hash(key, h["kind"], h["value"]) == h["hash"]
        # an HMAC, not a plain hash of the identifier
        assert h["hash"] != hashlib.sha256(f"{h['kind']}:{h['value']}".encode()).hexdigest()
    for p in VECTORS["prefixes"]:
        assert cc.prefix_of(p["hash"], p["bits"]) == p["prefix"]
    for p in VECTORS["parse"]:
        assert cc.parse_contacts(p["text"], p["filename"]) == p["entries"]


def test_browser_normaliser_matches_the_shared_vectors_under_node() -> None:
    out = subprocess.run(
        ["node", str(DATA / "check_contact_vectors.mjs"), str(STATIC_CONTACTS), str(DATA / "contact_vectors.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("findable", "bucket_min", "bits"),
    [(0, 32, 0), (63, 32, 0), (64, 32, 1), (1000, 32, 4), (1_000_000, 32, 14), (10**12, 32, 20), (5, 1, 2)],
)
def test_prefix_length_keeps_buckets_at_least_bucket_min(findable: int, bucket_min: int, bits: int) -> None:
    assert contact_actions.prefix_bits_for(findable, bucket_min) == bits
    if bits < contact_actions.PREFIX_BITS_MAX:
        assert findable / 2**bits >= bucket_min or findable < 2 * bucket_min


# -- parameters ---------------------------------------------------------------------------------


async def test_params_give_one_key_to_members_and_waitlisted_people(small_buckets: Instance) -> None:
    ann = await small_buckets.member("ann")
    first = (await ann.http.get("/api/contacts/params")).json()
    assert len(first["key"]) == 64 and int(first["key"], 16) >= 0 and first["prefix_bits"] == 0
    _entry, _token, waiting = await join_waitlist(small_buckets, "wendy")
    assert await waiting.call("GET", "/api/contacts/params") == first
    # the prefix grows with the number of findable identifiers: 8 of them, 2 a bucket → 2 bits
    for i in range(8):
        await opt_in(ann, "email", f"ann{i}@example.org")
    assert (await ann.http.get("/api/contacts/params")).json() == {"key": first["key"], "prefix_bits": 2}


# -- opting in and out ----------------------------------------------------------------------------


async def test_opt_in_lists_kind_and_date_only_and_opt_out_deletes(instance: Instance) -> None:
    ann = await instance.member("ann")
    phone = await opt_in(ann, "phone", "020 7946 0018", "+44")
    email = await opt_in(ann, "email", "Ann@Example.com")
    again = await opt_in(ann, "email", " ann@example.com")  # the same identifier: idempotent
    assert again == email
    mine = await listed(ann)
    assert mine == [phone, email]
    assert set(mine[0]) == {"id", "kind", "added_at"} and mine[0]["kind"] == "phone"
    r = await ann.http.delete(f"/api/contacts/identifiers/{phone['id']}")
    assert r.status_code == 204
    assert await listed(ann) == [email]
    async with instance.services.db.engine.connect() as conn:
        rows = (await conn.execute(sa.select(tables.contact_identifiers))).all()
    assert len(rows) == 1 and rows[0].user_id == ann.id


async def test_at_most_ten_findable_identifiers(instance: Instance) -> None:
    ann = await instance.member("ann")
    for i in range(contact_actions.MAX_IDENTIFIERS):
        await opt_in(ann, "email", f"ann{i}@example.org")
    with pytest.raises(ClientError) as refused:
        await opt_in(ann, "email", "one.more@example.org")
    assert (refused.value.status, refused.value.code) == (409, "too_many_identifiers")
    assert len(await listed(ann)) == contact_actions.MAX_IDENTIFIERS


# -- matching ---------------------------------------------------------------------------------


async def test_opted_out_or_never_opted_in_is_never_matched(small_buckets: Instance) -> None:
    ann, bob, cat, dan = [await small_buckets.member(n) for n in ("ann", "bob", "cat", "dan")]
    bobs = await opt_in(bob, "phone", "+44 20 7946 0018")
    await opt_in(cat, "email", "cat@example.org")
    await opt_in(cat, "phone", "+44 20 7946 0020")
    entries = ["020 7946 0018", "CAT@example.org", "dan@example.org", "+44 20 7946 0020"]
    assert usernames(await find(ann, entries)) == {"bob", "cat"}

    assert (await bob.http.delete(f"/api/contacts/identifiers/{bobs['id']}")).status_code == 204
    cats = await listed(cat)
    assert (await cat.http.delete(f"/api/contacts/identifiers/{cats[0]['id']}")).status_code == 204
    found = await find(ann, entries)
    # cat is still findable by the phone she kept; bob and dan (never opted in) are not
    assert usernames(found) == {"cat"} and found.members[0]["contacts"] == ["+44 20 7946 0020"]
    # and not merely filtered by the client: the server's buckets hold no trace of them
    params = (await ann.http.get("/api/contacts/params")).json()
    everything = list(range(2 ** params["prefix_bits"]))
    r = await ann.post("/api/contacts/match", json={"prefix_bits": params["prefix_bits"], "prefixes": everything})
    owners = {c["member"]["id"] for b in r.json()["buckets"] for c in b["candidates"]}
    assert owners == {cat.id} and dan.id not in owners


async def test_blocked_either_way_never_matched(instance: Instance) -> None:
    ann, bob, cat, dan = [await instance.member(n) for n in ("ann", "bob", "cat", "dan")]
    for person, email in ((bob, "bob@example.org"), (cat, "cat@example.org"), (dan, "dan@example.org")):
        await opt_in(person, "email", email)
    assert (await ann.post("/api/users/dan/follow")).status_code == 200
    entries = ["bob@example.org", "cat@example.org", "dan@example.org"]
    before = await find(ann, entries)
    assert usernames(before) == {"bob", "cat", "dan"}
    assert {m["username"]: m["followed_by_you"] for m in before.members} == {"bob": False, "cat": False, "dan": True}

    assert (await bob.post("/api/users/ann/block")).status_code == 200  # bob blocked ann
    assert (await ann.post("/api/users/cat/block")).status_code == 200  # ann blocked cat
    r = await ann.post("/api/contacts/match", json={"prefix_bits": 0, "prefixes": [0]})
    assert {c["member"]["username"] for c in r.json()["buckets"][0]["candidates"]} == {"dan"}
    # both ways: bob does not find ann either
    await opt_in(ann, "email", "ann@example.org")
    assert usernames(await find(bob, ["ann@example.org", "dan@example.org"])) == {"dan"}
    assert usernames(await find(cat, ["ann@example.org"])) == set()

    assert (await ann.http.delete("/api/users/cat/block")).status_code == 200
    assert usernames(await find(ann, entries)) == {"cat", "dan"}


# The uploaded list mixes formats of the same numbers and addresses.
NATIONAL = [f"20 7946 00{n}" for n in range(10, 18)]
PHONE_FORMATS = ["+44 {}", "0044 {}", "0{}", "+44 (0){}", "(0{})"]
SEPARATORS = [" ", ".", "-"]
EMAILS = [f"p{i}@example.org" for i in range(6)]
EMAIL_FORMATS = ["{}", "  {}  ", "mailto:{}", "UPPER"]
STYLES = len(PHONE_FORMATS) * len(SEPARATORS)
UNIVERSE = [("phone", n) for n in range(len(NATIONAL))] + [("email", i) for i in range(len(EMAILS))]


def render(identifier: tuple[str, int], style: int) -> str:
    kind, n = identifier
    if kind == "phone":
        national = NATIONAL[n].replace(" ", SEPARATORS[style // len(PHONE_FORMATS) % len(SEPARATORS)])
        return PHONE_FORMATS[style % len(PHONE_FORMATS)].format(national)
    fmt = EMAIL_FORMATS[style % len(EMAIL_FORMATS)]
    return EMAILS[n].upper() if fmt == "UPPER" else fmt.format(EMAILS[n])


MEMBERS = 5


@settings(database=None)
@given(identifier=st.sampled_from(UNIVERSE), style=st.integers(0, STYLES - 1))
def test_every_way_of_writing_an_identifier_hashes_the_same(identifier: tuple[str, int], style: int) -> None:
    key = bytes.fromhex(VECTORS["key"])
    found = cc.normalize(render(identifier, style), "+44")
    assert found is not None and found == cc.normalize(render(identifier, 0), "+44")
    assert cc.keyed_hash(key, *found) == cc.keyed_hash(key, *cc.normalize(render(identifier, 0), None) or ("", ""))


ident = st.sampled_from(UNIVERSE)
world = st.fixed_dictionaries(
    {
        "opted_in": st.lists(st.lists(ident, max_size=3, unique=True), min_size=MEMBERS, max_size=MEMBERS),
        "opted_out": st.lists(st.lists(ident, max_size=2, unique=True), min_size=MEMBERS, max_size=MEMBERS),
        "upload": st.lists(st.tuples(ident, st.integers(0, STYLES - 1)), min_size=2, max_size=12),
        "junk": st.lists(st.sampled_from(["hello", "12", "@", "+", "ann@", "0044"]), max_size=3),
    }
)


async def test_match_finds_exactly_the_opted_in_members_in_the_list(small_buckets: Instance) -> None:
    """Property: whatever members opted in and out, and however the list writes them,
    the match is exactly the members with an opted-in identifier in the list."""
    members = [await small_buckets.member(f"member{i}") for i in range(MEMBERS)]
    searcher = await small_buckets.member("searcher")
    loop = asyncio.get_running_loop()

    async def example(w: dict[str, Any]) -> None:
        for person, ins, outs in zip(members, w["opted_in"], w["opted_out"], strict=True):
            for old in await listed(person):
                assert (await person.http.delete(f"/api/contacts/identifiers/{old['id']}")).status_code == 204
            outs = [o for o in outs if o not in ins]
            added = {}
            for identifier in ins + outs:
                raw = render(identifier, 0)
                added[identifier] = await opt_in(person, identifier[0], raw, "+44")
            for identifier in outs:
                r = await person.http.delete(f"/api/contacts/identifiers/{added[identifier]['id']}")
                assert r.status_code == 204
        uploaded = {identifier for identifier, _style in w["upload"]}
        entries = [render(identifier, style) for identifier, style in w["upload"]] + w["junk"]
        found = await find(searcher, entries, "+44")
        expected = {p.user["username"] for p, ins in zip(members, w["opted_in"], strict=True) if uploaded & set(ins)}
        assert usernames(found) == expected
        assert found.waitlisted == []

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(w=world)
    def check(w: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(example(w), loop).result(timeout=120)

    await asyncio.to_thread(check)


# -- the acceptance test: nothing of the upload leaves the client or stays on the server ---------


def forbidden_forms(raw: str, key: bytes, country: str) -> set[str]:
    """Every way an uploaded identifier could leak: as typed, normalised, and full-length hashes."""
    kind, value = cc.normalize(raw, country) or ("", "")
    assert value, raw
    forms = {raw.strip().lower(), value.lower()}
    if kind == "phone":
        digits = value[1:]
        national = digits[len(country.lstrip("+")) :]
        forms |= {digits, national, "0" + national}
    for data in (value, f"{kind}:{value}"):
        digest = hashlib.sha256(data.encode()).digest()
        forms |= {digest.hex(), base64.b64encode(digest).decode().lower(), base64.urlsafe_b64encode(digest).decode()}
    keyed = bytes.fromhex(cc.keyed_hash(key, kind, value))
    forms |= {keyed.hex(), keyed.hex()[:16], base64.b64encode(keyed).decode().lower()}
    forms |= {base64.urlsafe_b64encode(keyed).decode().rstrip("=").lower()}
    return {f.lower() for f in forms}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}")


async def dump_database(inst_app: Any) -> str:
    """Every row of every table, as text."""
    lines = []
    async with inst_app.state.services.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            for row in await conn.execute(sa.select(table)):
                lines.append(f"{table.name} {tuple(row)!r}")
    return "\n".join(lines).lower()


async def test_a_lookup_sends_no_identifier_and_leaves_none_behind(tmp_path: Path) -> None:
    """Through a real server (uvicorn, access log on): captures every request the client
    sends, every log record at DEBUG (ours, uvicorn's, the drivers'), and the whole
    database after the match."""
    capture = Capture()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    levels = [lg.level for lg in loggers]
    async with instance_database(tmp_path) as overrides, contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            live_server(make_settings(tmp_path / "data", contact_bucket_min=2, **overrides))
        )
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url))

        def restore() -> None:
            for lg, level in zip(loggers, levels, strict=True):
                lg.removeHandler(capture)
                lg.setLevel(level)

        stack.callback(restore)
        for lg in loggers:
            lg.addHandler(capture)
            lg.setLevel(logging.DEBUG)
        tokens = {}
        for name in ("ann", "bob", "cat", "dan"):
            own = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url))
            tokens[name] = (await make_member(server, own, name))[1]

        def bearer(name: str) -> Caller:
            return Caller(http, {"Authorization": f"Bearer {tokens[name]}"})

        await cc.add_findable(bearer("bob"), "phone", "+44 20 7946 0018")
        await cc.add_findable(bearer("cat"), "email", "cat@example.org")
        for i in range(6):  # other findable people, so that the prefixes have bits
            await cc.add_findable(bearer("dan"), "email", f"dan{i}@example.net")
        strangers = ["07700 900123", "+1 (202) 555-0143", "Erin@Example.com", "0044 161 496 0000"]
        upload = ["020 7946 0018", "  CAT@example.org ", *strangers]

        client = ParlorClient(server.url, tokens["ann"])
        stack.push_async_callback(client.http.aclose)
        sent: list[str] = []
        bodies: list[dict[str, Any]] = []

        async def record(request: httpx.Request) -> None:
            body = request.read().decode()
            sent.append(f"{request.method} {request.url} {dict(request.headers)!r} {body}".lower())
            if request.url.path == "/api/contacts/match":
                bodies.append(json.loads(body))

        client.http.event_hooks = {"request": [record], "response": []}
        found = await cc.find_contacts(client, upload, default_country="+44")
        assert usernames(found) == {"bob", "cat"}
        assert sorted(found.members[0]["contacts"] + found.members[1]["contacts"]) == sorted(upload[:2])

        key = bytes.fromhex((await bearer("ann").call("GET", "/api/contacts/params"))["key"])
        leaks = {raw: forbidden_forms(raw, key, "+44") for raw in upload}
        # What went over the wire: only prefixes of a few bits, in the body.
        assert bodies and all(set(b) == {"prefix_bits", "prefixes"} for b in bodies)
        bits = bodies[0]["prefix_bits"]
        assert bits >= 1 and all(0 <= p < 2**bits for b in bodies for p in b["prefixes"])
        for raw, forms in leaks.items():
            for form in forms:
                assert not any(form in line for line in sent), (raw, form)

        # What the server holds: of the upload, only the keyed hashes that their owners
        # opted in themselves (bob's phone, cat's address), and nothing else.
        database = await dump_database(server.app)
        files = b"".join(path.read_bytes().lower() for path in server.settings.data_dir.glob("parlor.db*"))
        if not overrides:
            assert files  # SQLite: the raw files too, free pages and WAL included
        hashes = {raw: cc.keyed_hash(key, *(cc.normalize(raw, "+44") or ("", ""))) for raw in upload}
        assert {raw for raw, h in hashes.items() if h in database} == set(upload[:2])
        for raw, forms in leaks.items():
            allowed = {hashes[raw], hashes[raw][:16]} if raw not in strangers else set()
            for form in forms - allowed:
                assert form not in database, (raw, form)
                assert form.encode() not in files, (raw, form)
                assert not any(form in line for line in capture.lines), (raw, form)
        # The capture saw the lookups' access lines, so it would have seen a leak.
        assert any("/api/contacts/match" in line for line in capture.lines)


# -- let-in by a matched contact -----------------------------------------------------------------


async def test_let_in_a_matched_waitlisted_contact(instance: Instance) -> None:
    ann = await instance.member("ann")
    eve_id, eve_token, eve = await join_waitlist(instance, "eve")
    frank_id, _frank_token, _frank = await join_waitlist(instance, "frank")
    await cc.add_findable(eve, "phone", "07700 900123", default_country="+44", waitlist=True)
    assert [i["kind"] for i in (await eve.call("GET", "/api/contacts/waitlist/identifiers"))["identifiers"]] == [
        "phone"
    ]

    # never matched: refused, frank still waiting
    r = await ann.post("/api/contacts/let-in", json={"entry_id": frank_id})
    assert r.status_code == 403 and error_code(r) == "contact_not_matched"
    assert (await growth.waitlist_status(instance.services, _frank_token))["status"] == "waiting"

    found = await find(ann, ["+447700900123", "frank@example.org"])
    assert found.members == [] and [(w["id"], w["display_name"]) for w in found.waitlisted] == [(eve_id, "Eve")]
    assert set(found.waitlisted[0]) == {"id", "display_name", "contacts"}  # no username, no token
    r = await ann.post("/api/contacts/let-in", json={"entry_id": eve_id})
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["status"] == "admitted"
    assert (await growth.waitlist_status(instance.services, eve_token))["admitted_by"]["username"] == "ann"
    # once let in, eve is no longer offered
    assert (await find(ann, ["+447700900123"])).waitlisted == []
    r = await ann.post("/api/contacts/let-in", json={"entry_id": frank_id})
    assert r.status_code == 403 and error_code(r) == "contact_not_matched"
    # once a member, eve is found by what she opted in to on the waitlist
    await growth.do_finish_signup(instance.services, eve_token, "a long enough password")
    assert usernames(await find(ann, ["+447700900123"])) == {"eve"}


async def test_let_in_is_refused_once_the_match_is_old(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    eve_id, eve_token, eve = await join_waitlist(instance, "eve")
    await cc.add_findable(eve, "email", "eve@example.org", waitlist=True)
    assert [w["id"] for w in (await find(ann, ["eve@example.org"])).waitlisted] == [eve_id]
    # bob never looked: ann's match is hers alone
    r = await bob.post("/api/contacts/let-in", json={"entry_id": eve_id})
    assert r.status_code == 403 and error_code(r) == "contact_not_matched"
    s = instance.services
    real_clock = s.clock
    s.clock = lambda: real_clock() + contact_actions.LET_IN_TTL_S + 1
    try:
        r = await ann.post("/api/contacts/let-in", json={"entry_id": eve_id})
    finally:
        s.clock = real_clock
    assert r.status_code == 403 and error_code(r) == "contact_not_matched"
    assert (await growth.waitlist_status(s, eve_token))["status"] == "waiting"


# -- authorization ------------------------------------------------------------------------------

MEMBER_ENDPOINTS = [
    ("GET", "/api/contacts/params", None),
    ("GET", "/api/contacts/identifiers", None),
    ("POST", "/api/contacts/identifiers", {"kind": "email", "hash": "0" * 64}),
    ("DELETE", "/api/contacts/identifiers/ci_x", None),
    ("POST", "/api/contacts/match", {"prefix_bits": 0, "prefixes": [0]}),
    ("POST", "/api/contacts/let-in", {"entry_id": "w_x"}),
]
WAITLIST_ENDPOINTS = [
    ("GET", "/api/contacts/waitlist/identifiers", None),
    ("POST", "/api/contacts/waitlist/identifiers", {"kind": "email", "hash": "0" * 64}),
    ("DELETE", "/api/contacts/waitlist/identifiers/ci_x", None),
]


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_ENDPOINTS + WAITLIST_ENDPOINTS)
async def test_anonymous_is_refused(instance: Instance, method: str, path: str, body: Any) -> None:
    anon = instance.client()
    r = await anon.request(method, path, json=body)
    assert r.status_code == 401, r.text
    assert error_code(r) in ("not_authenticated", "invalid_waitlist_token")
    r = await anon.request(method, path, json=body, headers={"X-Waitlist-Token": "pw_not-a-real-token"})
    assert r.status_code == 401 and error_code(r) in ("not_authenticated", "invalid_waitlist_token")
    async with instance.services.db.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tables.contact_identifiers))).scalar() == 0


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_ENDPOINTS[1:])
async def test_a_waitlist_token_is_not_a_member(instance: Instance, method: str, path: str, body: Any) -> None:
    _entry, _token, eve = await join_waitlist(instance, "eve")
    r = await eve.http.request(method, path, json=body, headers=eve.headers)
    assert r.status_code == 401 and error_code(r) == "not_authenticated"


async def test_nobody_removes_or_sees_anothers_identifiers(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    anns = await opt_in(ann, "email", "ann@example.org")
    _eve_id, _t, eve = await join_waitlist(instance, "eve")
    _fay_id, _t2, fay = await join_waitlist(instance, "fay")
    eves = await cc.add_findable(eve, "email", "eve@example.org", waitlist=True)

    assert await listed(bob) == []
    r = await bob.http.delete(f"/api/contacts/identifiers/{anns['id']}")
    assert r.status_code == 404 and error_code(r) == "identifier_not_found"
    # a waitlisted person cannot touch a member's, nor another waitlisted person's
    for other in (anns, eves):
        r = await fay.http.delete(f"/api/contacts/waitlist/identifiers/{other['id']}", headers=fay.headers)
        assert r.status_code == 404 and error_code(r) == "identifier_not_found"
    assert (await fay.call("GET", "/api/contacts/waitlist/identifiers"))["identifiers"] == []
    # nor a member a waitlisted person's (through the member route)
    r = await bob.http.delete(f"/api/contacts/identifiers/{eves['id']}")
    assert r.status_code == 404
    assert await listed(ann) == [anns]
    assert (await eve.call("GET", "/api/contacts/waitlist/identifiers"))["identifiers"] == [eves]


# -- bad input ------------------------------------------------------------------------------------

BAD_IDENTIFIERS = [
    ({"kind": "fax", "hash": "a" * 64}, "invalid_contact_kind"),
    ({"kind": "phone", "hash": "+442079460018"}, "invalid_contact_hash"),  # the identifier itself
    ({"kind": "email", "hash": "ann@example.org"}, "invalid_contact_hash"),
    ({"kind": "email", "hash": "A" * 64}, "invalid_contact_hash"),
    ({"kind": "email", "hash": "a" * 63}, "invalid_contact_hash"),
    ({"kind": "email", "hash": "g" * 64}, "invalid_contact_hash"),
    ({"kind": "email"}, "invalid_input"),
    ({"kind": 3, "hash": "a" * 64}, "invalid_input"),
]


@pytest.mark.parametrize(("body", "code"), BAD_IDENTIFIERS)
async def test_bad_identifiers_are_refused(instance: Instance, body: dict[str, Any], code: str) -> None:
    ann = await instance.member("ann")
    _e, _t, eve = await join_waitlist(instance, "eve")
    r = await ann.post("/api/contacts/identifiers", json=body)
    assert r.status_code == 400 and error_code(r) == code, r.text
    r = await eve.http.post("/api/contacts/waitlist/identifiers", json=body, headers=eve.headers)
    assert r.status_code == 400 and error_code(r) == code, r.text
    assert await listed(ann) == []
    assert (await eve.call("GET", "/api/contacts/waitlist/identifiers"))["identifiers"] == []


BAD_MATCHES = [
    ({"prefix_bits": 1, "prefixes": [0]}, 409, "contact_params_changed"),  # the instance uses 0 bits
    ({"prefix_bits": 0, "prefixes": [1]}, 400, "invalid_prefix"),
    ({"prefix_bits": 0, "prefixes": [-1]}, 400, "invalid_prefix"),
    ({"prefix_bits": 0, "prefixes": [0] * 1001}, 400, "too_many_prefixes"),
    ({"prefix_bits": 0, "prefixes": ["0"]}, 400, "invalid_input"),
    ({"prefix_bits": 0, "prefixes": [True]}, 400, "invalid_input"),
    ({"prefix_bits": 0, "prefixes": "00"}, 400, "invalid_input"),
    ({"prefixes": [0]}, 400, "invalid_input"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_MATCHES)
async def test_bad_lookups_are_refused(instance: Instance, body: dict[str, Any], status: int, code: str) -> None:
    ann = await instance.member("ann")
    r = await ann.post("/api/contacts/match", json=body)
    assert r.status_code == status and error_code(r) == code, r.text


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/contacts/let-in", {"entry_id": "w_" + "x" * 40}, 400, "invalid_input"),
        ("/api/contacts/let-in", {"entry_id": ""}, 400, "invalid_input"),
        ("/api/contacts/let-in", {}, 400, "invalid_input"),
        ("/api/contacts/identifiers/" + "x" * 40, None, 404, "identifier_not_found"),
    ],
)
async def test_bad_let_in_and_removal(instance: Instance, path: str, body: Any, status: int, code: str) -> None:
    ann = await instance.member("ann")
    method = "POST" if body is not None else "DELETE"
    r = await ann.http.request(method, path, json=body)
    assert r.status_code == status and error_code(r) == code, r.text


async def test_daily_prefix_budget(tmp_path: Path) -> None:
    async with (
        instance_database(tmp_path) as overrides,
        running_instance(tmp_path / "data", contact_bucket_min=1, contact_prefix_budget=10, **overrides) as inst,
    ):
        ann, bob = await inst.member("ann"), await inst.member("bob")
        for i in range(8):
            await opt_in(bob, "email", f"bob{i}@example.org")  # 8 identifiers, 1 a bucket → 3 bits
        assert (await ann.http.get("/api/contacts/params")).json()["prefix_bits"] == 3
        ok = await ann.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [0, 1, 2, 3, 4, 5, 6, 7]})
        assert ok.status_code == 200 and len(ok.json()["buckets"]) == 8
        r = await ann.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [0, 1, 2]})
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        # refused lookups spend nothing: two prefixes are still there to use
        r = await ann.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [5, 5, 6]})
        assert r.status_code == 200
        r = await ann.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [0]})
        assert r.status_code == 429
        # bob's budget is his own
        assert (await bob.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [0]})).status_code == 200
        # and it comes back a day later
        real = inst.services.clock
        inst.services.clock = lambda: real() + contact_actions.BUDGET_WINDOW_S + 1
        try:
            assert (await ann.post("/api/contacts/match", json={"prefix_bits": 3, "prefixes": [0]})).status_code == 200
        finally:
            inst.services.clock = real


async def test_vcard_and_csv_imports_match(instance: Instance) -> None:
    ann, bob, cat = [await instance.member(n) for n in ("ann", "bob", "cat")]
    await opt_in(bob, "phone", "+1 202 555 0143")
    await opt_in(cat, "email", "carol@example.fr")
    vcard, csv_text = (p["text"] for p in VECTORS["parse"][:2])
    assert usernames(await find(ann, cc.parse_contacts(vcard, "contacts.vcf"), None)) == {"bob"}
    assert usernames(await find(ann, cc.parse_contacts(csv_text, "export.csv"), "+1")) == {"bob", "cat"}


# -- storage: bucket ranges at the edges, on both back ends ----------------------------------


async def test_buckets_are_exact_index_ranges_at_the_edges(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        async with db.engine.begin() as conn:
            await account_store.insert_user(
                conn,
                user_id="u_a",
                username="ann",
                display_name="Ann",
                password_hash="x",
                is_admin=False,
                invited_by=None,
                now=1.0,
            )
            edges = ["00000000", "00000fff", "00001000", "7fffffff", "80000000", "fffff000", "ffffffff"]
            for i, head in enumerate(edges):
                await store.add(
                    conn,
                    identifier_id=f"ci_{i}",
                    owner=("user", "u_a"),
                    kind="email",
                    hash_hex=head + "0" * 56,
                    now=1.0,
                )
        async with db.engine.connect() as conn:
            for bits in (0, 1, 20):
                shift = 32 - bits
                for prefix in {0, 1, (1 << bits) - 1} - ({1} if bits == 0 else set()):
                    found = await store.in_buckets(conn, [(prefix << shift, (prefix + 1) << shift)])
                    expected = {h for h in edges if int(h, 16) >> shift == prefix}
                    assert {c.hash[:8] for c in found} == expected, (bits, prefix)
    finally:
        await db.close()
