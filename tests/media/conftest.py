"""Fixtures for the media tests: real aiortc peers over loopback.

Run inside a private network namespace where only `lo` exists:
    unshare -n sh -c 'ip link set lo up; python -m pytest tests/media -q'
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from media_helpers import LOOPBACK, write_tone

from parlor.client.media import MediaSession
from parlor.media.sfu import Sfu


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_tone(tmp_path_factory.mktemp("wav") / "tone.wav")


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    server = Sfu(ice_hosts=LOOPBACK)
    yield server
    await server.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[MediaSession]]:
    made: list[MediaSession] = []
    yield made
    for c in made:
        await c.close()
