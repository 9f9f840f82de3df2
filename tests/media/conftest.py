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


@pytest.fixture(params=["c", "python"])
async def sfu(request: pytest.FixtureRequest) -> AsyncIterator[Sfu]:
    """The SFU with each fan-out: media/_fanout.c (the default when built) and the Python loop."""
    server = Sfu(ice_hosts=LOOPBACK, fanout=request.param)
    assert server.fanout == request.param
    yield server
    await server.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[MediaSession]]:
    made: list[MediaSession] = []
    yield made
    for c in made:
        await c.close()
