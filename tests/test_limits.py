"""Rate limits over HTTP (docs/API.md, Limits): the sign-in back-off, and 429 with
`rate_limited` and `Retry-After` with nothing changed, for every limited action.

The services' clock is stood still (`Clock`) so that nothing here sleeps; each
person's requests come from an address of their own (`at`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from tests.conftest import BASE, Instance, Person, error_code, running_instance
from tests.people import ADMIN, MEMBER_PASSWORD, signup_body

from parlor.actions import accounts
from parlor.limits.policies import DEFAULTS

FREE = DEFAULTS["sign_in_account"].count
FLOOD, ELSEWHERE, THIRD = "203.0.113.5", "198.51.100.9", "192.0.2.44"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(inst: Instance, address: str, like: Person | None = None) -> httpx.AsyncClient:
    """A client whose requests come from `address` (with `like`'s session, if given)."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=inst.app, client=(address, 40000)), base_url=BASE)
    inst._clients.append(c)
    if like is not None:
        c.cookies = like.http.cookies
    return c


def login(c: httpx.AsyncClient, username: str, password: str) -> Awaitable[httpx.Response]:
    return c.post("/api/login", json={"username": username, "password": password})


def assert_limited(r: httpx.Response, retry_after: int | None = None) -> int:
    assert r.status_code == 429 and error_code(r) == "rate_limited", r.text
    seconds = int(r.headers["retry-after"])  # whole seconds, as RFC 9110 asks
    assert seconds >= 1 and r.headers["retry-after"] == str(seconds)
    if retry_after is not None:
        assert seconds == retry_after, r.headers["retry-after"]
    return seconds


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts password checks (each is ~50 ms of argon2)."""
    calls: list[int] = []
    real = accounts._verify

    async def counting(password_hash: str, password: str) -> bool:
        calls.append(1)
        return await real(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    return calls


# -- sign-in ------------------------------------------------------------------------------------


async def test_200_wrong_passwords_are_refused_early_and_others_are_unaffected(
    instance: Instance, hashes: list[int]
) -> None:
    clock = instance.services.clock = Clock()
    await instance.member("ann")
    await instance.member("bob")
    hashes.clear()
    flood = at(instance, FLOOD)
    statuses = []
    for _ in range(200):
        r = await login(flood, "ann", "not her password")
        statuses.append(r.status_code)
    assert statuses[:FREE] == [401] * FREE
    assert set(statuses[FREE:]) == {429}, statuses
    assert_limited(r, retry_after=1)
    assert len(hashes) == FREE  # refused attempts never reach argon2

    # the right password is refused during the back-off, from there and from elsewhere
    assert_limited(await login(flood, "ann", MEMBER_PASSWORD))
    assert_limited(await login(at(instance, ELSEWHERE), "ann", MEMBER_PASSWORD))
    # other accounts, from the flooding address and from another, are not
    assert (await login(flood, "bob", MEMBER_PASSWORD)).status_code == 200
    assert (await login(at(instance, THIRD), "bob", MEMBER_PASSWORD)).status_code == 200

    # the wait doubles with each further failure
    waits = []
    for _ in range(4):
        clock.advance(waits[-1] if waits else 1)
        assert (await login(flood, "ann", "not her password")).status_code == 401
        waits.append(assert_limited(await login(flood, "ann", "not her password")))
    assert waits == [2, 4, 8, 16]
    # after it, the right password signs in, and the account starts afresh
    clock.advance(16)
    assert (await login(at(instance, ELSEWHERE), "ann", MEMBER_PASSWORD)).status_code == 200
    for _ in range(FREE):
        assert (await login(flood, "ann", "not her password")).status_code == 401


async def test_the_back_off_is_capped(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", limits="sign_in_account=2/20") as inst:
        clock = inst.services.clock = Clock()
        c = at(inst, FLOOD)
        for _ in range(2):
            assert (await login(c, "nobody_here", "wrong password")).status_code == 401
        waits = []
        for _ in range(7):
            waits.append(assert_limited(await login(c, "nobody_here", "wrong password")))
            clock.advance(waits[-1])
            assert (await login(c, "nobody_here", "wrong password")).status_code == 401
        assert waits == [1, 2, 4, 8, 16, 20, 20]


async def test_one_address_trying_many_accounts_is_held_back(tmp_path: Path, hashes: list[int]) -> None:
    async with running_instance(tmp_path / "data", limits="sign_in_address=4/900") as inst:
        inst.services.clock = Clock()
        await inst.member("ann")
        hashes.clear()
        c = at(inst, FLOOD)
        for i in range(4):
            assert (await login(c, f"guess{i}", "wrong password")).status_code == 401
        assert_limited(await login(c, "someone_else", "wrong password"))
        # even a right password, from that address
        assert_limited(await login(c, "ann", MEMBER_PASSWORD))
        assert len(hashes) == 4
        assert (await login(at(inst, ELSEWHERE), "ann", MEMBER_PASSWORD)).status_code == 200


async def test_concurrent_wrong_passwords_are_counted_before_they_are_hashed(
    instance: Instance, hashes: list[int]
) -> None:
    instance.services.clock = Clock()
    await instance.member("ann")
    hashes.clear()
    c = at(instance, FLOOD)
    answers = await asyncio.gather(*(login(c, "ann", "not her password") for _ in range(40)))
    assert sorted(r.status_code for r in answers) == [401] * FREE + [429] * (40 - FREE)
    assert len(hashes) == FREE


async def test_embed_sign_in_and_account_deletion_share_the_back_off(instance: Instance) -> None:
    instance.services.clock = Clock()
    ann = await instance.member("ann")
    c = at(instance, FLOOD)
    for _ in range(FREE):
        r = await c.post("/api/embed/login", json={"username": "ann", "password": "not her password"})
        assert r.status_code == 401
    assert_limited(await c.post("/api/embed/login", json={"username": "ann", "password": MEMBER_PASSWORD}))
    # deleting the account asks for the password: refused with the back-off, not "wrong password"
    r = await ann.http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert_limited(r)
    assert (await ann.http.get("/api/me")).status_code == 200


# -- 429 with nothing changed, for each limited action ------------------------------------------


async def _invited(inst: Instance) -> tuple[str, str]:
    return await inst.invite_code(), await inst.invite_code()


async def signup_case(inst: Instance) -> None:
    first, second = await _invited(inst)
    c = at(inst, FLOOD)
    assert (await c.post("/api/signup", json=signup_body(first, "ann"))).status_code == 201
    assert_limited(await at(inst, FLOOD).post("/api/signup", json=signup_body(second, "bob")), retry_after=3600)
    admin = await inst.admin()
    assert (await admin.http.get("/api/users/bob")).status_code == 404
    # the code is still unused: bob signs up with it from another address
    assert (await at(inst, ELSEWHERE).post("/api/signup", json=signup_body(second, "bob"))).status_code == 201


async def waitlist_case(inst: Instance) -> None:
    def join(c: httpx.AsyncClient, name: str) -> Awaitable[httpx.Response]:
        return c.post("/api/waitlist", json={"username": name, "display_name": name.title()})

    assert (await join(at(inst, FLOOD), "zed")).status_code == 201
    assert_limited(await join(at(inst, FLOOD), "yan"))
    admin = await inst.admin()
    listed = (await admin.http.get("/api/admin/waitlist")).json()["entries"]
    assert [e["username"] for e in listed] == ["zed"]
    assert (await join(at(inst, ELSEWHERE), "yan")).status_code == 201


async def invites_case(inst: Instance) -> None:
    ann, bob = await inst.member("ann"), await inst.member("bob")  # the admin's two invites
    assert_limited(await (await inst.admin()).post("/api/invites"))
    for _ in range(2):
        assert (await ann.post("/api/invites")).status_code == 201
    before = (await ann.http.get("/api/invites")).json()
    assert_limited(await ann.post("/api/invites"))
    after = (await ann.http.get("/api/invites")).json()
    assert after == before and len(after["invites"]) == 2 and after["remaining"] == before["remaining"]
    assert (await bob.post("/api/invites")).status_code == 201


async def room_create_case(inst: Instance) -> None:
    ann, bob = await inst.member("ann"), await inst.member("bob")
    ann_c, bob_c = at(inst, FLOOD, ann), at(inst, ELSEWHERE, bob)
    assert (await ann_c.post("/api/rooms", json={"title": "One"})).status_code == 201
    assert_limited(await ann_c.post("/api/rooms", json={"title": "Two"}))
    assert [r["title"] for r in (await ann_c.get("/api/rooms")).json()["rooms"]] == ["One"]
    assert len(inst.services.live.rooms) == 1
    # counted per account and per address: ann elsewhere, and anyone at her address, wait too
    assert_limited(await at(inst, THIRD, ann).post("/api/rooms", json={"title": "Two"}))
    assert_limited(await at(inst, FLOOD, bob).post("/api/rooms", json={"title": "Two"}))
    assert (await bob_c.post("/api/rooms", json={"title": "Bob's"})).status_code == 201


async def room_join_case(inst: Instance) -> None:
    ann, bob, cat = await inst.member("ann"), await inst.member("bob"), await inst.member("cat")
    first = (await ann.post("/api/rooms", json={"title": "One"})).json()["id"]
    second = (await ann.post("/api/rooms", json={"title": "Two"})).json()["id"]
    assert (await bob.post(f"/api/rooms/{first}/join")).status_code == 200
    assert_limited(await bob.post(f"/api/rooms/{second}/join"))
    people = (await ann.http.get(f"/api/rooms/{second}")).json()["participants"]
    assert [p["username"] for p in people] == ["ann"]
    assert (await cat.post(f"/api/rooms/{second}/join")).status_code == 200


async def room_invite_case(inst: Instance) -> None:
    ann, bob, cat = await inst.member("ann"), await inst.member("bob"), await inst.member("cat")
    room = (await ann.post("/api/rooms", json={"title": "Closed", "kind": "closed"})).json()["id"]
    assert (await ann.post(f"/api/rooms/{room}/invites", {"username": "bob"})).status_code == 200
    assert_limited(await ann.post(f"/api/rooms/{room}/invites", {"username": "cat"}))
    assert (await cat.post(f"/api/rooms/{room}/join")).status_code == 403  # not invited
    assert (await bob.post(f"/api/rooms/{room}/join")).status_code == 200


async def contact_lookup_case(inst: Instance) -> None:
    ann, bob = await inst.member("ann"), await inst.member("bob")
    bits = (await ann.http.get("/api/contacts/params")).json()["prefix_bits"]
    ask = {"prefix_bits": bits, "prefixes": [0]}
    assert (await ann.post("/api/contacts/match", ask)).status_code == 200
    assert_limited(await ann.post("/api/contacts/match", ask), retry_after=86400)
    assert (await bob.post("/api/contacts/match", ask)).status_code == 200


CASES: dict[str, tuple[str, Callable[[Instance], Awaitable[None]]]] = {
    "signup": ("signup=1/3600", signup_case),
    "waitlist": ("waitlist=1/3600", waitlist_case),
    "invites": ("invites=2/3600", invites_case),
    "room_create": ("room_create=1/3600", room_create_case),
    "room_join": ("room_join=1/3600", room_join_case),
    "room_invite": ("room_invite=1/3600", room_invite_case),
    "contact_lookup": ("contact_lookup=1/86400", contact_lookup_case),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_over_the_limit_is_429_and_changes_nothing(case: str, tmp_path: Path, database_url: str) -> None:
    limits, run = CASES[case]
    async with running_instance(tmp_path / "data", database_url=database_url, limits=limits) as inst:
        inst.services.clock = Clock()
        await run(inst)


async def test_a_limit_refills_with_time(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", limits="room_create=2/60") as inst:
        clock = inst.services.clock = Clock()
        ann = await inst.member("ann")
        for title in ("One", "Two"):
            assert (await ann.post("/api/rooms", json={"title": title})).status_code == 201
        assert_limited(await ann.post("/api/rooms", json={"title": "Three"}), retry_after=30)
        clock.advance(30)
        assert (await ann.post("/api/rooms", json={"title": "Three"})).status_code == 201
        assert_limited(await ann.post("/api/rooms", json={"title": "Four"}))


async def test_other_errors_carry_no_retry_after(instance: Instance) -> None:
    r = await login(instance.client(), "nobody_here", "wrong password")
    assert r.status_code == 401 and "retry-after" not in r.headers


# -- the findings (issue 10) ----------------------------------------------------------------------


async def test_regression_waitlist_names_cannot_be_squatted(instance: Instance) -> None:
    """Was: 300 waitlist names taken in 3 s from one address."""
    instance.services.clock = Clock()
    squatter, allowed = at(instance, FLOOD), DEFAULTS["waitlist"].count
    statuses = []
    for i in range(300):
        r = await squatter.post("/api/waitlist", json={"username": f"squat{i:03d}", "display_name": "S"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert_limited(r)
    assert statuses == [201] * allowed + [429] * (300 - allowed)
    admin = await instance.admin()
    assert len((await admin.http.get("/api/admin/waitlist", params={"limit": 100})).json()["entries"]) == allowed
    r = await at(instance, ELSEWHERE).post("/api/waitlist", json={"username": "squat299", "display_name": "Real"})
    assert r.status_code == 201


async def test_regression_room_creation_is_limited(instance: Instance) -> None:
    """Was: 300 rooms created in 5 s by one member."""
    instance.services.clock = Clock()
    ann = await instance.member("ann")
    allowed = DEFAULTS["room_create"].count
    statuses = [(await ann.post("/api/rooms", json={"title": f"Room {i}"})).status_code for i in range(300)]
    assert statuses == [201] * allowed + [429] * (300 - allowed)
    assert len(instance.services.live.rooms) == allowed


# -- whose address ------------------------------------------------------------------------------


def _join(c: httpx.AsyncClient, name: str, forwarded: str | None) -> Awaitable[httpx.Response]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return c.post("/api/waitlist", json={"username": name, "display_name": "X"}, headers=headers)


@pytest.fixture
async def one_join(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Instance]:
    async with running_instance(tmp_path / "data", limits="waitlist=1/3600", **request.param) as inst:
        yield inst


@pytest.mark.parametrize("one_join", [{}], indirect=True)
async def test_x_forwarded_for_is_not_believed_by_default(one_join: Instance) -> None:
    proxy = at(one_join, "127.0.0.1")
    assert (await _join(proxy, "first", "192.0.2.1")).status_code == 201
    assert_limited(await _join(proxy, "second", "192.0.2.2"))


@pytest.mark.parametrize("one_join", [{"trusted_proxies": "127.0.0.1"}], indirect=True)
async def test_x_forwarded_for_is_believed_from_a_trusted_proxy(one_join: Instance) -> None:
    proxy = at(one_join, "127.0.0.1")
    assert (await _join(proxy, "first", "192.0.2.1")).status_code == 201
    assert (await _join(proxy, "second", "192.0.2.2")).status_code == 201
    assert_limited(await _join(proxy, "third", "192.0.2.1"))
    # a spoofed hop in front of the proxy's own does not help: the right-most untrusted one counts
    assert_limited(await _join(proxy, "fourth", "10.9.9.9, 192.0.2.1"))
    # from a peer that is not a trusted proxy, the header is ignored
    other = at(one_join, "198.51.100.1")
    assert (await _join(other, "fifth", "192.0.2.77")).status_code == 201
    assert_limited(await _join(other, "sixth", "192.0.2.78"))


async def test_ipv6_addresses_share_a_limit_per_64(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", limits="waitlist=1/3600") as inst:
        assert (await _join(at(inst, "2001:db8:1:2::1"), "first", None)).status_code == 201
        assert_limited(await _join(at(inst, "2001:db8:1:2:ffff::9"), "second", None))
        assert (await _join(at(inst, "2001:db8:1:3::1"), "third", None)).status_code == 201


async def test_admin_setup_password_works_after_a_member_flood(instance: Instance) -> None:
    """The admin (signed up by setup) is one account like any other: unaffected by a flood on ann."""
    instance.services.clock = Clock()
    await instance.member("ann")
    c = at(instance, FLOOD)
    for _ in range(FREE + 3):
        await login(c, "ann", "not her password")
    assert (await login(c, ADMIN["username"], ADMIN["password"])).status_code == 200
