"""The rate limiter (parlor/limits): its arithmetic, and one contract suite run on the
in-process limiter and on a real Redis; two nodes sharing one Redis see one limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import BASE, error_code, running_instance
from tests.redis_server import redis_server

from parlor.limits import rules
from parlor.limits.base import Limiter
from parlor.limits.memory import MemoryLimiter
from parlor.limits.policies import DEFAULTS, PolicyError, Rate, parse, table
from parlor.limits.redis import RedisLimiter
from parlor.settings import SettingsError, load

T0 = 1_800_000_000.0  # a wall-clock time, as the services' clock gives


# -- the arithmetic ---------------------------------------------------------------------------


def test_a_bucket_holds_count_then_refills_evenly() -> None:
    rate = Rate(3, 60)
    tat = None
    for _ in range(3):
        tat, wait = rules.take(tat, T0, rate)
        assert wait == 0.0
    refused_tat, wait = rules.take(tat, T0, rate)
    assert refused_tat == tat and wait == pytest.approx(20.0)
    assert rules.take(tat, T0 + 20, rate)[1] == 0.0  # one back after window/count
    assert rules.take(tat, T0 + 19, rate)[1] == pytest.approx(1.0)


def test_a_cost_larger_than_the_bucket_waits_a_window_not_forever() -> None:
    assert rules.take(None, T0, Rate(5, 100), cost=6) == (T0, 100.0)


def test_back_off_doubles_after_the_free_failures_up_to_the_cap() -> None:
    rate = Rate(2, 10)
    assert rules.backoff_wait(1, T0, T0, rate) == 0.0
    assert [rules.backoff_wait(f, T0, T0, rate) for f in (2, 3, 4, 5, 6, 40)] == [1, 2, 4, 8, 10, 10]
    assert rules.backoff_wait(4, T0, T0 + 3, rate) == pytest.approx(1.0)
    # forgotten after a quiet hour
    assert rules.backoff_failures(9, T0, T0 + rules.FORGET_S + 1, rate) == 0
    assert rules.backoff_wait(9, T0, T0 + rules.FORGET_S + 1, rate) == 0.0


def test_policy_overrides_parse_and_refuse_nonsense() -> None:
    assert parse(["room_create=5/60", " waitlist = 2/3600 "]) == {
        "room_create": Rate(5, 60.0),
        "waitlist": Rate(2, 3600.0),
    }
    for bad in ("nope=1/2", "room_create=5", "room_create=0/60", "room_create=5/0", "room_create=x/y", "=1/2"):
        with pytest.raises(PolicyError):
            parse([bad])
    rates = table(["chat=1/1"], contact_prefix_budget=7)
    assert rates["chat"] == Rate(1, 1.0) and rates["contact_lookup"].count == 7
    assert {"reports", "chat", "sign_in_account", "sign_in_address"} <= set(DEFAULTS)


def test_settings_read_limits_proxies_and_redis() -> None:
    s = load(
        {
            "PARLOR_LIMITS": "room_create=5/60,signup=1/60",
            "PARLOR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "PARLOR_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )
    assert s.limits == ("room_create=5/60", "signup=1/60")
    assert s.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert "redis://" not in repr(s)  # the URL may hold a password
    for env in (
        {"PARLOR_LIMITS": "rooms=5/60"},
        {"PARLOR_TRUSTED_PROXIES": "proxy.example.org"},
        {"PARLOR_REDIS_URL": "http://127.0.0.1"},
    ):
        with pytest.raises(SettingsError):
            load(env)


# -- the contract, on both limiters ---------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    made = RedisLimiter(request.getfixturevalue("redis_url"))
    await made.start()
    await made._redis.flushdb()
    try:
        yield made
    finally:
        await made.close()


async def test_take_is_all_or_nothing_across_keys(limiter: Limiter) -> None:
    rate = Rate(2, 60)
    assert await limiter.take([("a", rate)], T0) == 0.0
    assert await limiter.take([("a", rate)], T0) == 0.0
    # "a" is empty, so neither is taken from: "b" keeps both
    assert await limiter.take([("b", rate), ("a", rate)], T0) == pytest.approx(30.0)
    assert await limiter.take([("b", rate)], T0) == 0.0
    assert await limiter.take([("b", rate)], T0) == 0.0
    assert await limiter.take([("b", rate)], T0) > 0
    assert await limiter.take([("a", rate)], T0 + 30) == 0.0  # one refilled


async def test_refusals_take_nothing(limiter: Limiter) -> None:
    rate = Rate(10, 100)
    assert await limiter.take([("k", rate)], T0, cost=8) == 0.0
    assert await limiter.take([("k", rate)], T0, cost=3) == pytest.approx(10.0)
    assert await limiter.take([("k", rate)], T0, cost=2) == 0.0  # the refused 3 were not spent
    assert await limiter.take([("k", rate)], T0, cost=1) > 0
    assert await limiter.take([("k", rate)], T0 + 100, cost=10) == 0.0


async def test_back_off_counts_attempts_until_success(limiter: Limiter) -> None:
    rate = Rate(3, 8)
    for _ in range(3):
        assert await limiter.attempt([("acct", rate)], T0) == 0.0
    # the fourth waits 1 s, and a refused attempt is not counted
    assert await limiter.attempt([("acct", rate)], T0) == pytest.approx(1.0)
    assert await limiter.attempt([("acct", rate)], T0 + 0.5) == pytest.approx(0.5)
    waits = []
    now = T0 + 1
    for _ in range(5):
        assert await limiter.attempt([("acct", rate)], now) == 0.0
        wait = await limiter.attempt([("acct", rate)], now)
        waits.append(round(wait, 3))
        now += wait
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped
    await limiter.succeeded(["acct"], [])
    assert await limiter.attempt([("acct", rate)], now) == 0.0


async def test_back_off_is_all_or_nothing_and_forgives_one(limiter: Limiter) -> None:
    account, address = Rate(5, 900), Rate(2, 900)
    for name in ("x", "y"):
        assert await limiter.attempt([(name, account), ("addr", address)], T0) == 0.0
    # the address says wait: the new account is not counted
    assert await limiter.attempt([("z", account), ("addr", address)], T0) == pytest.approx(1.0)
    for _ in range(5):
        assert await limiter.attempt([("z", account)], T0) == 0.0
    assert await limiter.attempt([("z", account)], T0) > 0
    # a success takes one failure back from the address, and resets the account
    await limiter.succeeded(["y"], ["addr"])
    assert await limiter.attempt([("w", account), ("addr", address)], T0) == 0.0
    assert await limiter.attempt([("v", account), ("addr", address)], T0) > 0


async def test_back_off_is_forgotten_after_a_quiet_spell(limiter: Limiter) -> None:
    rate = Rate(1, 60)
    assert await limiter.attempt([("k", rate)], T0) == 0.0
    assert await limiter.attempt([("k", rate)], T0) > 0
    later = T0 + rules.forget_after(rate) + 1
    assert await limiter.attempt([("k", rate)], later) == 0.0
    assert await limiter.attempt([("k", rate)], later) == pytest.approx(1.0)  # counted from one again


async def test_no_keys_is_always_allowed(limiter: Limiter) -> None:
    assert await limiter.take([], T0) == 0.0
    assert await limiter.attempt([], T0) == 0.0
    await limiter.succeeded([], [])


async def test_redis_keys_expire_once_they_say_nothing(redis_url: str) -> None:
    made = RedisLimiter(redis_url)
    await made.start()
    try:
        await made._redis.flushdb()
        await made.take([("t", Rate(10, 60))], T0)
        await made.attempt([("b", Rate(5, 900))], T0)
        ttl_take = await made._redis.pttl("parlor:limit:t")
        ttl_backoff = await made._redis.pttl("parlor:limit:b")
        assert 0 < ttl_take <= 7_000  # one take of ten in a minute: 6 s, and a second of slack
        assert 0 < ttl_backoff <= rules.forget_after(Rate(5, 900)) * 1000
    finally:
        await made.close()


def test_the_memory_limiter_sweeps_what_says_nothing() -> None:
    import asyncio

    async def fill() -> MemoryLimiter:
        made = MemoryLimiter()
        for i in range(20_000):
            await made.take([(f"k{i}", Rate(1, 1))], T0 + i)
        return made

    assert asyncio.run(fill()).key_count() < 10_000


# -- two nodes, one Redis ---------------------------------------------------------------------


async def test_two_instances_sharing_redis_see_one_limit(tmp_path: Path, redis_url: str) -> None:
    """Each node has its own database; the waitlist limit and the sign-in back-off hold across both."""
    made = RedisLimiter(redis_url)
    await made.start()
    await made._redis.flushdb()
    await made.close()
    settings = {"redis_url": redis_url, "limits": "waitlist=3/3600"}
    async with (
        running_instance(tmp_path / "a", **settings) as a,
        running_instance(tmp_path / "b", **settings) as b,
    ):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=inst.app, client=("198.51.100.7", 1)), base_url=BASE)
            for inst in (a, b)
        ]
        try:
            codes = []
            for i, c in enumerate([clients[0], clients[1], clients[0], clients[1]]):
                r = await c.post("/api/waitlist", json={"username": f"name{i}", "display_name": "N"})
                codes.append(r.status_code)
            assert codes == [201, 201, 201, 429]
            # sign-in: wrong passwords on node a hold the name back on node b too. Both nodes
            # read one frozen clock: on a busy box an argon2 check can outlast the first
            # one-second wait, and the test is about sharing, not timing.
            frozen = a.app.state.services.clock()
            for inst in (a, b):
                inst.app.state.services.clock = lambda: frozen
            for _ in range(DEFAULTS["sign_in_account"].count):
                r = await clients[0].post("/api/login", json={"username": "root", "password": "wrong password"})
                assert r.status_code == 401
            r = await clients[1].post("/api/login", json={"username": "root", "password": "wrong password"})
            assert r.status_code == 429 and error_code(r) == "rate_limited" and int(r.headers["retry-after"]) >= 1
        finally:
            for c in clients:
                await c.aclose()
