"""The bus contract (bus/base.py), one suite on the in-process bus and on the Redis bus
(a real redis-server of the test's own), and what only a network adds: other nodes,
and a Redis outage that never loses a message silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from tests.redis_server import RedisServer, redis_process

from parlor.bus.base import RESYNC, Bus, Message
from parlor.bus.memory import MemoryBus
from parlor.bus.redis import RedisBus

# Makes one node's bus; with the memory bus every "node" is the same (one process).
NodeMaker = Callable[[], Awaitable[Bus]]


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_process(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def node(request: pytest.FixtureRequest) -> AsyncIterator[NodeMaker]:
    made: list[Bus] = []
    shared = MemoryBus()

    async def make() -> Bus:
        if request.param == "memory":
            return shared
        bus = RedisBus(request.getfixturevalue("redis").url)
        await bus.start()
        made.append(bus)
        return bus

    try:
        yield make
    finally:
        for bus in made:
            await bus.close()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


# -- the contract, on both ------------------------------------------------------------------


async def test_a_subscriber_on_the_same_node_has_the_message_when_publish_returns(node: NodeMaker) -> None:
    bus = await node()
    got: list[Message] = []
    bus.subscribe("room:a", got.append)
    await bus.publish("room:a", {"name": "x", "data": {"n": 1}})
    assert got == [{"name": "x", "data": {"n": 1}}]


async def test_channels_are_separate_and_unsubscribing_stops_delivery(node: NodeMaker) -> None:
    bus = await node()
    a: list[Message] = []
    b: list[Message] = []
    stop_a = bus.subscribe("room:a", a.append)
    bus.subscribe("room:b", b.append)
    await bus.publish("room:a", {"name": "one", "data": {}})
    stop_a()
    stop_a()  # twice is harmless
    await bus.publish("room:a", {"name": "two", "data": {}})
    await bus.publish("room:b", {"name": "three", "data": {}})
    assert [m["name"] for m in a] == ["one"]
    assert [m["name"] for m in b] == ["three"]


async def test_one_failing_subscriber_does_not_starve_the_others(
    node: NodeMaker, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await node()
    got: list[Message] = []

    def broken(_m: Message) -> None:
        raise RuntimeError("a socket's fault")

    bus.subscribe("c", broken)
    bus.subscribe("c", got.append)
    with caplog.at_level(logging.ERROR):
        await bus.publish("c", {"name": "x", "data": {}})
    assert got == [{"name": "x", "data": {}}]
    assert "bus subscriber failed" in caplog.text


async def test_a_subscriber_may_unsubscribe_while_being_delivered_to(node: NodeMaker) -> None:
    bus = await node()
    got: list[str] = []
    stops: list[Callable[[], None]] = []

    def once(m: Message) -> None:
        got.append("once:" + m["name"])
        stops[0]()

    stops.append(bus.subscribe("c", once))
    bus.subscribe("c", lambda m: got.append("always:" + m["name"]))
    await bus.publish("c", {"name": "a", "data": {}})
    await bus.publish("c", {"name": "b", "data": {}})
    assert got == ["once:a", "always:a", "always:b"]


async def test_another_node_gets_every_message_in_order_as_json(node: NodeMaker) -> None:
    a, b = await node(), await node()
    got: list[Message] = []
    b.subscribe("room:r", got.append)
    await b.ready()
    sent = [{"name": "e", "data": {"i": i, "text": "héllo ✓", "list": [1, None, {"k": True}]}} for i in range(300)]
    for message in sent:
        await a.publish("room:r", message)
    await until(lambda: len(got) >= len(sent))
    await asyncio.sleep(0.05)  # and nothing more (a node's own echo is not a second copy)
    assert got == sent


async def test_nothing_arrives_twice_on_the_publishing_node(node: NodeMaker) -> None:
    a, b = await node(), await node()
    mine: list[Message] = []
    theirs: list[Message] = []
    a.subscribe("c", mine.append)
    b.subscribe("c", theirs.append)
    await a.ready()
    await b.ready()
    for i in range(20):
        await a.publish("c", {"name": "n", "data": {"i": i}})
    await until(lambda: len(theirs) == 20)
    await asyncio.sleep(0.1)
    assert [m["data"]["i"] for m in mine] == list(range(20))
    assert [m["data"]["i"] for m in theirs] == list(range(20))


async def test_unsubscribed_channels_stop_arriving_from_other_nodes(node: NodeMaker) -> None:
    a, b = await node(), await node()
    got: list[Message] = []
    stop = b.subscribe("c", got.append)
    await b.ready()
    await a.publish("c", {"name": "before", "data": {}})
    await until(lambda: len(got) == 1)
    stop()
    await b.ready()
    await a.publish("c", {"name": "after", "data": {}})
    await asyncio.sleep(0.2)
    assert [m["name"] for m in got] == ["before"]


# -- what only the Redis bus has: an outage ------------------------------------------------------


@pytest.fixture
def outage_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_process(tmp_path / "redis") as server:
        yield server


async def _two_nodes(url: str) -> tuple[RedisBus, RedisBus]:
    a, b = RedisBus(url), RedisBus(url)
    await a.start()
    await b.start()
    return a, b


async def test_a_redis_outage_delivers_or_resyncs_and_then_carries_on(outage_redis: RedisServer) -> None:
    a, b = await _two_nodes(outage_redis.url)
    got: list[Message] = []
    b.subscribe("room:r", got.append)
    try:
        await b.ready()
        await a.publish("room:r", {"name": "before", "data": {}})
        await until(lambda: len(got) == 1)

        outage_redis.kill()
        await until(lambda: not a.connected and not b.connected)
        for i in range(5):  # published while Redis is gone: they wait on node A
            await a.publish("room:r", {"name": "during", "data": {"i": i}})
        assert a.waiting() == 5
        await asyncio.sleep(1.0)  # a few seconds of outage, all told
        outage_redis.start()

        await until(lambda: a.connected and b.connected and a.waiting() == 0, timeout=10)
        await b.ready()
        await a.publish("room:r", {"name": "after", "data": {}})
        await until(lambda: any(m["name"] == "after" for m in got), timeout=10)
    finally:
        await a.close()
        await b.close()

    names = [m["name"] for m in got]
    during = [m["data"]["i"] for m in got if m["name"] == "during"]
    # Each message of the outage either arrived, in order, or B was told to resync.
    assert during == sorted(during)
    assert len(during) == 5 or RESYNC in names, names
    # B's subscriber connection broke, so B could have missed anything: it says so.
    assert RESYNC in names and b.resyncs == 1
    assert names[0] == "before" and names[-1] == "after"


async def test_a_message_lost_with_a_broken_connection_becomes_a_resync(outage_redis: RedisServer) -> None:
    """The publisher cannot know whether a batch it was sending when the connection broke
    got out: it never sends it twice, it tells the channel's subscribers to resync."""
    a, b = await _two_nodes(outage_redis.url)
    got: list[Message] = []
    b.subscribe("room:r", got.append)
    try:
        await b.ready()
        a._gapped.add("room:r")  # as a failed batch leaves it
        a._wake.set()
        await until(lambda: any(m["name"] == RESYNC for m in got))
    finally:
        await a.close()
        await b.close()
    assert got == [{"name": RESYNC, "data": {}}]


