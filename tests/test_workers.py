"""`parlor serve --workers N`: media spread over worker processes, relayed between them.

Real server, real worker processes, parlor.client bots over loopback (run in the
private network namespace, like the other media tests).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server
from tests.media.media_helpers import write_tone
from tests.test_media_e2e import bot, eventually, packets, quiet_for

from parlor.bus.base import room_channel
from parlor.client import ParlorClient, RoomSession
from parlor.media import relay_wire
from parlor.media.base import MediaError
from parlor.media.worker import RelayReceiver
from parlor.media.workers import WorkerPool

pytestmark = pytest.mark.media
RTP = bytes([0x90, 0x6F, 0, 1]) + bytes(8) + b"opus"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data", workers=2)) as s:
        yield s


def pool_of(server: LiveServer) -> WorkerPool:
    media = server.app.state.services.media
    assert isinstance(media, WorkerPool)
    return media


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def speaker_and_listeners(
    server: LiveServer, tmp_path: Path
) -> tuple[str, list[ParlorClient], RoomSession, list[RoomSession]]:
    tone = write_tone(tmp_path / "ann.wav", seconds=3, freq=440)
    clients = [await bot(server, n) for n in ("ann", "bob", "carl", "dan")]
    room = await clients[0].create_room("Spread out")
    speaker = await clients[0].join_room(room["id"], send_wav=tone)
    await speaker.post("mute", {"muted": False})  # the creator comes on stage muted
    listeners = [await c.join_room(room["id"]) for c in clients[1:]]
    return str(room["id"]), clients, speaker, listeners


async def test_listeners_on_a_second_worker_hear_the_speaker_on_the_first(server: LiveServer, tmp_path: Path) -> None:
    pool = pool_of(server)
    room_id, clients, ann, listeners = await speaker_and_listeners(server, tmp_path)
    speaking: list[dict[str, float]] = []
    stop = server.app.state.services.bus.subscribe(
        room_channel(room_id), lambda m: speaking.append(m["data"]["levels"]) if m["name"] == "speaking" else None
    )
    try:
        origin = pool.worker_of(room_id, ann.client.user_id)
        assert origin is not None and pool.origin_of(room_id) == origin
        placed = {pool.worker_of(room_id, s.client.user_id) for s in listeners}
        assert placed == {0, 1}, placed  # least-loaded placement spreads the audience
        remote = [s for s in listeners if pool.worker_of(room_id, s.client.user_id) != origin]
        assert remote

        await eventually(lambda: all(packets(s.media) > 100 for s in listeners))
        for s in listeners:
            assert s.media is not None and s.media.level() > 0.05, s.client.user_id  # the tone, not silence
            assert len([n for n in s.media.per_ssrc.values() if n > 0]) == 1
        assert packets(ann.media) == 0  # the speaker never hears herself, from either worker
        await eventually(lambda: pool.worker_stats(origin).get("relayed", 0) > 50, within=3)
        await eventually(lambda: pool.worker_stats(1 - origin).get("relay_received", 0) > 50, within=3)
        # levels come from the speaker's worker, through the pool, to the room's picture
        # (published when it changes: maybe before this test subscribed to the channel)
        board = server.app.state.services.speaking
        # (coalesced: the board publishes on its next tick, so wait for it)
        await eventually(lambda: board.current(room_id).get(ann.client.user_id, 0) > 0.3, within=3)
        assert all(set(levels) <= {ann.client.user_id} for levels in speaking)

        await ann.post("mute", {"muted": True})  # REST: the stage changes, both workers follow
        quiet = await asyncio.gather(*(quiet_for(s.media) for s in listeners))
        assert quiet == [0, 0, 0]
        await ann.post("mute", {"muted": False})
        starts = [packets(s.media) for s in remote]
        await eventually(lambda: all(packets(s.media) > n + 40 for s, n in zip(remote, starts, strict=True)))
    finally:
        stop()
        for c in clients:
            await c.close()


async def test_killing_a_non_origin_worker_moves_its_listeners_and_keeps_the_room(
    server: LiveServer, tmp_path: Path
) -> None:
    pool = pool_of(server)
    room_id, clients, ann, listeners = await speaker_and_listeners(server, tmp_path)
    try:
        origin = pool.worker_of(room_id, ann.client.user_id)
        assert origin is not None
        victim = 1 - origin
        moved = [s for s in listeners if pool.worker_of(room_id, s.client.user_id) == victim]
        stayed = [s for s in listeners if pool.worker_of(room_id, s.client.user_id) == origin]
        assert moved and stayed
        await eventually(lambda: all(packets(s.media) > 50 for s in listeners))
        old_pids = pool.worker_pids()
        old_media = [s.media for s in moved]

        samples: list[list[int]] = []

        async def sample() -> None:
            while True:
                samples.append([packets(s.media) for s in stayed])
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        pool.kill_worker(victim)
        # told `media.restart`, the clients reconnect (to a live worker) and hear ann again
        await eventually(lambda: all(s.restarts >= 1 for s in moved), within=5)
        await eventually(
            lambda: all(s.media is not None and s.media not in old_media and packets(s.media) > 50 for s in moved),
            within=15,
        )
        for s in moved:
            assert s.media is not None and s.media.level() > 0.05
            assert pool.worker_of(room_id, s.client.user_id) is not None
        sampler.cancel()
        # the surviving worker's listeners never stopped hearing (every half second, packets)
        assert len(samples) >= 3
        for before, after in itertools.pairwise(samples):
            assert all(b > a for a, b in zip(before, after, strict=True)), samples
        assert not stayed[0].restarts and not ann.restarts

        room = await ann.client.call("GET", f"/api/rooms/{room_id}")
        assert room["ended"] is False and len(room["participants"]) == 4
        # a replacement worker takes the dead one's place
        await eventually(lambda: len(pool.worker_pids()) == 2 and pool.worker_pids() != old_pids, within=10)
        assert pool.peer_count() == 4
    finally:
        for c in clients:
            await c.close()


async def test_a_speaker_promoted_on_the_second_worker_is_heard_on_the_first(
    server: LiveServer, tmp_path: Path
) -> None:
    pool = pool_of(server)
    tone = write_tone(tmp_path / "bob.wav", seconds=3, freq=500)
    ann, bob, carl = [await bot(server, n) for n in ("ann", "bob", "carl")]
    try:
        room = await ann.create_room("Other way round")
        room_id = str(room["id"])
        ann_room = await ann.join_room(room_id)  # the moderator says nothing
        bob_room = await bob.join_room(room_id)
        carl_room = await carl.join_room(room_id)
        origin = pool.origin_of(room_id)
        assert origin == pool.worker_of(room_id, ann.user_id) == pool.worker_of(room_id, carl.user_id)
        assert pool.worker_of(room_id, bob.user_id) == 1 - origin
        await bob_room.post("hand", {"raised": True})
        await ann_room.post("speak-invites", {"user_id": bob.user_id})
        await bob_room.post("speak-invite/accept")
        assert bob_room.media is not None
        bob_room.media.set_microphone(tone)
        assert await quiet_for(ann_room.media) == 0  # on stage, still muted: bob's worker drops him
        await bob_room.post("mute", {"muted": False})  # the stage change reaches both workers
        await eventually(lambda: packets(ann_room.media) > 60 and packets(carl_room.media) > 60)
        for s in (ann_room, carl_room):
            assert s.media is not None and s.media.level() > 0.05
        assert packets(bob_room.media) == 0
        await bob_room.post("mute", {"muted": True})
        assert await quiet_for(carl_room.media) == 0
    finally:
        for c in (ann, bob, carl):
            await c.close()


def test_relay_receiver_takes_only_well_formed_datagrams_from_known_workers() -> None:
    got: list[tuple[str, str, bytes]] = []
    receiver = RelayReceiver(lambda room, speaker, rtp: got.append((room, speaker, rtp)))
    known, stranger = ("127.0.0.1", 40001), ("127.0.0.1", 40002)
    receiver.allowed = frozenset({known})
    good = relay_wire.encode("r_1", "u_1", RTP)
    receiver.datagram_received(good, stranger)
    for bad in (b"", b"\x01\x05r_1", b"\x09" + good[1:], good[:-len(RTP) + 3]):
        receiver.datagram_received(bad, known)
    assert got == [] and receiver.rejected == 5
    receiver.datagram_received(good, known)
    assert got == [("r_1", "u_1", RTP)] and receiver.received == 1


async def test_pool_ignores_stray_datagrams_and_close_leaves_no_processes(tmp_path: Path) -> None:
    lost: list[tuple[str, str]] = []
    pool = WorkerPool(make_settings(tmp_path, workers=2), on_peer_lost=lambda r, u: lost.append((r, u)))
    tasks_before = asyncio.all_tasks()
    await pool.start()
    pids = pool.worker_pids()
    assert len(pids) == 2 and all(not gone(pid) for pid in pids)
    relay = pool.worker_relay(0)
    assert relay is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
        stray.sendto(relay_wire.encode("r_1", "u_1", RTP), relay)  # well-formed, unknown sender
        stray.sendto(b"\xff garbage", relay)
    await eventually(lambda: pool.worker_stats(0).get("relay_rejected", 0) == 2, within=3)
    assert pool.worker_stats(0).get("relay_received") == 0
    await pool.close_room("r_1")  # the worker still serves requests
    assert pool.worker_pids() == pids
    await pool.close()
    assert all(gone(pid) for pid in pids)
    assert pool.worker_pids() == []
    assert asyncio.all_tasks() - tasks_before == set()
    assert lost == []


async def test_workers_exit_when_the_main_process_dies(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from pathlib import Path
        from parlor.media.workers import WorkerPool
        from parlor.settings import load

        async def main():
            pool = WorkerPool(load({{}}, data_dir={str(tmp_path)!r}, workers=2))
            await pool.start()
            print(*pool.worker_pids(), flush=True)
            os._exit(0)  # no clean-up at all

        asyncio.run(main())
        """
    )
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    pids = [int(x) for x in out.stdout.split()]
    assert len(pids) == 2
    await eventually(lambda: all(gone(pid) for pid in pids), within=5)


async def test_close_before_start_is_fine(tmp_path: Path) -> None:
    pool = WorkerPool(make_settings(tmp_path, workers=3))
    pool.set_audible("r_1", frozenset({"u_1"}))
    assert pool.peer_count() == 0 and pool.worker_pids() == []
    await pool.close()
    with pytest.raises(MediaError):
        await pool.open_peer("r_1", "u_1")
