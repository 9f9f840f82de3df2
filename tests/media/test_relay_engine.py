"""The relay baseline engine (aiortc MediaRelay, encoded pass-through) against real clients."""

from __future__ import annotations

import pytest
from media_helpers import LOOPBACK, ROOM, connected, wait_for

from parlor.client.media import MediaSession
from parlor.media.relay_engine import RelayEngine

pytestmark = pytest.mark.media


async def test_listener_hears_an_audible_speaker_only(clients: list[MediaSession], tone_wav: str) -> None:
    engine = RelayEngine(ice_hosts=LOOPBACK)
    try:
        engine.set_audible(ROOM, frozenset({"speaker"}))
        sessions = {}
        for user_id, wav in (("speaker", tone_wav), ("tamperer", tone_wav), ("listener", None)):
            session = MediaSession(send_wav=wav, ice_hosts=LOOPBACK)
            clients.append(session)
            answer = await session.answer(await engine.open_peer(ROOM, user_id))
            await engine.accept_answer(ROOM, user_id, answer)
            sessions[user_id] = session
        listener = sessions["listener"]
        await connected(*sessions.values())
        await wait_for(lambda: listener.frames_received > 20, within=10.0)
        stats = listener.stats()
        assert stats["level"] > 0.05  # the tone, decoded: the Opus payload went through unchanged
        assert len(stats["ssrcs"]) == 1  # one slot: the tampering listener is not forwarded
        totals = engine.totals()
        assert totals["forwarded"] >= 20
        assert totals["dropped"] > 0  # the tamperer's packets
        assert engine.peer_count() == 3
    finally:
        await engine.close()
    assert engine.peer_count() == 0