async def test_a_full_outbox_drops_the_oldest_and_resyncs_their_channels(outage_redis: RedisServer) -> None:
    """More published than may wait (Redis slow or gone): the oldest are dropped, and their
    channel's subscribers on other nodes are told to resync before the rest arrives."""
    import parlor.bus.redis as redis_bus

    a, b = await _two_nodes(outage_redis.url)
    got: list[Message] = []
    b.subscribe("room:r", got.append)
    try:
        await b.ready()
        # `publish` never waits on the network: this loop fills the outbox before the
        # publisher task runs once, as an unreachable Redis would.
        for i in range(redis_bus.MAX_WAITING + 3):
            await a.publish("room:r", {"name": "m", "data": {"i": i}})
        assert a.waiting() == redis_bus.MAX_WAITING
        await until(lambda: sum(m["name"] == "m" for m in got) == redis_bus.MAX_WAITING, timeout=20)
    finally:
        await a.close()
        await b.close()
    assert got[0] == {"name": RESYNC, "data": {}}
    kept = [m["data"]["i"] for m in got[1:]]
    assert kept == list(range(3, redis_bus.MAX_WAITING + 3))  # the oldest three dropped
    assert b.resyncs == 0  # B never lost its connection: the resync came from A


async def test_redis_down_at_start_is_refused_with_its_reason(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")  # never started
    bus = RedisBus(server.url)
    with pytest.raises(Exception) as caught:
        await bus.start()
    await bus.close()
    assert "Connect" in type(caught.value).__name__ or "refused" in str(caught.value).lower()
