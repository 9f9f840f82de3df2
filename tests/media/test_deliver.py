"""The seam for multi-process workers: on_upstream on one Sfu, deliver() on another."""

from __future__ import annotations

import asyncio

import pytest
from media_helpers import LOOPBACK, ROOM, connected, join, wait_for

from parlor.client.media import MediaSession
from parlor.media.sfu import Sfu

pytestmark = pytest.mark.media


async def test_relayed_speaker_heard_on_other_sfu(clients: list[MediaSession], tone_wav: str) -> None:
    levels_a: list[dict[str, float]] = []
    levels_b: list[dict[str, float]] = []
    relayed: list[tuple[str, str, bytes]] = []
    b_upstream: list[tuple[str, str, bytes]] = []
    sfu_b = Sfu(
        ice_hosts=LOOPBACK,
        on_levels=lambda room, lv: levels_b.append(lv),
        on_upstream=lambda *args: b_upstream.append(args),
    )

    def relay(room_id: str, speaker_id: str, rtp: bytes) -> None:
        relayed.append((room_id, speaker_id, rtp))
        sfu_b.deliver(room_id, speaker_id, rtp)

    sfu_a = Sfu(ice_hosts=LOOPBACK, on_levels=lambda room, lv: levels_a.append(lv), on_upstream=relay)
    try:
        for sfu in (sfu_a, sfu_b):
            sfu.set_audible(ROOM, frozenset({"speaker"}))
        speaker = await join(sfu_a, clients, "speaker", send_wav=tone_wav)
        near = await join(sfu_a, clients, "near")
        far = await join(sfu_b, clients, "far")
        far_quiet = await join(sfu_b, clients, "far-quiet")  # another local peer on B, no mic
        await connected(speaker, near, far, far_quiet)
        await wait_for(lambda: far.frames_received > 20 and near.frames_received > 20)
        assert far.stats()["level"] > 0.05
        assert far_quiet.packets_received > 20
        assert (sfu_a.local_peers(ROOM), sfu_b.local_peers(ROOM), sfu_b.local_peers("nowhere")) == (2, 2, 0)
        assert b_upstream == []  # delivered packets are never relayed again
        # relayed as received: the speaker's own SSRC, before any rewriting
        speaker_ssrc = speaker.pc.getTransceivers()[0].sender._ssrc
        assert {int.from_bytes(rtp[8:12], "big") for _, _, rtp in relayed} == {speaker_ssrc}
        assert {(room, user) for room, user, _ in relayed} == {(ROOM, "speaker")}
        assert sfu_b.slot_holders(ROOM)[0] == "speaker"

        # B no longer lets the speaker be heard: B drops, A carries on
        sfu_b.set_audible(ROOM, frozenset())
        await asyncio.sleep(0.1)
        far_at, near_at, dropped_at = far.packets_received, near.packets_received, sfu_b.room_counters(ROOM)["dropped"]
        await asyncio.sleep(0.5)
        assert far.packets_received == far_at
        assert near.packets_received > near_at + 15
        assert sfu_b.room_counters(ROOM)["dropped"] > dropped_at + 15
        sfu_b.set_audible(ROOM, frozenset({"speaker"}))
        await wait_for(lambda: far.packets_received > far_at + 15)

        # a room B has never heard of: nothing happens, no state is created
        sfu_b.deliver("elsewhere", "speaker", relayed[-1][2])
        assert sfu_b.room_counters("elsewhere") == {"forwarded": 0, "dropped": 0, "malformed": 0}
        await asyncio.sleep(0.3)
    finally:
        await sfu_a.close()
        await sfu_b.close()
    # levels are reported by the speaker's origin only
    assert any(lv.get("speaker", 0) > 0.5 for lv in levels_a)
    assert all("speaker" not in lv for lv in levels_b)
