"""Growth over HTTP: invites with quotas, invite links and codes, "nominated by",
the waitlist and let-in, and the instance sign-up mode.

Runs on SQLite, and on PostgreSQL with PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Page, async_playwright, expect
from tests.browser_helpers import PASSWORD, launch, new_page, sign_in
from tests.conftest import Instance, Person, error_code, instance_database, make_settings, running_instance
from tests.live import LiveServer, live_server, make_member
from tests.people import ADMIN, MEMBER_PASSWORD, signup_body

QUOTA = 2


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[Instance]:
    """An instance whose members hold only QUOTA invites each."""
    async with (
        instance_database(tmp_path) as overrides,
        running_instance(tmp_path / "data", invites_per_member=QUOTA, **overrides) as inst,
    ):
        yield inst


async def make_invite(who: Person) -> dict[str, Any]:
    r = await who.post("/api/invites")
    assert r.status_code == 201, r.text
    return dict(r.json())


async def sign_up(inst: Instance, code: str, username: str) -> httpx.Response:
    return await inst.client().post("/api/signup", json=signup_body(code, username))


async def profile(viewer: Person, username: str) -> dict[str, Any]:
    r = await viewer.http.get(f"/api/users/{username}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def my_invites(who: Person, **params: Any) -> dict[str, Any]:
    r = await who.http.get("/api/invites", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def ref(person: Person) -> dict[str, Any]:
    return {"id": person.id, "username": person.user["username"], "display_name": person.user["display_name"]}


class Waiting:
    """Someone on the waitlist: no account, a browser holding their waitlist token."""

    def __init__(self, http: httpx.AsyncClient, token: str, entry: dict[str, Any]) -> None:
        self.http, self.token, self.entry = http, token, entry

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Waitlist-Token": self.token}

    async def status(self) -> httpx.Response:
        return await self.http.get("/api/waitlist/me", headers=self.headers)

    async def finish(self, password: str = MEMBER_PASSWORD) -> httpx.Response:
        return await self.http.post("/api/waitlist/me/signup", json={"password": password}, headers=self.headers)

    async def leave(self) -> httpx.Response:
        return await self.http.delete("/api/waitlist/me", headers=self.headers)


async def join_waitlist(inst: Instance, username: str, display_name: str | None = None) -> Waiting:
    c = inst.client()
    r = await c.post("/api/waitlist", json={"username": username, "display_name": display_name or username.title()})
    assert r.status_code == 201, r.text
    return Waiting(c, r.json()["token"], r.json()["entry"])


async def admin_waitlist(inst: Instance, **params: Any) -> dict[str, Any]:
    r = await (await inst.admin()).http.get("/api/admin/waitlist", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def set_mode(inst: Instance, mode: str) -> None:
    r = await (await inst.admin()).http.put("/api/admin/signup-mode", json={"mode": mode})
    assert r.status_code == 200 and r.json() == {"mode": mode}, r.text


async def table_rows(inst: Instance, table: str) -> list[dict[str, Any]]:
    async with inst.services.db.engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(sa.text(f"select * from {table}"))]


# -- sign-up paths --------------------------------------------------------------------------


async def test_invite_link_leads_to_signup_and_nominated_by_shows(instance: Instance) -> None:
    ann = await instance.member("ann")
    made = await make_invite(ann)
    assert made["remaining"] == 4  # the default quota is 5
    assert made["url"] == f"{instance.settings.base_url}/invite/{made['code']}"

    # The link is a page of the web app, which leads into sign-up with the code filled in.
    page = await instance.client().get(httpx.URL(made["url"]).path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

    r = await sign_up(instance, made["code"], "cam")
    assert r.status_code == 201, r.text
    assert (await profile(ann, "cam"))["nominated_by"] == ref(ann)
    # ann was invited by the admin
    assert (await profile(ann, "ann"))["nominated_by"] == ref(await instance.admin())

    listing = await my_invites(ann)
    assert listing["quota"] == 5 and listing["remaining"] == 4
    [invite] = listing["invites"]
    assert invite["id"] == made["id"] and invite["kind"] == "code"
    assert invite["used_by"] == {"id": r.json()["id"], "username": "cam", "display_name": "Cam"}
    assert invite["revoked_at"] is None and invite["used_at"] >= invite["created_at"]
    # codes are shown once, never listed again, and only their hash is stored
    assert made["code"] not in str(listing)
    assert made["code"] not in str(await table_rows(instance, "invites"))


async def test_invite_code_typed_by_hand_signs_up(instance: Instance) -> None:
    code = await instance.invite_code()
    c = instance.client()
    r = await c.post("/api/signup", json=signup_body(f"  {code} ", "dee"))
    assert r.status_code == 201, r.text
    assert (await c.get("/api/me")).json()["username"] == "dee"  # signed in
    root = await instance.admin()
    assert (await profile(root, "dee"))["nominated_by"] == ref(root)


async def test_waitlist_and_let_in_by_a_member_who_knows_the_username(instance: Instance) -> None:
    ann = await instance.member("ann")
    zed = await join_waitlist(instance, "Zed", "Zed Zero")
    assert zed.token and zed.entry["username"] == "zed" and zed.entry["status"] == "waiting"
    assert (await zed.status()).json()["status"] == "waiting"
    early = await zed.finish()
    assert early.status_code == 403 and error_code(early) == "not_admitted"

    r = await ann.post("/api/waitlist/admit", {"username": "ZED"})
    assert r.status_code == 200, r.text
    assert r.json()["remaining"] == 4 and r.json()["entry"]["status"] == "admitted"
    status = (await zed.status()).json()
    assert status["status"] == "admitted" and status["admitted_by"] == ref(ann)
    # letting in someone already let in spends nothing
    again = await ann.post("/api/waitlist/admit", {"username": "zed"})
    assert again.status_code == 200 and again.json()["remaining"] == 4

    done = await zed.finish()
    assert done.status_code == 201, done.text
    assert done.json()["username"] == "zed" and done.json()["display_name"] == "Zed Zero"
    me = await zed.http.get("/api/me")  # signed in
    assert me.status_code == 200 and me.json()["id"] == done.json()["id"]
    assert (await profile(ann, "zed"))["nominated_by"] == ref(ann)
    # the let-in stays spent, listed as a used invite; the waitlist place is gone
    listing = await my_invites(ann)
    assert listing["remaining"] == 4
    assert [(i["kind"], i["used_by"]["username"]) for i in listing["invites"]] == [("waitlist", "zed")]
    gone = await zed.status()
    assert gone.status_code == 401 and error_code(gone) == "invalid_waitlist_token"
    assert await table_rows(instance, "waitlist") == []
    # ann is told
    inbox = (await ann.http.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["actor"]["username"]) for n in inbox] == [("waitlist_joined", "zed")]


async def test_waitlist_and_let_in_by_an_admin(instance: Instance) -> None:
    root = await instance.admin()
    ann = await instance.member("ann")
    yan = await join_waitlist(instance, "yan")
    listed = await admin_waitlist(instance)
    assert [(e["id"], e["username"], e["status"]) for e in listed["entries"]] == [(yan.entry["id"], "yan", "waiting")]

    # members can neither browse the waitlist nor let in by entry id
    r = await ann.http.get("/api/admin/waitlist")
    assert r.status_code == 403 and error_code(r) == "not_admin"
    r = await ann.post("/api/waitlist/admit", {"entry_id": yan.entry["id"]})
    assert r.status_code == 403 and error_code(r) == "not_admin"
    assert (await yan.status()).json()["status"] == "waiting"

    r = await root.post("/api/waitlist/admit", {"entry_id": yan.entry["id"]})
    assert r.status_code == 200 and r.json()["remaining"] is None  # admins: unlimited
    assert r.json()["entry"]["via"] == "admin"
    assert (await admin_waitlist(instance))["entries"][0]["admitted_by"] == ref(root)
    done = await yan.finish()
    assert done.status_code == 201, done.text
    assert (await profile(ann, "yan"))["nominated_by"] == ref(root)
    assert (await admin_waitlist(instance))["entries"] == []


async def test_open_mode_signs_up_without_a_code(instance: Instance) -> None:
    anon = instance.client()
    assert (await anon.get("/api/signup-mode")).json() == {"mode": "invite_only"}
    r = await anon.post("/api/signup", json={**signup_body("", "eve")})
    assert r.status_code == 403 and error_code(r) == "invite_required"
    r = await anon.post("/api/signup", json={k: v for k, v in signup_body("", "eve").items() if k != "invite_code"})
    assert r.status_code == 403 and error_code(r) == "invite_required"

    await set_mode(instance, "open")
    assert (await anon.get("/api/signup-mode")).json() == {"mode": "open"}
    r = await anon.post("/api/signup", json={k: v for k, v in signup_body("", "eve").items() if k != "invite_code"})
    assert r.status_code == 201, r.text
    root = await instance.admin()
    assert (await profile(root, "eve"))["nominated_by"] is None
    # a code given in open mode still counts (and must be good)
    bad = await sign_up(instance, "not-a-code", "fay")
    assert bad.status_code == 403 and error_code(bad) == "invalid_invite"
    ok = await sign_up(instance, await instance.invite_code(), "fay")
    assert ok.status_code == 201 and (await profile(root, "fay"))["nominated_by"] == ref(root)


async def test_closed_mode_refuses_every_way_in_and_changes_nothing(instance: Instance) -> None:
    root = await instance.admin()
    ann = await instance.member("ann")
    code = (await make_invite(ann))["code"]
    waiting = await join_waitlist(instance, "wes")
    admitted = await join_waitlist(instance, "vic")
    assert (await ann.post("/api/waitlist/admit", {"username": "vic"})).status_code == 200
    before = await my_invites(ann)

    await set_mode(instance, "closed")
    assert (await instance.client().get("/api/signup-mode")).json() == {"mode": "closed"}
    refusals = [
        await sign_up(instance, code, "gus"),
        await instance.client().post("/api/signup", json=signup_body("", "gus")),
        await ann.post("/api/invites"),
        await root.post("/api/invites"),
        await instance.client().post("/api/waitlist", json={"username": "hal", "display_name": "Hal"}),
        await ann.post("/api/waitlist/admit", {"username": "wes"}),
        await root.post("/api/waitlist/admit", {"entry_id": waiting.entry["id"]}),
        await admitted.finish(),
    ]
    for r in refusals:
        assert r.status_code == 403 and error_code(r) == "signups_closed", r.text
    assert await my_invites(ann) == before
    assert [e["status"] for e in (await admin_waitlist(instance))["entries"]] == ["waiting", "admitted"]

    # reopened, everything refused is still there to use
    await set_mode(instance, "invite_only")
    assert (await sign_up(instance, code, "gus")).status_code == 201
    assert (await admitted.finish()).status_code == 201


# -- quotas and invite errors -----------------------------------------------------------------


async def test_out_of_invites_is_a_clear_error_and_changes_nothing(small: Instance) -> None:
    ann = await small.member("ann")
    first = await make_invite(ann)
    second = await make_invite(ann)
    assert (first["remaining"], second["remaining"]) == (1, 0)
    r = await ann.post("/api/invites")
    assert r.status_code == 403 and error_code(r) == "out_of_invites"
    listing = await my_invites(ann)
    assert len(listing["invites"]) == QUOTA and listing["remaining"] == 0

    # a let-in spends an invite too
    zed = await join_waitlist(small, "zed")
    r = await ann.post("/api/waitlist/admit", {"username": "zed"})
    assert r.status_code == 403 and error_code(r) == "out_of_invites"
    assert (await zed.status()).json()["status"] == "waiting"

    # revoking an unused invite gives it back
    r = await ann.http.delete(f"/api/invites/{first['id']}")
    assert r.status_code == 200 and r.json()["remaining"] == 1
    r = await ann.post("/api/waitlist/admit", {"username": "zed"})
    assert r.status_code == 200 and r.json()["remaining"] == 0
    # ... and a let-in whose person leaves the waitlist before joining is given back
    assert (await zed.leave()).status_code == 204
    assert (await my_invites(ann))["remaining"] == 1

    # used invites stay spent
    assert (await sign_up(small, second["code"], "bea")).status_code == 201
    assert (await my_invites(ann))["remaining"] == 1

    # admins have no quota
    root = await small.admin()
    for _ in range(QUOTA + 1):
        assert (await make_invite(root))["remaining"] is None
    assert (await my_invites(root))["quota"] is None


async def test_concurrent_spending_never_exceeds_the_quota(small: Instance) -> None:
    ann = await small.member("ann")
    for name in ("wes", "wyn"):
        await join_waitlist(small, name)
    tries = [ann.post("/api/invites") for _ in range(4)]
    tries += [ann.post("/api/waitlist/admit", {"username": name}) for name in ("wes", "wyn")]
    answers = await asyncio.gather(*tries)
    won = [r for r in answers if r.status_code in (200, 201)]
    assert len(won) == QUOTA, [r.text for r in answers]
    assert all(error_code(r) == "out_of_invites" for r in answers if r not in won)
    assert (await my_invites(ann))["remaining"] == 0


async def test_used_and_revoked_invites_are_refused_clearly(instance: Instance) -> None:
    ann = await instance.member("ann")
    used, revoked = await make_invite(ann), await make_invite(ann)
    assert (await sign_up(instance, used["code"], "bea")).status_code == 201
    assert (await ann.http.delete(f"/api/invites/{revoked['id']}")).status_code == 200
    assert (await ann.http.delete(f"/api/invites/{revoked['id']}")).status_code == 200  # idempotent

    r = await sign_up(instance, used["code"], "cal")
    assert r.status_code == 403 and error_code(r) == "invite_used"
    r = await sign_up(instance, revoked["code"], "cal")
    assert r.status_code == 403 and error_code(r) == "invite_revoked"
    r = await sign_up(instance, "x" * 22, "cal")
    assert r.status_code == 403 and error_code(r) == "invalid_invite"
    # nobody was created: the name is still free
    assert (await sign_up(instance, (await make_invite(ann))["code"], "cal")).status_code == 201

    # a used invite cannot be revoked
    r = await ann.http.delete(f"/api/invites/{used['id']}")
    assert r.status_code == 409 and error_code(r) == "invite_used"
    listing = {i["id"]: i for i in (await my_invites(ann))["invites"]}
    assert listing[used["id"]]["revoked_at"] is None and listing[revoked["id"]]["revoked_at"] is not None


async def test_members_cannot_revoke_other_peoples_invites(instance: Instance) -> None:
    root = await instance.admin()
    ann, bob = await instance.member("ann"), await instance.member("bob")
    made = await make_invite(ann)
    r = await bob.http.delete(f"/api/invites/{made['id']}")
    assert r.status_code == 404 and error_code(r) == "invite_not_found"
    assert (await my_invites(bob))["invites"] == []
    assert (await my_invites(ann))["invites"][0]["revoked_at"] is None
    # an admin may revoke anyone's
    assert (await root.http.delete(f"/api/invites/{made['id']}")).status_code == 200
    r = await sign_up(instance, made["code"], "cal")
    assert r.status_code == 403 and error_code(r) == "invite_revoked"


async def test_invite_lists_page_newest_first(instance: Instance) -> None:
    root = await instance.admin()
    made = [await make_invite(root) for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await my_invites(root, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in page["invites"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["id"] for m in reversed(made)]


# -- the waitlist ---------------------------------------------------------------------------


async def test_waitlist_reserves_the_username(instance: Instance) -> None:
    await instance.member("ann")
    await join_waitlist(instance, "zed")
    for body in ({"username": "ZED", "display_name": "Other"}, {"username": "ann", "display_name": "Ann 2"}):
        r = await instance.client().post("/api/waitlist", json=body)
        assert r.status_code == 409 and error_code(r) == "username_taken"
    r = await sign_up(instance, await instance.invite_code(), "zed")
    assert r.status_code == 409 and error_code(r) == "username_taken"
    assert [e["username"] for e in (await admin_waitlist(instance))["entries"]] == ["zed"]


async def test_leaving_the_waitlist_frees_the_name_and_forgets_the_token(instance: Instance) -> None:
    zed = await join_waitlist(instance, "zed")
    assert (await zed.leave()).status_code == 204
    r = await zed.status()
    assert r.status_code == 401 and error_code(r) == "invalid_waitlist_token"
    r = await zed.leave()
    assert r.status_code == 401 and error_code(r) == "invalid_waitlist_token"
    assert (await sign_up(instance, await instance.invite_code(), "zed")).status_code == 201


async def test_waitlist_token_is_stored_only_as_a_hash(instance: Instance) -> None:
    zed = await join_waitlist(instance, "zed")
    [row] = await table_rows(instance, "waitlist")
    assert zed.token not in str(row) and row["username"] == "zed"


async def test_admin_waitlist_pages_oldest_first(instance: Instance) -> None:
    names = [f"wait{i}" for i in range(5)]
    for name in names:
        await join_waitlist(instance, name)
    seen: list[str] = []
    cursor = None
    while True:
        page = await admin_waitlist(instance, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [e["username"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names


# -- authorization ------------------------------------------------------------------------------

# every endpoint that needs a signed-in member: (method, path, body)
MEMBER_ENDPOINTS = [
    ("GET", "/api/invites", None),
    ("POST", "/api/invites", None),
    ("DELETE", "/api/invites/i_whatever", None),
    ("POST", "/api/waitlist/admit", {"username": "zed"}),
    ("GET", "/api/admin/waitlist", None),
    ("PUT", "/api/admin/signup-mode", {"mode": "open"}),
]
ADMIN_ENDPOINTS = [
    ("GET", "/api/admin/waitlist", None),
    ("PUT", "/api/admin/signup-mode", {"mode": "open"}),
]


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_ENDPOINTS)
async def test_anonymous_is_refused(instance: Instance, method: str, path: str, body: Any) -> None:
    zed = await join_waitlist(instance, "zed")
    r = await instance.client().request(method, path, json=body)
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    # a waitlist token is not a session either
    r = await zed.http.request(method, path, json=body, headers=zed.headers)
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    assert (await zed.status()).json()["status"] == "waiting"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
async def test_members_are_refused_admin_endpoints(instance: Instance, method: str, path: str, body: Any) -> None:
    ann = await instance.member("ann")
    r = await ann.http.request(method, path, json=body)
    assert r.status_code == 403 and error_code(r) == "not_admin"
    assert (await instance.client().get("/api/signup-mode")).json() == {"mode": "invite_only"}


@pytest.mark.parametrize("path", ["/api/waitlist", "/api/signup"])
async def test_cross_origin_anonymous_writes_are_refused(instance: Instance, path: str) -> None:
    body = {"username": "zed", "display_name": "Zed", "password": MEMBER_PASSWORD, "invite_code": ""}
    await set_mode(instance, "open")
    r = await instance.client().post(path, json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and error_code(r) == "cross_origin"
    assert await table_rows(instance, "waitlist") == []


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a", "display_name": "A"},
        {"username": "has space", "display_name": "A"},
        {"username": "x" * 31, "display_name": "A"},
        {"username": "zed", "display_name": " "},
        {"username": "zed", "display_name": "x" * 51},
        {"username": "zed", "display_name": "x" * 301},
        {"username": "zed"},
        {"display_name": "Zed"},
    ],
)
async def test_waitlist_join_bad_input_changes_nothing(instance: Instance, body: dict[str, Any]) -> None:
    r = await instance.client().post("/api/waitlist", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert await table_rows(instance, "waitlist") == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "no such"}, 400, "invalid_input"),
        ({"username": "nobody"}, 404, "not_on_waitlist"),
        ({}, 400, "invalid_input"),
        ({"username": "zed", "entry_id": "w_x"}, 400, "invalid_input"),
        ({"username": "z" * 301}, 400, "invalid_input"),
    ],
)
async def test_admit_bad_input_changes_nothing(small: Instance, body: dict[str, Any], status: int, code: str) -> None:
    ann = await small.member("ann")
    zed = await join_waitlist(small, "zed")
    r = await ann.post("/api/waitlist/admit", body)
    assert r.status_code == status and error_code(r) == code
    assert (await zed.status()).json()["status"] == "waiting"
    assert (await my_invites(ann))["remaining"] == QUOTA


async def test_admin_admit_unknown_entry(instance: Instance) -> None:
    root = await instance.admin()
    for entry_id in ("w_nobody", "w" * 64):
        r = await root.post("/api/waitlist/admit", {"entry_id": entry_id})
        assert r.status_code == 404 and error_code(r) == "not_on_waitlist"


async def test_bad_waitlist_tokens(instance: Instance) -> None:
    zed = await join_waitlist(instance, "zed")
    c = instance.client()
    for headers in ({}, {"X-Waitlist-Token": "pw_wrong"}, {"X-Waitlist-Token": ""}):
        for r in (
            await c.get("/api/waitlist/me", headers=headers),
            await c.delete("/api/waitlist/me", headers=headers),
            await c.post("/api/waitlist/me/signup", json={"password": MEMBER_PASSWORD}, headers=headers),
        ):
            assert r.status_code == 401 and error_code(r) == "invalid_waitlist_token", r.text
    r = await c.get("/api/waitlist/me", headers={"X-Waitlist-Token": "x" * 201})
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert (await zed.status()).json()["status"] == "waiting"


async def test_finish_signup_bad_password_keeps_the_place(instance: Instance) -> None:
    root = await instance.admin()
    zed = await join_waitlist(instance, "zed")
    await root.post("/api/waitlist/admit", {"username": "zed"})
    for password in ("short", "x" * 201):
        r = await zed.finish(password)
        assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert (await zed.status()).json()["status"] == "admitted"
    assert (await zed.finish()).status_code == 201


@pytest.mark.parametrize("mode", ["", "OPEN", "anything", "x" * 21])
async def test_bad_signup_mode_changes_nothing(instance: Instance, mode: str) -> None:
    root = await instance.admin()
    r = await root.http.put("/api/admin/signup-mode", json={"mode": mode})
    assert r.status_code == 400 and error_code(r) == "invalid_input"
    assert (await instance.client().get("/api/signup-mode")).json() == {"mode": "invite_only"}


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/api/invites", {"limit": 0}, "invalid_input"),
        ("/api/invites", {"limit": 101}, "invalid_input"),
        ("/api/invites", {"cursor": "!!"}, "invalid_cursor"),
        ("/api/admin/waitlist", {"limit": 0}, "invalid_input"),
        ("/api/admin/waitlist", {"cursor": "bm9wZQ"}, "invalid_cursor"),
    ],
)
async def test_bad_paging(instance: Instance, path: str, params: dict[str, Any], code: str) -> None:
    root = await instance.admin()
    r = await root.http.get(path, params=params)
    assert r.status_code == 400 and error_code(r) == code


async def test_revoke_unknown_invite(instance: Instance) -> None:
    ann = await instance.member("ann")
    for invite_id in ("i_nope", "i" * 40):
        r = await ann.http.delete(f"/api/invites/{invite_id}")
        assert r.status_code == 404 and error_code(r) == "invite_not_found"


async def test_oversized_invite_code_is_bad_input(instance: Instance) -> None:
    r = await sign_up(instance, "x" * 201, "zed")
    assert r.status_code == 400 and error_code(r) == "invalid_input"


# -- in the browser -----------------------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


async def fill_account(page: Page, username: str, display_name: str) -> None:
    await page.get_by_label("Username", exact=True).fill(username)
    await page.get_by_label("Display name").fill(display_name)


@pytest.mark.browser
async def test_browser_invite_link_and_let_in_from_the_waitlist(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        await make_member(server, http, "ann")
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            _, ann = await new_page(browser)
            await sign_in(ann, server.url, "ann")
            await ann.goto(f"{server.url}/invites")
            await ann.get_by_role("button", name="Make an invite").click()
            link = await ann.get_by_label("Invite link").input_value()
            assert "/invite/" in link
            await expect(ann.get_by_text("You have 4 of 5 invites left.")).to_be_visible()

            # The link leads into sign-up with the code filled in.
            _, cam = await new_page(browser)
            await cam.goto(link)
            await cam.wait_for_url("**/signup?code=*")
            assert await cam.get_by_label("Invite code").input_value() == link.rsplit("/", 1)[1]
            await fill_account(cam, "cam", "Cam")
            await cam.get_by_label("Password").fill(PASSWORD)
            await cam.get_by_role("button", name="Sign up").click()
            await expect(cam.get_by_role("button", name="Start a room")).to_be_visible()

            # Someone without an invite joins the waitlist; ann, who knows the name, lets them in.
            _, zed = await new_page(browser)
            await zed.goto(f"{server.url}/signup")
            await zed.get_by_role("link", name="Join the waitlist").click()
            await fill_account(zed, "zed", "Zed")
            await zed.get_by_role("button", name="Join the waitlist").click()
            await expect(zed.get_by_role("heading", name="You are on the waitlist")).to_be_visible()
            await zed.reload()  # the browser remembers the place
            await expect(zed.get_by_role("heading", name="You are on the waitlist")).to_be_visible()

            await ann.get_by_label("Username on the waitlist").fill("zed")
            await ann.get_by_role("button", name="Let in", exact=True).click()
            await expect(ann.get_by_text("@zed can now finish signing up.")).to_be_visible()

            await zed.get_by_role("button", name="Check again").click()
            await expect(zed.get_by_role("heading", name="Welcome, Zed")).to_be_visible()
            await zed.get_by_label("Password").fill(PASSWORD)
            await zed.get_by_role("button", name="Finish sign-up").click()
            await expect(zed.get_by_role("button", name="Start a room")).to_be_visible()

            await ann.reload()
            invites = ann.get_by_role("list", name="Your invites")
            await expect(invites).to_contain_text("Used by @cam")
            await expect(invites).to_contain_text("Let @zed in from the waitlist")
            await expect(ann.get_by_text("You have 3 of 5 invites left.")).to_be_visible()
        finally:
            await browser.close()


@pytest.mark.browser
async def test_browser_admin_sets_the_mode_and_lets_in_from_the_waitlist(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        await make_member(server, http, "ann")  # claims the admin account too
        r = await http.post("/api/waitlist", json={"username": "yan", "display_name": "Yan"})
        assert r.status_code == 201
        r = await http.post("/api/waitlist", json={"username": "squat", "display_name": "Squat"})
        assert r.status_code == 201
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            _, root = await new_page(browser)
            await root.goto(f"{server.url}/login")
            await root.get_by_label("Username").fill(ADMIN["username"])
            await root.get_by_label("Password").fill(ADMIN["password"])
            await root.get_by_role("button", name="Sign in").click()
            await expect(root.get_by_role("button", name="Start a room")).to_be_visible()
            await root.goto(f"{server.url}/invites")

            waitlist = root.get_by_role("list", name="Waitlist")
            await waitlist.get_by_role("button", name="Let @yan in").click()
            await expect(waitlist).to_contain_text("let in by @root, not signed up yet")
            await waitlist.get_by_role("button", name="Delete @squat from the waitlist").click()
            await root.get_by_role("dialog").get_by_role("button", name="Delete").click()
            await expect(waitlist).not_to_contain_text("@squat")
            await expect(waitlist).to_contain_text("@yan")

            await root.get_by_label("Sign-up mode").select_option("open")
            await expect(root.get_by_text("Saved.")).to_be_visible()
            _, visitor = await new_page(browser)
            await visitor.goto(f"{server.url}/signup")
            await expect(visitor.get_by_label("Invite code (optional)")).to_be_visible()

            await root.get_by_label("Sign-up mode").select_option("closed")
            await expect(root.get_by_text("Saved.")).to_be_visible()
            await visitor.goto(f"{server.url}/waitlist")
            await expect(visitor.get_by_role("heading", name="Not taking new members")).to_be_visible()
        finally:
            await browser.close()
